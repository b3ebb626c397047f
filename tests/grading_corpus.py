"""The fixture course with its whole bad-submission corpus collected, for the parallel tests."""

from __future__ import annotations

import os
import zipfile
from contextlib import contextmanager
from pathlib import Path

from course_tools import FIXTURE_COURSE, REPO, make_course

from grader import course, demo
from grader.release import release

FIXTURE = "00_fixture"
CORPUS = REPO / "tests" / "fixtures" / "submissions" / f"{FIXTURE}.zip"
CELL_TIMEOUT_S = "5"
"""The per-cell time limit of these tests (as in tests/test_grading_class.py)."""


def corpus_course(tmp: Path) -> Path:
    """A released copy of the fixture course whose submitted/ holds every corpus submission."""
    root = make_course(tmp, FIXTURE_COURSE, [FIXTURE])
    release(root, [FIXTURE])
    with zipfile.ZipFile(CORPUS) as archive:
        for name in archive.namelist():
            kind, file_name = name.split("/", 1)
            target = course.submitted_dir(root, kind, FIXTURE) / file_name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(name))
    return root


def corpus_kinds() -> list[str]:
    with zipfile.ZipFile(CORPUS) as archive:
        return sorted({name.split("/", 1)[0] for name in archive.namelist()})


@contextmanager
def grading_limits():
    """The short cell time limit and the demo's grading environment, restored afterwards."""
    saved = os.environ.get(course.CELL_TIMEOUT_VARIABLE)
    os.environ[course.CELL_TIMEOUT_VARIABLE] = CELL_TIMEOUT_S
    try:
        with demo.grading_environment():
            yield
    finally:
        if saved is None:
            os.environ.pop(course.CELL_TIMEOUT_VARIABLE, None)
        else:
            os.environ[course.CELL_TIMEOUT_VARIABLE] = saved
