"""A scripted class on this machine: release, fetch, submit, collect, autograde, feedback, export.

    python -m grader.demo.classroom                    # the course's lessons (make class-demo)
    python -m grader.demo.classroom --course tests/fixtures/course
    python -m grader.demo.classroom --bad-lessons all  # bad ones for every lesson, not the first

The course (nbgrader_config.py and the lesson sources) is copied to a
temporary folder with its own exchange, so nothing of the real course's
grader/work is touched. Every simulated student of grader.demo.students fetches
the lessons from the exchange into their own home folder, edits them and
submits; 'twice' submits the untouched release first and the reference
answers later. The instructor collects, autogrades in the sandbox, writes
feedback and exports the grades; the grade table and every outcome are printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader import autograde, exchange
from grader.course import REPO, SOURCES, copy_course, instructor_path, lesson_ids, submitted_dir
from grader.demo import students
from grader.limits import environment
from grader.release import release

GOOD = ["perfect", "partial", "untouched"]
KEPT_CLASS = Path("build") / "class-demo"
"""Where `make class-demo` keeps its class (its course: KEPT_CLASS / 'course') for make report."""


@dataclass
class DemoResult:
    root: Path
    exchange: Path
    outcomes: list[autograde.Outcome]
    table: str
    grades_csv: Path
    seconds: dict[str, float] = field(default_factory=dict)


def run_demo(
    course: Path = REPO,
    workdir: Path | None = None,
    lessons: list[str] | None = None,
    kinds: list[str] | None = None,
    bad_lessons: str = "first",
    echo=print,
) -> DemoResult:
    """Run the whole class; `bad_lessons` is 'first' or 'all' (the lessons bad students hand in)."""
    course = course.resolve()
    lessons = lessons or lesson_ids(course)
    if not lessons:
        raise SystemExit(f"no lessons in {course / SOURCES}")
    kinds = kinds or [*students.KINDS, "twice"]
    workdir = Path(workdir or tempfile.mkdtemp(prefix="rlcourse-demo-")).resolve()
    seconds = {}
    started = time.perf_counter()

    root = copy_course(course, workdir, lessons)
    release(root, lessons)
    hub = exchange.prepare_exchange(workdir / "exchange")
    for lesson in lessons:
        exchange.release_assignment(root, lesson, hub)
    seconds["release"] = time.perf_counter() - started
    echo(f"released {', '.join(lessons)} to the exchange {hub}")

    started = time.perf_counter()
    for kind in kinds:
        home = workdir / "students" / kind
        handed_in = (
            lessons if kind in GOOD or kind == "twice" or bad_lessons == "all" else lessons[:1]
        )
        for lesson in handed_in:
            folder = exchange.fetch_assignment(home, lesson, hub, kind)
            fetched = nbformat.read(folder / f"{lesson}.ipynb", as_version=4)
            reference = nbformat.read(instructor_path(root, lesson), as_version=4)
            context = {"root": root}
            if kind == "twice":
                students.write_files(
                    folder, students.untouched(lesson, fetched, reference, context)
                )
                exchange.submit(home, lesson, kind, hub)
                time.sleep(1.1)  # nbgrader's timestamps order the two submissions
                students.write_files(folder, students.perfect(lesson, fetched, reference, context))
            else:
                files = students.KINDS[kind](lesson, fetched, reference, context)
                if f"{lesson}.ipynb" not in files:
                    (folder / f"{lesson}.ipynb").unlink()
                students.write_files(folder, files)
            exchange.submit(home, lesson, kind, hub)
            if kind in students.LINKS:  # a student with a shell plants links in the exchange
                latest = exchange.inbound(hub, kind, lesson)[-1]
                plant_links(latest, students.LINKS[kind](root, lesson))
    seconds["students"] = time.perf_counter() - started
    echo(f"{len(kinds)} students fetched and submitted")

    started = time.perf_counter()
    for lesson in lessons:
        exchange.collect(root, lesson, hub)
        for kind in students.LINKS:  # and where grading copies from (an older collect)
            folder = submitted_dir(root, kind, lesson)
            if kind in kinds and folder.is_dir():
                links = students.LINKS[kind](root, lesson)
                plant_links(folder, {f"more_{name}": target for name, target in links.items()})
    seconds["collect"] = time.perf_counter() - started

    started = time.perf_counter()
    with grading_environment():
        autograde.autograde(root, lessons, echo=echo)
    seconds["autograde"] = time.perf_counter() - started
    started = time.perf_counter()
    autograde.feedback(root, lessons, echo=echo)
    grades = autograde.export_grades(root, echo=echo)
    seconds["feedback+export"] = time.perf_counter() - started
    table = autograde.grade_table(root)
    result = DemoResult(root, hub, autograde.outcomes(root), table, grades, seconds)
    echo("\nGrades (score/max, max includes manually graded answers):\n" + table)
    echo("\nOutcomes:\n" + autograde.outcome_table(root))
    echo("\nWall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()))
    return result


def plant_links(folder: Path, links: dict[str, Path]) -> None:
    for name, target in links.items():
        (folder / name).symlink_to(target)


# The demo's grading: a decoy credential in the environment (the snoop looks for it)
# and small write caps, so that filling /tmp or a folder ends fast.
DEMO_ENVIRONMENT = {
    students.SECRET_VARIABLE: "decoy-token-the-sandbox-must-hide",
    "RLCOURSE_TMP_LIMIT": "64M",
    "RLCOURSE_WRITE_LIMIT": "64M",
}


def grading_environment():
    """DEMO_ENVIRONMENT set while grading (limits the caller set are kept), then restored."""
    return environment(
        {name: os.environ.get(name, value) for name, value in DEMO_ENVIRONMENT.items()}
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--course", type=Path, default=REPO, help="course folder (default: this one)"
    )
    parser.add_argument("--lessons", nargs="*", help="lesson ids (default: all)")
    parser.add_argument("--kinds", nargs="*", help="simulated students (default: all)")
    parser.add_argument("--bad-lessons", choices=["first", "all"], default="first")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    parser.add_argument(
        "--for-report",
        action="store_true",
        help=f"keep the class in {KEPT_CLASS} (replacing an earlier one) for make report",
    )
    args = parser.parse_args(argv)
    workdir = args.keep
    if args.for_report:
        workdir = REPO / KEPT_CLASS
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
    temporary = None
    if workdir is None:
        temporary = tempfile.mkdtemp(prefix="rlcourse-demo-")
        workdir = Path(temporary)
    try:
        run_demo(args.course, workdir, args.lessons, args.kinds, args.bad_lessons)
        if args.for_report:
            print(f"\nThe class is kept in {workdir}: make report shows what grading found.")
    finally:
        if temporary and not os.environ.get("RLCOURSE_DEMO_KEEP"):
            shutil.rmtree(temporary, ignore_errors=True)


if __name__ == "__main__":
    main()
