"""An instructor opens the formgrader from JupyterLab's Nbgrader menu.

On a fresh clone (a throw-away copy of the course: the committed notebooks,
no gradebook), `make instructor-lab` releases before it opens, so the
formgrader's Manage Assignments table lists every lesson and its Manual
Grading table gives each lesson's points: the sum of the points of its
graded cells. Screenshots: build/screenshots/formgrader-*.png.
"""

from __future__ import annotations

import re
import time

import browser_tools
import nbformat
import pytest
from browser_tools import UI_WAIT_S
from playwright.sync_api import Error as PlaywrightError

from grader import course

pytestmark = [pytest.mark.browser, pytest.mark.slow, browser_tools.NEEDS_CHROMIUM]


@pytest.fixture(scope="module")
def instructor_lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("instructor")
    root = browser_tools.throwaway_course(tmp)
    yield from browser_tools.serve(root, tmp, instructor=True)


def table_rows(frame) -> dict[str, list[str]]:
    """The rows of the formgrader's table now, by their first column ({} while it loads)."""
    try:
        rows = frame.locator("table tbody tr:not(:has-text('Loading'))").evaluate_all(
            "rows => rows.map(r => [...r.querySelectorAll('td')].map(td => td.innerText.trim()))"
        )
    except PlaywrightError:  # the frame is between two pages
        return {}
    return {row[0]: row[1:] for row in rows if row}


def rows_once_listed(frame, lessons: list[str], done=lambda row: True) -> dict[str, list[str]]:
    """The table's rows once every lesson has a row that is `done`, or after UI_WAIT_S.

    (The formgrader fills its tables in as its requests come back.)
    """
    return browser_tools.poll(
        lambda: table_rows(frame),
        lambda rows: all(lesson in rows and done(rows[lesson]) for lesson in lessons),
        UI_WAIT_S,
    )


def test_formgrader_lists_the_lessons_with_their_points(
    instructor_lab, page, screenshots, record_property
):
    started = time.monotonic()
    lessons = course.lesson_ids(instructor_lab.root)
    assert lessons, "the course has no lessons"
    page.goto(instructor_lab.url("/lab"))
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Nbgrader$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Formgrader$")).click()
    formgrader = page.frame_locator("iframe").first

    assignments = rows_once_listed(formgrader, lessons)
    shot = screenshots / "formgrader-assignments.png"
    page.screenshot(path=shot)
    record_property("screenshot", str(shot.relative_to(browser_tools.REPO)))
    missing = [lesson_id for lesson_id in lessons if lesson_id not in assignments]
    assert not missing, f"Manage Assignments does not list {missing}: {assignments}"

    formgrader.get_by_role("link", name="Manual Grading").first.click()
    formgrader.locator("table thead", has_text="Score").wait_for()
    scores = rows_once_listed(
        formgrader, lessons, done=lambda row: bool(row) and re.search(r"\d / \d", row[-1])
    )
    shot = screenshots / "formgrader-points.png"
    page.screenshot(path=shot)
    record_property("screenshot", str(shot.relative_to(browser_tools.REPO)))
    for lesson_id in lessons:
        instructor = nbformat.read(
            course.instructor_path(instructor_lab.root, lesson_id), as_version=4
        )
        points = course.total_points(instructor)
        assert points > 0, f"{lesson_id} has no graded cells"
        assert lesson_id in scores, f"Manual Grading does not list {lesson_id}: {scores}"
        shown = scores[lesson_id][-1]  # the Score column: "average / max"
        assert re.fullmatch(rf"0 / {points:g}", shown), (
            f"the formgrader shows {lesson_id}'s score as {shown!r}, not 0 / {points:g}"
        )
    assert "Unwritable directory" not in instructor_lab.log(), instructor_lab.log()[-3000:]
    record_property("wall time", f"{time.monotonic() - started:.0f} s")
