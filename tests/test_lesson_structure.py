"""Every lesson meets the definition of done in DESIGN.md, whatever lessons exist."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import pytest
from lesson_runner import Lesson, grade_cell_of, lesson_ids, mistake_table

from grader.course import REPO

LESSONS = lesson_ids()


@pytest.fixture(params=LESSONS)
def lesson(request) -> Lesson:
    return Lesson.load(request.param)


def total_points(lesson: Lesson) -> int:
    return sum(c.nbgrader.get("points", 0) for c in lesson.cells if c.nbgrader.get("grade"))


@dataclass(frozen=True)
class Shape:
    """What a lesson announces: its cells, its points and its minutes (one row per lesson)."""

    grade_cells: int
    exercises: int
    """'## Exercise' headings (an exercise may have two grade cells, '2 + 2 points')."""
    written: int
    autograded: int
    manual: int
    minutes: int
    """The sum of the exercise headings' 'about N min'."""
    closing_states_points: bool = False


SHAPES = {
    "01_bandits": Shape(9, 8, 1, 24, 3, 160),
    "02_mdps": Shape(10, 9, 2, 29, 6, 150),
    "03_reinforce": Shape(11, 10, 3, 28, 6, 180),
    "04_actor_critic": Shape(9, 8, 2, 26, 4, 165),
    "05_td": Shape(12, 10, 2, 30, 4, 205, closing_states_points=True),
    "06_ppo_rlhf": Shape(8, 7, 1, 20, 2, 130, closing_states_points=True),
    "07_rlhf": Shape(8, 7, 1, 17, 2, 95, closing_states_points=True),
}


def exercise_headings(lesson: Lesson) -> list[str]:
    return [
        line
        for c in lesson.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("## Exercise")
    ]


def time_phrases(minutes: int) -> list[str]:
    """How an introduction may say a number of minutes: '150 minutes', '2 hours and 30'..."""
    hours, rest = divmod(minutes, 60)
    unit = "hour" if hours == 1 else "hours"
    if rest == 0:
        return [f"{minutes} minutes", f"{hours} {unit}"]
    return [f"{minutes} minutes", f"{hours} {unit} {rest}", f"{hours} {unit} and {rest}"]


def test_points_cells_and_minutes_are_as_announced(lesson):
    """The lesson's row of SHAPES: counts, points in the introduction and headings, minutes."""
    shape = SHAPES.get(lesson.lesson_id)
    assert shape, f"add {lesson.lesson_id}'s row to SHAPES in tests/test_lesson_structure.py"
    tests = [c for c in lesson.cells if c.is_grade_test]
    written = [c for c in lesson.cells if c.is_written_answer]
    autograded = sum(c.nbgrader["points"] for c in tests)
    manual = sum(c.nbgrader["points"] for c in written)
    headings = exercise_headings(lesson)
    assert (len(tests), len(headings), len(written)) == (
        shape.grade_cells,
        shape.exercises,
        shape.written,
    )
    assert (autograded, manual) == (shape.autograded, shape.manual)
    intro = lesson.cells[0].source
    total = f"Points: {autograded + manual}"
    assert total in intro and f"{autograded} autograded" in intro, intro[:400]
    announced = sum(
        sum(int(p) for p in re.search(r"\((\d+(?: \+ \d+)?) points?", h).group(1).split(" + "))
        for h in headings
    )
    assert announced == autograded, "the exercise headings' points add up to the autograded total"
    minutes = sum(int(re.search(r"about (\d+) min", h).group(1)) for h in headings)
    assert minutes == shape.minutes, "the headings' minutes add up to what the lesson says"
    flat = " ".join(intro.split())
    assert any(phrase in flat for phrase in time_phrases(minutes)), (
        f"the introduction should say the exercises take {time_phrases(minutes)[-1]}"
    )
    if shape.closing_states_points:
        assert total in lesson.cells[-1].source, "the closing note states the points"


