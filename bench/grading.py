"""Row 4: autograding one full submission of every lesson, against plain execution.

    python -m bench.grading --bench --lessons 02_mdps --copies 8   # the throughput modes alone

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

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader import autograde, celery_app, course
from grader.course import REPO, copy_course
from grader.gradebook import cell_points
from grader.grading import fill_answers, submit
from grader.pipeline import GradeRun, grade_all
from grader.preflight import preflight_path
from grader.release import release
from grader.runners import start_warm_server

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
THROUGHPUT_COPIES = 8
"""reference submissions of it that each mode grades (four per worker; issue 29's goal)"""
CLASS_SIZE = 300


def throughput_modes() -> tuple[list[str], str]:
    """(the modes to measure, why Celery is left out or ''): Celery needs a redis-server."""
    try:
        celery_app.redis_server()
    except (FileNotFoundError, RuntimeError) as error:
        return ["serial", "workers=2"], f"Celery not measured: {error}"
    return ["serial", "workers=2", "celery=2"], ""


def parallel_throughput_rows(
    class_serial_s: float | None = None, echo=print
) -> list[tuple[str, str, str, str]]:
    """(item, measured, compared with, verdict) rows: `bench`'s modes side by side.

    The CPU seconds outside the kernels show the price of a grader: the
    coordinator's and the grader processes' (each forked from a warm server that
    imported nbgrader once, or a Celery worker that did), each submission graded
    in a scratch course of its own. The graders start before the clock, once
    per machine, as the preflight does once per lesson.

    class_serial_s: row 4's serial seconds for one submission of every lesson;
    with it, a projection for a class of CLASS_SIZE at each mode's speed-up.
    """
    modes, why_not = throughput_modes()
    runs = bench(lessons=[THROUGHPUT_LESSON], copies=THROUGHPUT_COPIES, modes=modes, echo=echo)
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
                f"outside the kernels, {run.cpu_s / run.submissions:.2f} per submission), "
                f"load {run.load:.1f} at the end; grades "
                f"{'the same as' if run.same_grades else 'DIFFERENT from'} serial",
                "" if run is serial else f"serial: {serial.wall_s:.1f} s",
                f"x{speedup:.2f} the serial rate{projection}",
            )
        )
    if why_not:
        rows.append(("throughput, celery=2", "not measured", "", why_not))
    return rows


# --------------------------------------------------------------------------- the modes


def reference_class(root: Path, lessons: list[str], copies: int) -> None:
    """`copies` students who hand in the reference answers of every lesson."""
    for lesson in lessons:
        release = nbformat.read(course.release_path(root, lesson), as_version=4)
        reference = nbformat.read(course.instructor_path(root, lesson), as_version=4)
        notebook = fill_answers(release, reference)
        for number in range(copies):
            path = course.submitted_path(root, f"reference{number:03d}", lesson)
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, path)


@dataclass
class BenchRow:
    mode: str
    submissions: int
    wall_s: float
    per_submission_s: float
    same_grades: bool
    cpu_s: float = 0.0
    """CPU seconds outside the sandboxed kernels: this process's, the processes it waited for
    and the graders' (what each reported with its result)."""
    load: float = 0.0
    """The machine's 1-minute load average when the mode ended (other users' work too)."""


