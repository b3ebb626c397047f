"""`make validate` (grader.validate): one line per exercise first, then nbgrader's details.

On the fixture course's release, half finished: exercise 1 holds the
reference answer, exercise 2 is left as released (not attempted), or holds a
wrong answer (failed, with its test's first message).
"""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from course_tools import FIXTURE_COURSE, instructor, make_course, released

from grader import course, grading, release, validate
from grader.nbgrader_cli import nbgrader_env

FIXTURE = "00_fixture"
WRONG_GREEDY = "def greedy_action(q_values):\n    return float(max(q_values))\n"


@pytest.fixture(scope="module")
def fixture_course(tmp_path_factory):
    root = make_course(tmp_path_factory.mktemp("validate"), FIXTURE_COURSE)
    release.release(root)
    return root


def half_finished(root, answers: dict[str, str | None]) -> nbformat.NotebookNode:
    """The release with some answer cells set: {grade_id: source, or None for the reference}."""
    notebook = released(root, FIXTURE)
    reference = grading.fill_answers(notebook, instructor(root, FIXTURE))
    for cell, filled in zip(notebook.cells, reference.cells, strict=True):
        if course.grade_id(cell) in answers:
            cell.source = answers[course.grade_id(cell)] or filled.source
    return notebook


def run_validate(root, notebook: nbformat.NotebookNode, name: str) -> list[str]:
    """`python -m grader.validate` on a copy of the notebook, as `make validate` runs it."""
    path = course.release_path(root, FIXTURE).with_name(f"{name}.ipynb")
    nbformat.write(notebook, path)
    done = subprocess.run(
        [sys.executable, "-m", "grader.validate", str(path)],
        cwd=root,
        capture_output=True,
        text=True,
        env=nbgrader_env(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def test_summary_of_a_half_finished_notebook(fixture_course):
    lines = run_validate(
        fixture_course, half_finished(fixture_course, {"discounted_sum": None}), "half"
    )
    assert lines[:4] == [
        "Summary: 1 of 2 exercises pass the visible tests, 0 fail, 1 not attempted "
        "(the hidden tests decide the grade)",
        "  passed         Exercise 1: a discounted sum",
        "  not attempted  Exercise 2: greedy action",
        "",
    ], lines
    assert any("VALIDATION FAILED" in line for line in lines[4:]), "the details follow"
    assert any("The following cell failed" in line for line in lines), lines


def test_summary_names_the_first_message_of_a_failed_exercise(fixture_course):
    notebook = half_finished(
        fixture_course, {"discounted_sum": None, "greedy_action": WRONG_GREEDY}
    )
    lines = run_validate(fixture_course, notebook, "wrong")
    assert lines[0].startswith("Summary: 1 of 2 exercises pass the visible tests, 1 fail, 0 not"), (
        lines
    )
    failed = [line for line in lines[1:3] if line.split()[0] == validate.FAILED]
    assert len(failed) == 1 and "Exercise 2: greedy action: " in failed[0], lines[:3]
    assert "greedy_action([0.1, 0.7, 0.2])" in failed[0], "the test's own message, first line"
