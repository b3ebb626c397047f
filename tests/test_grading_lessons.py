"""Every real lesson through the instructor's grading pipeline, in the sandbox (slow).

One `grader.autograde` run per lesson: its preflight grades the reference
answers in the sandbox (it stops grading unless they get every autograded
point), then two submissions are graded at once: the untouched release (no
point) and the tampering student (wrong answers, with numpy, torch and
rlhelpers.testing patched to always pass: no point).
"""

from __future__ import annotations

import json

import nbformat
import pytest
from course_tools import (
    NEEDS_SANDBOX,
    error_outputs,
    grade_test_ids,
    instructor,
    make_course,
    released,
    unexpected_errors,
)

from grader import autograde, course, grading, release
from grader.demo import students

LESSONS = course.lesson_ids()
KINDS = ("untouched", "tamper")

pytestmark = [
    pytest.mark.slow,
    NEEDS_SANDBOX,
]


@pytest.fixture(scope="module", params=LESSONS)
def graded(request, tmp_path_factory):
    """(course root, lesson id, {student: outcome}): the preflight, then two submissions."""
    lesson_id = request.param
    root = make_course(tmp_path_factory.mktemp(lesson_id), lessons=[lesson_id])
    release.release(root, [lesson_id])
    for kind in KINDS:
        files = getattr(students, kind)(
            lesson_id, released(root, lesson_id), instructor(root, lesson_id), {"root": root}
        )
        students.write_files(course.submitted_dir(root, kind, lesson_id), files)
    outcomes = autograde.autograde(root, [lesson_id], echo=lambda *a: None)
    return root, lesson_id, {o.student: o for o in outcomes}


def autograded_scores(root, lesson_id, student) -> dict[str, tuple[float, float]]:
    """{grade cell: (score, max score)} of the autograded test cells of a submission."""
    tests = set(grade_test_ids(instructor(root, lesson_id)))
    return {
        s.grade_id: (s.score, s.max_score)
        for s in grading.cell_scores(root, lesson_id, student)
        if s.grade_id in tests
    }


def test_reference_answers_get_every_point(graded):
    """The preflight graded them in the sandbox and recorded that they got every point."""
    root, lesson_id, outcomes = graded
    tests = grade_test_ids(instructor(root, lesson_id))
    assert len(tests) >= 6, f"{lesson_id} has {len(tests)} autograded test cells, needs 6"
    done = json.loads((course.work(root) / "preflight.json").read_text())
    assert done[lesson_id] == autograde.environment_key(root, lesson_id)
    assert autograde.PREFLIGHT_STUDENT not in outcomes


def test_untouched_release_gets_nothing(graded):
    root, lesson_id, outcomes = graded
    scores = autograded_scores(root, lesson_id, "untouched")
    assert sum(s[0] for s in scores.values()) == 0, f"{lesson_id}: untouched scores {scores}"
    assert outcomes["untouched"].score == 0


def test_untouched_release_raises_only_not_implemented(graded):
    """Autograde ran every cell of the untouched release: each error is an exercise's stub
    (NotImplementedError) or follows from one, so the lesson's given code runs as released."""
    root, lesson_id, _ = graded
    ran = nbformat.read(course.autograded_path(root, "untouched", lesson_id), as_version=4)
    assert error_outputs(ran), f"{lesson_id}: the untouched release raised nothing"
    answers = grading.fill_answers(released(root, lesson_id), instructor(root, lesson_id))
    unexpected = unexpected_errors(ran, answers)
    assert not unexpected, (
        f"{lesson_id}: the untouched release raises more than the exercises' "
        f"NotImplementedError and what follows from it (cell index, exception, message): "
        f"{unexpected}"
    )


def test_tampered_helpers_do_not_pass_a_lesson(graded):
    """Wrong answers + numpy/torch/rlhelpers.testing patched to always pass: 0 autograded points."""
    root, lesson_id, outcomes = graded
    notebook = nbformat.read(course.autograded_path(root, "tamper", lesson_id), as_version=4)
    outputs = autograde.describe_outputs(notebook)
    passed = [t for t in grade_test_ids(instructor(root, lesson_id)) if outputs[t] == "ok"]
    assert not passed, f"{lesson_id}: tampered helpers passed {passed}"
    assert outcomes["tamper"].score == 0
