"""A student's first minutes: `make lab` on a fresh clone, in a real browser.

The lab opens on notebooks/ with no Nbgrader menu (no formgrader, no
assignment list: nothing that needs an exchange, so no exchange error in the
terminal), and the first lesson opens with its kernel and no unsaved-changes
dot before any edit. Screenshots: build/screenshots/student-first-*.png.
"""

from __future__ import annotations

import re

import browser_tools
import pytest

from grader import course

pytestmark = [pytest.mark.browser, pytest.mark.slow, browser_tools.NEEDS_CHROMIUM]

EXCHANGE_ERROR = "Unwritable directory"


@pytest.fixture(scope="module")
def fresh_clone_lab(tmp_path_factory):
    """`make lab` on a copy of the course as cloned: the committed notebooks, no grader/work."""
    tmp = tmp_path_factory.mktemp("first-page")
    yield from browser_tools.serve(browser_tools.throwaway_course(tmp), tmp)


def test_first_page_shows_the_lessons_and_no_instructor_tools(
    fresh_clone_lab, page, screenshots, record_property
):
    page.goto(fresh_clone_lab.url("/"))  # what `make lab` opens: /lab/tree/notebooks
    listing = page.locator(".jp-DirListing-content .jp-DirListing-itemName")
    lessons = course.lesson_ids(fresh_clone_lab.root)
    browser_tools.poll(listing.all_inner_texts, lambda names: set(lessons) <= set(names), 300)
    shot = screenshots / "student-first-page.png"
    page.mouse.move(0, 0)
    page.screenshot(path=shot)
    record_property("screenshot", str(shot.relative_to(browser_tools.REPO)))
    assert set(lessons) <= set(listing.all_inner_texts()), "the lab does not open on notebooks/"
    menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
    assert "File" in menus and "Nbgrader" not in menus, menus


def test_a_lesson_opens_with_no_unsaved_changes(
    fresh_clone_lab, page, screenshots, record_property
):
    lesson = course.lesson_ids(fresh_clone_lab.root)[0]
    path = course.release_path(fresh_clone_lab.root, lesson).relative_to(fresh_clone_lab.root)
    notebook = browser_tools.Notebook(page, fresh_clone_lab, str(path))  # its kernel is idle
    notebook.settle()
    shot = notebook.screenshot(screenshots / "student-first-notebook.png")
    record_property("screenshot", str(shot.relative_to(browser_tools.REPO)))
    tab = page.locator(".lm-TabBar-tab.jp-mod-current").first
    assert re.search(re.escape(path.name), tab.inner_text()), tab.inner_text()
    assert not notebook.dirty(), "the notebook shows unsaved changes before any edit"
    assert page.locator(".jp-NotebookPanel-toolbar .validate-button").count() == 1
    assert EXCHANGE_ERROR not in fresh_clone_lab.log(), fresh_clone_lab.log()[-3000:]