def test_at_least_six_autograded_exercises_with_hidden_tests(lesson):
    tests = [c for c in lesson.code_cells if c.is_grade_test]
    assert len(tests) >= 6, f"{lesson.lesson_id}: {len(tests)} autograded test cells"
    for cell in tests:
        assert cell.nbgrader.get("points", 0) > 0, f"{cell.grade_id} carries no points"
        assert "### BEGIN HIDDEN TESTS" in cell.source, f"{cell.grade_id} has no hidden tests"
        assert cell.source.lstrip().startswith('"""'), (
            f"{cell.grade_id} should open with a one-line docstring of what it checks"
        )


def test_at_least_one_written_answer(lesson):
    written = [c for c in lesson.cells if c.is_written_answer]
    assert written, f"{lesson.lesson_id} has no manually graded written answer"


def test_grade_ids_are_unique(lesson):
    ids = [c.grade_id for c in lesson.cells if c.grade_id]
    assert len(ids) == len(set(ids)), f"duplicate grade_ids in {lesson.lesson_id}"


def test_introduction_states_goals_points_and_time(lesson):
    intro = lesson.cells[0].source
    assert lesson.cells[0].cell_type == "markdown"
    assert re.search(r"\bgoals?\b", intro, re.I), "the introduction should state the goals"
    total = total_points(lesson)
    assert re.search(rf"\bpoints?\W{{0,4}}{total}\b|\b{total}\s+points?\b", intro, re.I), (
        f"the introduction should state the lesson's {total} points ('{total} points' or "
        f"'Points: {total}')"
    )
    assert re.search(r"\b(minutes?|hours?)\b", intro), "the introduction should say how long"
    assert "Validate" in intro and "hidden" in intro, "explain Validate vs hidden tests"


HEADING = re.compile(
    r"^## Exercise \d+: .+ \((\d+(?: \+ \d+)?) points?, about \d+ min, (easy|medium|hard)\)\s*$"
)
NOTATION_BOX = re.compile(r"<!-- notation box -->\n(.*?)\n<!-- end notation box -->", re.S)


def exercises(lesson: Lesson) -> dict[str, str]:
    """{exercise heading: the markdown of its section, up to the next exercise}."""
    sections, heading = {}, None
    for cell in lesson.cells:
        for line in cell.source.splitlines() if cell.cell_type == "markdown" else []:
            if line.startswith("## "):
                heading = line if line.startswith("## Exercise") else None
                if heading:
                    sections[heading] = ""
        if heading and cell.cell_type == "markdown":
            sections[heading] += cell.source + "\n"
    return sections


def test_exercise_headings_state_points_time_and_difficulty(lesson):
    headings = list(exercises(lesson))
    assert len(headings) >= 6
    for heading in headings:
        assert HEADING.match(heading), (
            f"{lesson.lesson_id}: {heading!r} should end with "
            "'(k points, about M min, easy|medium|hard)'"
        )


def test_every_exercise_has_a_hint_to_open(lesson):
    for heading, markdown in exercises(lesson).items():
        assert re.search(r"<details>\s*<summary>.*?</summary>.+?</details>", markdown, re.S), (
            f"{lesson.lesson_id}: {heading!r} has no <details><summary>Hint</summary> block"
        )


def test_one_debugging_exercise(lesson):
    debugging = [h for h in exercises(lesson) if "debugging" in h.lower()]
    assert len(debugging) == 1, f"{lesson.lesson_id}: debugging exercises: {debugging}"


def test_notation_box_is_the_same_in_every_lesson(lesson):
    box = NOTATION_BOX.search((REPO / "AUTHORING.md").read_text()).group(1).strip()
    boxes = [c for c in lesson.cells if c.cell_type == "markdown" and "**Notation.**" in c.source]
    assert boxes, f"{lesson.lesson_id} has no notation box (AUTHORING.md gives it)"
    assert boxes[0].source.strip() == box, (
        f"{lesson.lesson_id}'s notation box differs from the one in AUTHORING.md"
    )


