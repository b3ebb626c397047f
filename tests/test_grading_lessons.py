"""Every real lesson against the test-helper tampering student, in the sandbox (slow)."""

from __future__ import annotations

import nbformat
import pytest
from course_tools import REPO, grade_test_ids, instructor, make_course, released

from grader import autograde, release, sandbox, students

LESSONS = release.lesson_ids(REPO)

pytestmark = pytest.mark.skipif(
    sandbox.opted_out(), reason="RLCOURSE_SANDBOX=off: the sandbox is switched off"
)


@pytest.mark.slow
@pytest.mark.parametrize("lesson_id", LESSONS)
def test_tampered_helpers_do_not_pass_a_lesson(lesson_id, tmp_path):
    """Wrong answers + numpy/torch/rlhelpers.testing patched to always pass: 0 autograded points."""
    root = make_course(tmp_path, lessons=[lesson_id])
    release.release(root, [lesson_id])
    files = students.tamper(
        lesson_id, released(root, lesson_id), instructor(root, lesson_id), {"root": root}
    )
    students.write_files(root / "grader/work/submitted/tamper" / lesson_id, files)
    autograde.autograde(root, [lesson_id], echo=lambda *a: None)
    graded = root / "grader/work/autograded/tamper" / lesson_id / f"{lesson_id}.ipynb"
    outputs = autograde.describe_outputs(nbformat.read(graded, as_version=4))
    tests = grade_test_ids(instructor(root, lesson_id))
    passed = [t for t in tests if outputs[t] == "ok"]
    assert not passed, f"{lesson_id}: tampered helpers passed {passed}"
    (outcome,) = autograde.outcomes(root)
    assert outcome.score == 0
