"""Row 4: autograding one full submission of every lesson, against plain execution.

A throw-away copy of the course (grader.course.copy_course) gets its release
and one student, `bench`, who hands in the release notebooks with every
answer cell holding the reference answer (grader.grading.fill_answers). Each
lesson is then autograded as `make autograde` does it (grader.autograde:
sandbox, resource limits, nbgrader, outcome bookkeeping), with --regrade.
The preflight (the reference answers graded once per lesson before the first
submission) is timed on its own: it is a one-time cost per lesson and class,
not part of each submission's grading.

The plain execution to compare with is row 1's: the instructor notebook, the
same cells as the autograded one (nbgrader puts the hidden tests back).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from grader import autograde, course
from grader.course import REPO, copy_course
from grader.grading import fill_answers, submit
from grader.release import release

STUDENT = "bench"


class GradingCourse:
    """A copy of the course with one reference submission of the given lessons."""

    def __init__(self, lessons: list[str]):
        self.lessons = lessons
        self.folder = Path(tempfile.mkdtemp(prefix="rlcourse-bench-"))
        self.root = copy_course(REPO, self.folder, lessons)
        release(self.root, lessons)
        for lesson in lessons:
            handed_in = fill_answers(
                nbformat.read(course.release_path(self.root, lesson), as_version=4),
                nbformat.read(course.instructor_path(self.root, lesson), as_version=4),
            )
            submit(self.root, STUDENT, lesson, handed_in)

    def preflight_seconds(self, lesson: str) -> float:
        started = time.perf_counter()
        autograde.preflight(self.root, lesson, echo=lambda *_: None)
        return time.perf_counter() - started

    def autograde_seconds(self, lesson: str) -> float:
        """Wall seconds of autograding the lesson's submission; fails unless it gets every point."""
        started = time.perf_counter()
        outcomes = autograde.autograde(self.root, [lesson], regrade=True, echo=lambda *_: None)
        seconds = time.perf_counter() - started
        mine = [o for o in outcomes if o.student == STUDENT and o.lesson == lesson]
        if not mine or mine[0].status != "graded" or mine[0].score < self.autograded_max(lesson):
            raise RuntimeError(f"the reference submission of {lesson} was not fully graded: {mine}")
        return seconds

    def autograded_max(self, lesson: str) -> float:
        """The autograded points of a lesson (written answers are graded by hand)."""
        notebook = nbformat.read(course.instructor_path(self.root, lesson), as_version=4)
        return sum(course.points(c) for c in notebook.cells if course.is_grade_test(c))

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# HOOK (issue 17, parallel and distributed grading): the lead fills this in after merging
# branch issue17. The rows to add: wall time to grade N copies of the reference submission
# of every lesson serially, with WORKERS=2 and with two Celery workers, side by side, and
# the projection for 300 students. A GradingCourse holds one student ("bench"); for N
# copies, submit the same notebooks as more students (grader.grading.submit) before
# calling issue 17's grade_all. run.py calls this after the serial rows (row 4).


def parallel_throughput_rows(grading: GradingCourse | None) -> list[tuple[str, str, str, str]]:
    """(item, measured, compared with, verdict) rows of parallel-grading throughput."""
    try:
        from grader import parallel  # noqa: F401  (issue 17's module)
    except ImportError:
        state = "issue 17 not merged yet"
    else:
        state = "issue 17 is merged: fill in this hook"
    return [
        (
            "throughput: parallel (WORKERS=N) and Celery grading",
            "not measured",
            "serial grading (the lines above)",
            f"{state} (bench/grading.py: parallel_throughput_rows)",
        )
    ]
