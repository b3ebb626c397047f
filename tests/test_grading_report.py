"""The class report on a class graded for real: the demo's students on the fixture course
(graded serially), plus a student who wrote her own answers (with recorded cell timing) and
one who copied them (graded by two parallel workers).

Its numbers are checked: the pinned grades, the credit shares, the failing checks grouped,
the grading problems, the copied pair flagged and the honest pairs not, the minutes.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from course_tools import FIXTURE_COURSE, NEEDS_SANDBOX
from grading_corpus import FIXTURE, grading_limits
from test_report_parts import OWN_WORDS, RENAMED_COPY

from grader import autograde, course, grading
from grader.demo import classroom
from grader.report import build, page, records

pytestmark = NEEDS_SANDBOX

KINDS = ["perfect", "partial", "untouched", "exception", "infinite_loop"]
PINNED = {  # student: (score, max) of the fixture lesson (max counts the written answer)
    "perfect": (5, 6),
    "partial": (2, 6),
    "untouched": (0, 6),
    "exception": (3, 6),
    "infinite_loop": (3, 6),
    "own_words": (5, 6),
    "copier": (5, 6),
}
OWN_TIMES = {  # grade_id: (start, end) of the cell's last run, 2026-03-02 UTC
    "discounted_sum": ("10:00", "10:01"),
    "test_discounted_sum": ("10:09", "10:10"),
    "greedy_action": ("10:15", "10:16"),
    "test_greedy_action": ("11:00", "11:01"),  # after a 44-minute break: cut
}
OWN_MINUTES = {"Exercise 1: a discounted sum": 10, "Exercise 2: greedy action": 2}


def functions(source: str) -> dict[str, str]:
    """{function name: its source} of a text of top-level functions."""
    parts = re.split(r"\n(?=def )", source.strip())
    return {part.split("(")[0].removeprefix("def "): part for part in parts}


def handed_in(root: Path, answers: str, timed: bool) -> nbformat.NotebookNode:
    """The release with `answers` in its answer cells, the runs of OWN_TIMES recorded."""
    notebook = nbformat.read(course.release_path(root, FIXTURE), as_version=4)
    by_name = functions(answers)
    for cell in notebook.cells:
        grade_id = course.grade_id(cell)
        if cell.cell_type == "code" and course.is_answer(cell):
            cell.source = by_name[grade_id]
        if timed and grade_id in OWN_TIMES:
            start, end = OWN_TIMES[grade_id]
            cell.metadata["execution"] = {
                "iopub.execute_input": f"2026-03-02T{start}:00Z",
                "shell.execute_reply": f"2026-03-02T{end}:00Z",
            }
    return notebook


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    with grading_limits():
        result = classroom.run_demo(
            FIXTURE_COURSE, tmp_path_factory.mktemp("report"), kinds=KINDS, echo=lambda *a: None
        )
        root = result.root
        grading.submit(root, "own_words", FIXTURE, handed_in(root, OWN_WORDS, timed=True))
        grading.submit(root, "copier", FIXTURE, handed_in(root, RENAMED_COPY, timed=False))
        # these two through the parallel path: the report reads what either records
        autograde.autograde(root, [FIXTURE], echo=lambda *a: None, workers=2)
    return root


@pytest.fixture(scope="module")
def record(graded_class) -> records.ClassRecord:
    return records.read_class(graded_class)


@pytest.fixture(scope="module")
def report(graded_class, record) -> page.LessonReport:
    return build.lesson_report(graded_class, record, FIXTURE)


def test_the_report_has_the_pinned_grades(record):
    assert {s.student: (s.score, s.max_score) for s in record.submissions} == PINNED


def test_credit_shares_per_exercise(record, report):
    first = report.items[0]
    points = [page.item_points(first, s) for s in record.submissions]
    assert page.credit_shares(points) == "full 4 (57 %), partial 0 (0 %), none 3 (43 %)"


def test_failing_checks_are_grouped_with_their_students(report):
    groups = {g.message: g.students for g in report.groups["test_discounted_sum"]}
    assert groups == {
        "NameError: name 'discounted_sum' is not defined": ("exception", "infinite_loop"),
        "NotImplementedError:": ("untouched",),
    }


def test_grading_problems_are_listed_for_a_look_by_hand(record):
    problems = {s.student: s.problems for s in record.submissions if s.problems}
    assert problems == {"infinite_loop": ["a cell ran out of time"]}


def test_the_copied_pair_is_flagged_and_honest_pairs_are_not(report):
    pairs = {(p.first, p.second) for p in report.pairs}
    assert ("copier", "own_words") in pairs
    assert not {("own_words", "perfect"), ("copier", "perfect")} & pairs


def test_recorded_timing_gives_the_minutes(record):
    (own,) = [s for s in record.submissions if s.student == "own_words"]
    assert own.minutes == pytest.approx(OWN_MINUTES)
    timed = {s.student for s in record.submissions if s.minutes}
    assert timed == {"own_words", "perfect", "partial"}, "the demo's timed students too"


def test_the_page_shows_all_four_parts(graded_class, tmp_path):
    target = build.build(graded_class, out=tmp_path / "report.html")
    text = target.read_text()
    for heading in (
        "1. Exercises",
        "2. Time on task",
        "3. Look at by hand",
        "4. Students x lessons",
    ):
        assert heading in text
    assert "never changes a grade" in text
    assert text.count("<img") >= 5, "histograms, the minutes plot and the heat map"
    assert "copier" in text and "own_words" in text