def bench(
    course_root: Path = REPO,
    lessons: list[str] | None = None,
    copies: int = 2,
    modes: Iterable[str] = ("serial", "workers=2", "celery=2"),
    echo=print,
) -> list[BenchRow]:
    """Wall time to grade `copies` reference submissions of every lesson, in each mode.

    Each mode grades a fresh copy of the course; the preflight runs (and is cached)
    before the clock starts, so the times are grading only. The graders start before
    the clock too: the warm server the local ones are forked from, or, for Celery, a
    private redis-server on a free loopback port and N workers (grader/celery_app.py).
    """
    course_root = course_root.resolve()
    lessons = lessons or course.lesson_ids(course_root)
    rows, reference, checked = [], None, None
    with tempfile.TemporaryDirectory(prefix="rlcourse-bench-") as tmp:
        for mode in modes:
            root = course.copy_course(course_root, Path(tmp) / mode.replace("=", "-"), lessons)
            release(root, lessons)
            reference_class(root, lessons, copies)
            if checked is not None:  # the same lessons and environment: the verdict holds
                shutil.copy(checked, preflight_path(root))
            for lesson in lessons:  # the preflight is not what is measured
                autograde.preflight(root, lesson, echo=lambda *a: None)
            checked = preflight_path(root)
            run, cpu = bench_mode(root, mode)
            points = cell_points(root)
            reference = reference or points
            total = len(lessons) * copies
            same = points == reference
            load = os.getloadavg()[0]
            rows.append(BenchRow(mode, total, run.wall_s, run.wall_s / total, same, cpu, load))
            echo(f"{mode}: {run.wall_s:.1f} s for {total} submissions ({cpu:.0f} CPU s)")
    return rows


def cpu_seconds() -> float:
    """CPU seconds of this process and of the children it has waited for."""
    import resource

    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def bench_mode(root: Path, mode: str) -> tuple[GradeRun, float]:
    """Grade in one mode, graders started first: (the run, CPU seconds outside the kernels)."""
    kind, _, count = mode.partition("=")
    if kind == "celery":
        with celery_app.local_cluster(int(count)) as url:
            return timed_grading(root, broker=url)
    start_warm_server()
    return timed_grading(root, workers=1 if mode == "serial" else int(count))


def timed_grading(root: Path, **mode) -> tuple[GradeRun, float]:
    """grade_all in `mode`, and the CPU seconds it cost outside the kernels."""
    before = cpu_seconds()
    run = grade_all(root, echo=lambda *a: None, progress=False, **mode)
    return run, cpu_seconds() - before + run.grader_cpu_s


def bench_table(
    rows: list[BenchRow], lessons: int, students: int = 300, machines: Iterable[int] = (1, 10)
) -> str:
    """The measured rows, and a projection (stated as one) for a class on 1 and 10 machines.

    The projection takes each mode's measured wall seconds per submission on
    this machine and assumes worker machines like it, as busy as it was, and a
    broker that costs nothing more than it did here.
    """
    lines = [
        "| mode | submissions | wall s | wall s per submission | load at the end "
        "| same grades as serial |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.mode} | {row.submissions} | {row.wall_s:.1f} | {row.per_submission_s:.1f} "
            f"| {row.load:.1f} | {'yes' if row.same_grades else 'NO'} |"
        )
    total = students * lessons
    lines.append("")
    lines.append(
        f"Projection (not measured): {students} students x {lessons} lesson(s) = {total} "
        "submissions at each mode's wall seconds per submission on machines like this one:"
    )
    for row in rows:
        counts = [1] if row.mode == "serial" else list(machines)
        spans = ", ".join(
            f"{total * row.per_submission_s / count / 3600:.1f} h on {count}" for count in counts
        )
        lines.append(f"- {row.mode}: {spans} machine(s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", action="store_true", help="time serial / workers / Celery")
    parser.add_argument("--course", type=Path, default=REPO, help="course folder")
    parser.add_argument("--lessons", nargs="*", help="lesson ids (default: all)")
    parser.add_argument("--copies", type=int, default=2, help="reference submissions per lesson")
    parser.add_argument(
        "--modes", nargs="*", default=["serial", "workers=2", "celery=2"], help="what to time"
    )
    args = parser.parse_args(argv)
    if not args.bench:
        parser.error("nothing to do: --bench times grading (python -m grader.autograde grades)")
    lessons = args.lessons or course.lesson_ids(args.course.resolve())
    rows = bench(args.course, lessons, args.copies, args.modes)
    print(bench_table(rows, len(lessons)))


if __name__ == "__main__":
    main()
