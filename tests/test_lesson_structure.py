"""Every lesson meets the definition of done in DESIGN.md, whatever lessons exist."""

from __future__ import annotations

import re

import pytest
from lesson_runner import Lesson, lesson_ids

LESSONS = lesson_ids()


@pytest.fixture(params=LESSONS)
def lesson(request) -> Lesson:
    return Lesson.load(request.param)


def total_points(lesson: Lesson) -> int:
    return sum(c.nbgrader.get("points", 0) for c in lesson.cells if c.nbgrader.get("grade"))


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
    written = [c for c in lesson.cells if c.cell_type == "markdown" and c.nbgrader.get("grade")]
    assert written, f"{lesson.lesson_id} has no manually graded written answer"


def test_grade_ids_are_unique(lesson):
    ids = [c.grade_id for c in lesson.cells if c.grade_id]
    assert len(ids) == len(set(ids)), f"duplicate grade_ids in {lesson.lesson_id}"


def test_introduction_states_goals_points_and_time(lesson):
    intro = lesson.cells[0].source
    assert lesson.cells[0].cell_type == "markdown"
    assert re.search(r"\bgoals?\b", intro, re.I), "the introduction should state the goals"
    assert str(total_points(lesson)) in intro, (
        f"the introduction should state the lesson's {total_points(lesson)} points"
    )
    assert re.search(r"\b(minutes?|hours?)\b", intro), "the introduction should say how long"
    assert "Validate" in intro and "hidden" in intro, "explain Validate vs hidden tests"


def test_exercise_headings_state_their_points(lesson):
    headings = [
        line
        for c in lesson.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("## Exercise")
    ]
    assert len(headings) >= 6
    for heading in headings:
        assert re.search(r"\(\d+.*points?\)\s*$", heading), f"no points in {heading!r}"


def test_at_least_two_plots(lesson):
    shows = sum(c.source.count("plt.show()") for c in lesson.code_cells)
    assert shows >= 2, f"{lesson.lesson_id} shows {shows} plots"


def test_visible_tests_import_what_they_use(lesson):
    """A grade cell must not depend on the set-up cell's imports, which a student may shadow."""
    for cell in lesson.code_cells:
        if cell.is_grade_test:
            visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
            assert "import " in visible, f"{cell.grade_id} imports nothing itself"
