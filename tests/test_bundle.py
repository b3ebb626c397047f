"""`make student-bundle` ships a fresh release, never what notebooks/ holds.

An instructor saved the reference answers into a released notebook (in the
lab, say): the bundle built from that working copy carries the release, with
no answer.
"""

from __future__ import annotations

import zipfile

import nbformat
from course_tools import (
    FIXTURE_COURSE,
    instructor,
    make_course,
    notebook_text,
    released,
    secret_lines,
)

from grader import bundle, course, grading, release

FIXTURE = "00_fixture"


def test_bundle_carries_no_answer_saved_into_notebooks(tmp_path):
    root = make_course(tmp_path / "working-copy", FIXTURE_COURSE)
    release.release(root)
    clean = course.release_path(root, FIXTURE).read_bytes()
    answered = grading.fill_answers(released(root, FIXTURE), instructor(root, FIXTURE))
    nbformat.write(answered, course.release_path(root, FIXTURE))
    secrets = secret_lines(course.source_path(root, FIXTURE).read_text())
    assert [line for line in secrets if line in notebook_text(answered)], (
        "the working copy should hold answers for this test to mean anything"
    )

    path = bundle.build(tmp_path / "bundle.zip", root)

    with zipfile.ZipFile(path) as archive:
        shipped = archive.read(f"{bundle.TOP}/notebooks/{FIXTURE}/{FIXTURE}.ipynb")
        names = archive.namelist()
    text = notebook_text(nbformat.reads(shipped.decode(), as_version=4))
    assert not [line for line in secrets if line in text], "an answer reached the bundle"
    assert shipped == clean, "the bundle's notebook is not the fresh release"
    assert f"{bundle.TOP}/{bundle.VALIDATE_SCRIPT}" in names
    assert course.release_path(root, FIXTURE).read_bytes() != clean, "notebooks/ is left alone"