def test_introduction_states_the_partial_credit_rule(lesson):
    assert "partial credit" in lesson.cells[0].source.lower(), (
        f"{lesson.lesson_id}'s introduction should state the partial-credit rule"
    )


def test_at_least_two_plots(lesson):
    shows = sum(c.source.count("plt.show()") for c in lesson.code_cells)
    assert shows >= 2, f"{lesson.lesson_id} shows {shows} plots"


def test_visible_tests_import_what_they_use(lesson):
    """A grade cell must not depend on the set-up cell's imports, which a student may shadow."""
    for cell in lesson.code_cells:
        if cell.is_grade_test:
            visible = ast.parse(cell.source.split("### BEGIN HIDDEN TESTS")[0])
            imports = [n for n in visible.body if isinstance(n, ast.Import | ast.ImportFrom)]
            assert imports, f"{cell.grade_id} imports nothing itself"


def test_every_answer_has_its_test_cell_and_mistakes(lesson):
    """Each answer cell is graded by `test_<its id>` and has rows in tests/mistakes/<lesson>.py."""
    table = mistake_table(lesson.lesson_id)
    for answer_id in lesson.answer_ids:
        assert grade_cell_of(answer_id) in lesson.grade_test_ids, (
            f"{lesson.lesson_id}: answer cell {answer_id!r} has no grade cell "
            f"{grade_cell_of(answer_id)!r}"
        )
        assert table.mistakes.get(answer_id), (
            f"{lesson.lesson_id}: answer cell {answer_id!r} has no typical mistake in "
            f"tests/mistakes/{lesson.lesson_id}.py"
        )
    stale = set(table.mistakes) - set(lesson.answer_ids)
    assert not stale, f"tests/mistakes/{lesson.lesson_id}.py names no answer cell: {stale}"
    assert set(table.cheap) <= set(lesson.grade_test_ids), "CHEAP names unknown grade cells"


def test_training_exercises_are_swept_over_10_seeds(lesson):
    """Every `train_*` exercise's real grade cell is re-run on at least 10 seeds."""
    sweeps = mistake_table(lesson.lesson_id).seed_sweeps
    for answer_id in lesson.answer_ids:
        if answer_id.startswith("train_"):
            assert sweeps.get(grade_cell_of(answer_id), 0) >= 10, (
                f"{lesson.lesson_id}: {grade_cell_of(answer_id)} needs SEED_SWEEPS of 10 or more"
            )


VISIBLE_SHARE = 0.8


def test_validate_catches_most_typical_mistakes(lesson):
    """At least 80 % of a lesson's mistake rows fail the visible tests (what Validate runs).

    test_lesson_mistakes.py proves each row's claim; a row that only the hidden
    tests catch says why in its fourth item.
    """
    table = mistake_table(lesson.lesson_id)
    hidden = [f"{row.new!r}: {row.hidden_only}" for row in table.rows if row.hidden_only]
    assert table.visible_share() >= VISIBLE_SHARE, (
        f"{lesson.lesson_id}: the visible tests catch {table.visible_share():.0%} of the "
        f"mistake table's rows (at least {VISIBLE_SHARE:.0%} needed); hidden only:\n"
        + "\n".join(hidden)
    )


def test_every_grade_cell_prints_its_pass_line(lesson):
    """The visible part of each grade cell ends with `checks_passed(...)` (rlhelpers.testing),
    so a student tells a cell that ran to its end from one whose output is empty."""
    for cell in lesson.code_cells:
        if not cell.is_grade_test:
            continue
        visible = ast.parse(cell.source.split("### BEGIN HIDDEN TESTS")[0])
        calls = [
            node.value.func.id
            for node in visible.body
            if isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
        ]
        assert calls and calls[-1] == "checks_passed", (
            f"{lesson.lesson_id}: {cell.grade_id}'s visible checks should end with "
            'checks_passed("<what>") (from rlhelpers.testing)'
        )
