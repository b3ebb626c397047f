"""Autograde every collected submission of every lesson, resumably; feedback; grades.

    python -m grader.autograde                 # grade what is new or changed
    python -m grader.autograde --regrade       # grade everything again
    python -m grader.autograde feedback        # HTML feedback for every student
    python -m grader.autograde grades          # grader/work/grades.csv + the table
    python -m grader.autograde --root DIR ...  # another course folder (tests, demo)

Submissions are read from grader/work/submitted/<student>/<lesson>/ and never
modified (their hash is checked before and after grading). Each lesson is
graded by one `nbgrader autograde` run whose kernels are sandboxed (see
grader/sandbox.py and grader/guard.py); a submission that cannot be graded
(not valid JSON, wrong file name, ...) gets 0 and a clear outcome, and never
stops the others. grader/work/autograde_state.json records the hash of every
graded submission: a run that is interrupted, or started again, grades only
what is new or changed. Outcomes are written to grader/work/outcomes.csv.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from grader import course, sandbox
from grader.course import REPO, lesson_ids, work
from grader.guard import GUARD as GUARD_NAME
from grader.guard import describe_outputs
from grader.nbgrader_cli import run_nbgrader
from grader.release import build_source_notebook


@dataclass
class Outcome:
    student: str
    lesson: str
    status: str  # graded | wrong file name | invalid notebook | grading failed
    score: float
    max_score: float
    details: str


def fingerprint(folder: Path) -> str:
    """sha256 over the relative paths and bytes of every file in a folder."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def submissions(root: Path, lessons: list[str] | None = None) -> list[tuple[str, str]]:
    """(student, lesson) of every collected submission of the course's lessons."""
    known = lessons or lesson_ids(root)
    found = []
    submitted = course.submitted_dir(root)
    if submitted.is_dir():
        for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
            for lesson in known:
                if (student_dir / lesson).is_dir():
                    found.append((student_dir.name, lesson))
    return found


def _state_path(root: Path) -> Path:
    return work(root) / "autograde_state.json"


def load_state(root: Path) -> dict:
    path = _state_path(root)
    return json.loads(path.read_text()) if path.exists() else {}


def save_state(root: Path, state: dict) -> None:
    path = _state_path(root)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, path)  # atomic: an interrupted run never leaves half a state file


def _ensure_in_gradebook(root: Path, lesson: str) -> None:
    """The gradebook knows a lesson's grade cells only after generate_assignment."""
    from nbgrader.api import Gradebook, MissingEntry

    config = course.load_config(root).CourseDirectory
    build_source_notebook(course.source_path(root, lesson))
    with Gradebook(config.db_url, config.course_id) as gradebook:
        try:
            gradebook.find_assignment(lesson)
            return
        except MissingEntry:
            pass
    from grader.release import release

    release(root, [lesson])


