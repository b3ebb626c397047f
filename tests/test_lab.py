"""`make lab` serves JupyterLab with nbgrader's extensions loaded.

The server is `python -m grader.lab` (what `make lab` runs) on the repository
itself, started and asked as the browser tests do (browser/browser_tools.py:
every request is retried until a deadline of minutes, so a busy machine makes
the test slow, not failed).
"""

from __future__ import annotations

import json

import pytest
from browser import browser_tools

from grader import course


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from browser_tools.serve(course.REPO, tmp_path_factory.mktemp("lab"))


def test_lab_opens_on_the_student_notebooks(lab):
    status, _, landed_on = lab.get("/")
    assert status == 200
    assert "/lab/tree/notebooks" in landed_on, f"the browser opens {landed_on}, not notebooks/"


def test_nbgrader_lab_extension_is_installed(lab):
    names = {extension["name"] for extension in lab.get_json("/lab/api/extensions")}
    assert "jupyter-nbgrader" in names, names


def test_validate_server_extension_answers(lab):
    status, body, _ = lab.get("/nbgrader_version?version=0.9.6")
    assert status == 200 and json.loads(body)["success"], body


def test_formgrader_lists_the_lessons(lab):
    listed = {assignment["name"] for assignment in lab.get_json("/formgrader/api/assignments")}
    assert set(course.lesson_ids()) <= listed, listed
