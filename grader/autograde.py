"""The grading commands of a course: autograde, feedback, grades.

    python -m grader.autograde                 # grade what is new or changed
    python -m grader.autograde --regrade       # grade everything again
    python -m grader.autograde feedback        # HTML feedback for every student
    python -m grader.autograde grades          # grader/work/grades.csv + the table
    python -m grader.autograde --root DIR ...  # another course folder (tests, demo)
    python -m grader.autograde --workers 1     # one submission at a time (default: one
                                               # per core, RLCOURSE_WORKERS)
    python -m grader.autograde --broker redis://HOST:6379/0   # Celery workers grade

Grading itself is grader/pipeline.py, which reads top to bottom: the pending
submissions, each lesson's preflight, the jobs, the graders (warm processes
here or Celery workers, each running grader/grade_one.py on one submission),
recording and classifying, the outcomes. This module is the command line and
the steps after grading: feedback pages and the grade export and tables.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
from pathlib import Path

from grader import course
from grader.course import REPO, lesson_ids, work
from grader.gradebook import scores as scores  # (the API of grading, in one place)
from grader.kernel import sandbox
from grader.kernel.guard import describe_outputs as describe_outputs
from grader.nbgrader_cli import run_nbgrader
from grader.pipeline import PREFLIGHT_STUDENT as PREFLIGHT_STUDENT
from grader.pipeline import Outcome as Outcome
from grader.pipeline import autograde as autograde
from grader.pipeline import check_preflight, outcomes, submissions
from grader.pipeline import grading_run as grading_run
from grader.pipeline import pending_submissions as pending_submissions
from grader.preflight import PreflightFailed
from grader.preflight import environment_key as environment_key
from grader.preflight import preflight_path as preflight_path
from grader.recording import fingerprint as fingerprint
from grader.recording import load_state as load_state
from grader.recording import save_state as save_state
from grader.recording import state_path as state_path
from grader.runners import default_workers


def preflight(root: Path, lesson: str, echo=print) -> None:
    """One lesson's preflight on its own (grader/preflight.py): PreflightFailed unless it passes."""
    check_preflight(root, lesson, echo)


def feedback(root: Path = REPO, lessons: list[str] | None = None, echo=print) -> list[Path]:
    """nbgrader's HTML feedback, plus a short page for submissions that could not be graded.

    What the pages show of the hidden tests is the course setting
    course.feedback_hidden_tests() (nbgrader_config.py hands it to
    grader.kernel.feedback.HideHiddenTests); a wrong value stops here with a ValueError.
    """
    root = root.resolve()
    problem = course.feedback_hidden_tests_problem()
    if problem:
        raise ValueError(problem)
    hidden_tests = course.feedback_hidden_tests()
    written = []
    for lesson in lessons or lesson_ids(root):
        if not any(lesson_id == lesson for _, lesson_id in submissions(root, [lesson])):
            continue
        run_nbgrader(
            ["generate_feedback", lesson, "--force", "--log-level=WARN"], root, check=False
        )
    for outcome in outcomes(root):
        folder = course.feedback_dir(root, outcome.student, outcome.lesson)
        page = folder / f"{outcome.lesson}.html"
        if outcome.status != "graded":
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(
                "<!DOCTYPE html><html><body>"
                f"<h1>{html.escape(outcome.lesson)}: {html.escape(outcome.student)}</h1>"
                f"<p>Your submission could not be graded ({html.escape(outcome.status)}): "
                f"{html.escape(outcome.details)}.</p>"
                f"<p>Score: {outcome.score:g} / {outcome.max_score:g}</p></body></html>\n"
            )
        if page.exists():
            written.append(page)
    echo(
        f"wrote {len(written)} feedback page(s) under {course.feedback_dir(root)} "
        f"(hidden tests: {hidden_tests})"
    )
    return written


def export_grades(root: Path = REPO, echo=print) -> Path:
    """nbgrader export: grader/work/grades.csv, one row per student and lesson."""
    root = root.resolve()
    target = work(root) / "grades.csv"
    run_nbgrader(["export", "--to", str(target), "--log-level=WARN"], root)
    echo(f"wrote {target}")
    return target


def grade_table(root: Path = REPO) -> str:
    """Students x lessons, 'score/max' in each cell, and the status of what was not graded."""
    root = root.resolve()
    items = outcomes(root)
    lessons = sorted({o.lesson for o in items})
    students = sorted({o.student for o in items})
    by_key = {(o.student, o.lesson): o for o in items}
    header = ["student", *lessons]
    rows = []
    for student in students:
        row = [student]
        for lesson in lessons:
            o = by_key.get((student, lesson))
            if o is None:
                row.append("-")
            else:
                row.append(f"{o.score:g}/{o.max_score:g}")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(w) for cell, w in zip(r, widths, strict=True))
        for r in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def outcome_table(root: Path = REPO) -> str:
    """One line per submission: student, lesson, score, status and what failed."""
    lines = []
    for o in outcomes(root):
        lines.append(
            f"{o.student:<17} {o.lesson:<14} {o.score:>5g}/{o.max_score:<5g} "
            f"{o.status}: {o.details}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "step", nargs="?", default="autograde", choices=["autograde", "feedback", "grades"]
    )
    parser.add_argument("lessons", nargs="*", help="lesson ids (default: all)")
    parser.add_argument("--root", type=Path, default=REPO, help="course folder")
    parser.add_argument("--regrade", action="store_true", help="grade every submission again")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="submissions graded at a time (default: RLCOURSE_WORKERS or the number of cores)",
    )
    parser.add_argument(
        "--broker",
        default=os.environ.get("RLCOURSE_BROKER") or None,
        help="a Celery broker (redis://HOST:PORT/DB) whose workers grade (make grading-worker)",
    )
    args = parser.parse_args(argv)
    try:
        if args.step == "autograde":
            workers = args.workers or default_workers()
            autograde(args.root, args.lessons or None, args.regrade, print, workers, args.broker)
            print(outcome_table(args.root))
        elif args.step == "feedback":
            feedback(args.root, args.lessons or None)
        else:
            export_grades(args.root)
            print(grade_table(args.root))
    except (sandbox.SandboxUnavailable, PreflightFailed) as error:
        sys.exit(f"autograde stopped: {error}")


if __name__ == "__main__":
    main()
