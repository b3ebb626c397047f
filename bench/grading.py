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


# --------------------------------------------------------------------------- throughput

THROUGHPUT_LESSON = "02_mdps"
"""the lesson of the throughput rows: the quickest to grade, so the three modes fit in minutes"""
THROUGHPUT_COPIES = 4
"""reference submissions of it that each mode grades (two per worker)"""
CLASS_SIZE = 300


def throughput_modes() -> tuple[list[str], str]:
    """(the modes to measure, why Celery is left out or ''): Celery needs a redis-server."""
    from grader import celery_app

    try:
        celery_app.redis_server()
    except (FileNotFoundError, RuntimeError) as error:
        return ["serial", "workers=2"], f"Celery not measured: {error}"
    return ["serial", "workers=2", "celery=2"], ""


def parallel_throughput_rows(
    class_serial_s: float | None = None, echo=print
) -> list[tuple[str, str, str, str]]:
    """(item, measured, compared with, verdict) rows: grader.parallel.bench's modes side by side.

    The CPU seconds outside the kernels show the price of a parallel job: each
    starts an nbgrader of its own in a scratch course (serial grading starts one
    for the lot), which on a machine with few cores can eat the gain.

    class_serial_s: row 4's serial seconds for one submission of every lesson;
    with it, a projection for a class of CLASS_SIZE at each mode's speed-up.
    """
    from grader import parallel

    modes, why_not = throughput_modes()
    runs = parallel.bench(
        lessons=[THROUGHPUT_LESSON], copies=THROUGHPUT_COPIES, modes=modes, echo=echo
    )
    serial = runs[0]
    rows = []
    for run in runs:
        speedup = serial.wall_s / run.wall_s
        projection = ""
        if class_serial_s:
            hours = CLASS_SIZE * class_serial_s / speedup / 3600
            projection = f"; a class of {CLASS_SIZE}, every lesson: {hours:.1f} h (projected)"
        rows.append(
            (
                f"throughput, {run.mode}: {run.submissions} reference submissions of "
                f"{THROUGHPUT_LESSON}",
                f"{run.wall_s:.1f} s ({run.per_submission_s:.1f} s each; {run.cpu_s:.0f} CPU s "
                f"outside the kernels), load {run.load:.1f} at the end; grades "
                f"{'the same as' if run.same_grades else 'DIFFERENT from'} serial",
                "" if run is serial else f"serial: {serial.wall_s:.1f} s",
                f"x{speedup:.2f} the serial rate{projection}",
            )
        )
    if why_not:
        rows.append(("throughput, celery=2", "not measured", "", why_not))
    return rows