def scores(root: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """{(student, lesson): (score, max_score)} from the gradebook."""
    from nbgrader.api import Gradebook

    config = course.load_config(root).CourseDirectory
    result = {}
    with Gradebook(config.db_url, config.course_id) as gradebook:
        for assignment in gradebook.assignments:
            for submission in assignment.submissions:
                result[(submission.student.id, assignment.name)] = (
                    float(submission.score),
                    float(submission.max_score),
                )
    return result


def _classify(root: Path, student: str, lesson: str, log: str) -> tuple[str, str]:
    """(status, details) of one submission after its nbgrader run."""
    folder = course.submitted_dir(root, student, lesson)
    expected = folder / f"{lesson}.ipynb"
    if not expected.exists():
        found = sorted(p.name for p in folder.iterdir() if p.suffix == ".ipynb")
        return "wrong file name", f"expected {lesson}.ipynb, found {found or 'nothing'}"
    try:
        handed_in = nbformat.read(expected, as_version=4)
    except Exception as error:  # noqa: BLE001  (any reason a notebook cannot be read)
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return "invalid notebook", f"{lesson}.ipynb is not a valid notebook: {first[:200]}"
    graded = course.autograded_path(root, student, lesson)
    if not graded.exists():
        errors = [line for line in log.splitlines() if "Error" in line or "error" in line]
        return "grading failed", (errors[-1] if errors else "see the autograde log")[:300]
    cells = describe_outputs(nbformat.read(graded, as_version=4))
    failed = {k: v for k, v in cells.items() if v != "ok"}
    details = "; ".join(f"{k}: {v.splitlines()[0][:120]}" for k, v in failed.items())
    details = details or "every test passed"
    if any(GUARD_NAME in cell.source for cell in handed_in.cells):
        details = (
            "WARNING: the submission refers to the grading guard, check it by hand; " + details
        )
    return "graded", details


def autograde(
    root: Path = REPO,
    lessons: list[str] | None = None,
    regrade: bool = False,
    echo=print,
) -> list[Outcome]:
    """Grade every new or changed submission (every submission with `regrade`)."""
    root = root.resolve()
    if sandbox.opted_out():
        echo(f"WARNING: {sandbox.OPT_OUT_VARIABLE}=off: grading WITHOUT the sandbox")
    else:
        sandbox.check()  # raises SandboxUnavailable with why and how to opt out
    state = {} if regrade else load_state(root)
    runtime = tempfile.mkdtemp(prefix="rlcourse-runtime-")
    env_runtime = os.environ.get("JUPYTER_RUNTIME_DIR")
    os.environ["JUPYTER_RUNTIME_DIR"] = runtime
    graded = 0
    try:
        for lesson in lessons or lesson_ids(root):
            students = [s for s, lesson_id in submissions(root, [lesson]) if lesson_id == lesson]
            hashes = {s: fingerprint(course.submitted_dir(root, s, lesson)) for s in students}
            pending = [
                s for s in students if state.get(f"{s}/{lesson}", {}).get("hash") != hashes[s]
            ]
            if not pending:
                continue
            _ensure_in_gradebook(root, lesson)
            echo(f"autograding {lesson}: {len(pending)} submission(s) ({', '.join(pending)})")
            done = [s for s in students if s not in pending]
            args = ["autograde", lesson, "--force", "--log-level=WARN"]
            if done:
                args.append("--CourseDirectory.student_id_exclude=" + ",".join(done))
            started = time.perf_counter()
            result = run_nbgrader(args, root, check=False)
            log = result.stdout + result.stderr
            (work(root) / "logs").mkdir(exist_ok=True)
            (work(root) / "logs" / f"autograde-{lesson}.log").write_text(log)
            elapsed = time.perf_counter() - started
            for student in pending:
                after = fingerprint(course.submitted_dir(root, student, lesson))
                if after != hashes[student]:
                    raise RuntimeError(f"submission {student}/{lesson} changed while grading")
                status, details = _classify(root, student, lesson, log)
                state[f"{student}/{lesson}"] = {
                    "hash": hashes[student],
                    "status": status,
                    "details": details,
                }
            save_state(root, state)
            graded += len(pending)
            echo(f"  {lesson}: {elapsed:.1f} s")
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
        if env_runtime is None:
            os.environ.pop("JUPYTER_RUNTIME_DIR", None)
        else:
            os.environ["JUPYTER_RUNTIME_DIR"] = env_runtime
    if not graded:
        echo(f"nothing new to grade in {course.submitted_dir(root)} ({len(state)} graded before)")
    return outcomes(root)


def outcomes(root: Path = REPO) -> list[Outcome]:
    """The outcome of every graded submission, also written to grader/work/outcomes.csv."""
    root = root.resolve()
    state = load_state(root)
    points = scores(root)
    result = []
    for key, entry in sorted(state.items()):
        student, lesson = key.split("/", 1)
        score, max_score = points.get((student, lesson), (0.0, 0.0))
        result.append(Outcome(student, lesson, entry["status"], score, max_score, entry["details"]))
    with open(work(root) / "outcomes.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(Outcome.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(asdict(o) for o in result)
    return result


def feedback(root: Path = REPO, lessons: list[str] | None = None, echo=print) -> list[Path]:
    """nbgrader's HTML feedback, plus a short page for submissions that could not be graded."""
    root = root.resolve()
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
    echo(f"wrote {len(written)} feedback page(s) under {course.feedback_dir(root)}")
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
    args = parser.parse_args(argv)
    try:
        if args.step == "autograde":
            autograde(args.root, args.lessons or None, regrade=args.regrade)
            print(outcome_table(args.root))
        elif args.step == "feedback":
            feedback(args.root, args.lessons or None)
        else:
            export_grades(args.root)
            print(grade_table(args.root))
    except sandbox.SandboxUnavailable as error:
        sys.exit(f"autograde stopped: {error}")


if __name__ == "__main__":
    main()
