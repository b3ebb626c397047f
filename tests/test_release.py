"""The release round trip, proven on a small fixture course and on every lesson."""

from __future__ import annotations

import filecmp
import shutil

import nbformat
import pytest
from course_tools import (
    FIXTURE_COURSE,
    REPO,
    grade_perfect_and_untouched,
    grade_test_ids,
    instructor,
    make_course,
    notebook_text,
    released,
    secret_lines,
    solution_regions,
)

from grader import grading, release
from grader.nbgrader_cli import run_nbgrader

LESSONS = release.lesson_ids(REPO, optional=True)  # every released lesson
FIXTURE = "00_fixture"


@pytest.fixture(scope="module")
def fixture_course(tmp_path_factory):
    root = make_course(tmp_path_factory.mktemp("fixture"), FIXTURE_COURSE)
    release.release(root)
    return root


def test_release_is_deterministic(fixture_course, tmp_path):
    first = fixture_course / "notebooks" / FIXTURE / f"{FIXTURE}.ipynb"
    kept = tmp_path / "first.ipynb"
    shutil.copy(first, kept)
    release.release(fixture_course)
    assert filecmp.cmp(kept, first, shallow=False), "releasing twice changed the notebook"


def test_release_has_stubs_and_no_secrets(fixture_course):
    source = (fixture_course / "solutions" / FIXTURE / f"{FIXTURE}.py").read_text()
    text = notebook_text(released(fixture_course, FIXTURE))
    assert "raise NotImplementedError()" in text
    assert "YOUR ANSWER HERE" in text
    secrets = secret_lines(source)
    assert secrets, "the fixture should have solution lines to look for"
    assert not [line for line in secrets if line in text]
    assert not list((fixture_course / "notebooks").rglob("*.py")), "a .py source was released"


def test_fixture_round_trip_grades(fixture_course):
    scores = grade_perfect_and_untouched(fixture_course, FIXTURE)
    tests = grade_test_ids(instructor(fixture_course, FIXTURE))
    assert tests == ["test_discounted_sum", "test_greedy_action"]
    assert {t: scores["perfect"][t] for t in tests} == {
        "test_discounted_sum": 2,
        "test_greedy_action": 3,
    }
    assert sum(scores["untouched"].values()) == 0


def test_validate_gives_the_verdict(fixture_course):
    """`make validate` runs nbgrader validate: success for answers, failure for stubs."""
    lesson_dir = fixture_course / "notebooks" / FIXTURE
    filled = grading.fill_answers(
        released(fixture_course, FIXTURE), instructor(fixture_course, FIXTURE)
    )
    good = lesson_dir / "good.ipynb"
    nbformat.write(filled, good)
    ok = run_nbgrader(["validate", str(good)], fixture_course, check=False)
    assert "Success! Your notebook passes all the tests." in ok.stdout, ok.stdout + ok.stderr
    bad = run_nbgrader(
        ["validate", str(lesson_dir / f"{FIXTURE}.ipynb")], fixture_course, check=False
    )
    assert "NotImplementedError" in bad.stdout, bad.stdout + bad.stderr


def test_committed_notebooks_are_the_release(tmp_path):
    """notebooks/ is exactly what `make release` generates from solutions/."""
    committed = sorted(p.name for p in (REPO / "notebooks").iterdir() if p.is_dir())
    assert committed == LESSONS, "notebooks/ and solutions/ list different lessons"
    root = make_course(tmp_path, lessons=LESSONS)
    release.release(root)
    for lesson_id in LESSONS:
        name = f"{lesson_id}/{lesson_id}.ipynb"
        assert filecmp.cmp(root / "notebooks" / name, REPO / "notebooks" / name, shallow=False), (
            f"notebooks/{name} is stale: run `make release` and commit it"
        )
        files = sorted(p.name for p in (REPO / "notebooks" / lesson_id).iterdir())
        assert files == [f"{lesson_id}.ipynb"], (
            f"unexpected files in notebooks/{lesson_id}: {files}"
        )


@pytest.mark.parametrize("lesson_id", LESSONS)
def test_no_solution_reaches_notebooks(lesson_id):
    source = (REPO / "solutions" / lesson_id / f"{lesson_id}.py").read_text()
    notebook = nbformat.read(REPO / "notebooks" / lesson_id / f"{lesson_id}.ipynb", as_version=4)
    text = notebook_text(notebook)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text, f"{lesson_id}: {marker!r} reached the student notebook"
    leaked = [line for line in secret_lines(source) if line in text]
    assert not leaked, f"{lesson_id}: solution or hidden-test lines in notebooks/: {leaked[:5]}"
    assert not any(c.get("outputs") for c in notebook.cells if c.cell_type == "code")


GIVEN_AWAY = 0.8
"""The share of an answer's telling lines that, found in another notebook, gives it away."""


@pytest.mark.parametrize("lesson_id", LESSONS)
def test_no_lesson_gives_away_another_lessons_answers(lesson_id):
    """A later lesson that needs an earlier answer asks for the student's own, never prints ours.

    Lines an answer shares with given code elsewhere (a debugging exercise's buggy copy) are
    common; an answer found whole (GIVEN_AWAY of its lines) in another notebook is a leak.
    """
    notebook = nbformat.read(REPO / "notebooks" / lesson_id / f"{lesson_id}.ipynb", as_version=4)
    text = notebook_text(notebook)
    for other in LESSONS:
        if other == lesson_id:
            continue
        source = (REPO / "solutions" / other / f"{other}.py").read_text()
        for region in solution_regions(source):
            found = sorted(line for line in region if line in text)
            assert len(region) < 3 or len(found) < GIVEN_AWAY * len(region), (
                f"notebooks/{lesson_id} holds an answer of {other}: {found[:4]}"
            )
