"""`make lab` (a student learning alone) and `make instructor-lab`, asked over HTTP.

The servers are `python -m grader.lab [--instructor]` (what the Makefile runs),
started and asked as the browser tests do (browser/browser_tools.py: every
request is retried until a deadline of minutes, so a busy machine makes the
test slow, not failed). The student's lab serves the repository itself; the
instructor's releases, so it runs on a fresh copy of the course (its notebooks
as committed, no gradebook: a fresh clone).
"""

from __future__ import annotations

import json
import re
import urllib.error

import nbformat
import pytest
from browser import browser_tools

from grader import bundle, course, lab

EXCHANGE_ERROR = "Unwritable directory"


@pytest.fixture(scope="module")
def student_lab(tmp_path_factory):
    yield from browser_tools.serve(course.REPO, tmp_path_factory.mktemp("lab"))


@pytest.fixture(scope="module")
def instructor_lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("instructor-lab")
    root = browser_tools.throwaway_course(tmp)
    yield from browser_tools.serve(root, tmp, instructor=True)


def status_of(server, path: str) -> int:
    try:
        return server.get(path)[0]
    except urllib.error.HTTPError as error:
        return error.code


def test_lab_opens_on_the_student_notebooks(student_lab):
    status, _, landed_on = student_lab.get("/")
    assert status == 200
    assert "/lab/tree/notebooks" in landed_on, f"the browser opens {landed_on}, not notebooks/"


def test_nbgrader_lab_extension_is_installed(student_lab):
    names = {extension["name"] for extension in student_lab.get_json("/lab/api/extensions")}
    assert "jupyter-nbgrader" in names, names


def test_validate_server_extension_answers(student_lab):
    status, body, _ = student_lab.get("/nbgrader_version?version=0.9.6")
    assert status == 200 and json.loads(body)["success"], body


def test_student_lab_has_no_instructor_or_exchange_tools(student_lab):
    """No formgrader, create-assignment or assignment list: nothing asks for an exchange."""
    _, page, _ = student_lab.get("/lab")
    config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S)[1])
    disabled = set(config.get("disabledExtensions", []))
    plugins = bundle.INSTRUCTOR_PLUGINS + bundle.EXCHANGE_PLUGINS
    assert set(plugins) <= disabled, f"still enabled: {set(plugins) - disabled}"
    assert "@jupyter/nbgrader:validate-assignment" not in disabled
    for api in ("/formgrader/api/assignments", "/assignments", "/courses"):
        assert status_of(student_lab, api) == 404, f"{api} answers in the student's lab"
    assert EXCHANGE_ERROR not in student_lab.log(), student_lab.log()[-3000:]


def test_notebooks_are_served_as_their_kernel_reports_them(student_lab):
    """A notebook opens with the kernel's language_info: JupyterLab has nothing to rewrite."""
    lesson = course.lesson_ids()[0]
    path = course.release_path(course.REPO, lesson).relative_to(course.REPO)
    served = student_lab.get_json(f"/api/contents/{path}?content=1")["content"]["metadata"]
    assert served["language_info"] == lab.kernel_language_info()
    on_disk = nbformat.read(course.REPO / path, as_version=4).metadata
    assert on_disk["language_info"] == {"name": "python"}, "the file itself is unchanged"


def test_student_lab_records_cell_timing(student_lab):
    """JupyterLab's recordTiming is on (the class report's time on task), by its own overrides."""
    plugin = "@jupyterlab/notebook-extension:tracker"
    settings = student_lab.get_json(f"/lab/api/settings/{plugin}")
    assert settings["schema"]["properties"]["recordTiming"]["default"] is True


def test_instructor_lab_lists_every_lesson_with_its_points(instructor_lab):
    """A fresh clone's formgrader: every lesson, with the points of its graded cells."""
    listed = {a["name"]: a for a in instructor_lab.get_json("/formgrader/api/assignments")}
    for lesson_id in course.lesson_ids(instructor_lab.root):
        assert lesson_id in listed, f"the formgrader does not list {lesson_id}: {sorted(listed)}"
        notebook = nbformat.read(course.release_path(instructor_lab.root, lesson_id), as_version=4)
        points = course.total_points(notebook)
        assert points > 0, f"{lesson_id} has no graded cells"
        assert listed[lesson_id]["max_score"] == points, (lesson_id, listed[lesson_id])


def test_instructor_lab_makes_the_exchange(instructor_lab):
    assert instructor_lab.exchange.is_dir(), f"no exchange at {instructor_lab.exchange}"
    assert EXCHANGE_ERROR not in instructor_lab.log(), instructor_lab.log()[-3000:]
