"""Autograde every collected submission of every lesson, resumably; feedback; grades.

    python -m grader.autograde                 # grade what is new or changed
    python -m grader.autograde --regrade       # grade everything again
    python -m grader.autograde feedback        # HTML feedback for every student
    python -m grader.autograde grades          # grader/work/grades.csv + the table
    python -m grader.autograde --root DIR ...  # another course folder (tests, demo)
    python -m grader.autograde --workers 1     # one nbgrader run per lesson (default: a
                                               # submission per core at a time, grader/parallel.py)
    python -m grader.autograde --broker redis://HOST:6379/0   # Celery workers grade

Submissions are read from grader/work/submitted/<student>/<lesson>/ and never
modified (their hash is checked before and after grading). Each lesson is
graded by one `nbgrader autograde` run whose kernels are sandboxed (see
grader/sandbox.py and grader/guard.py), on copies of the submissions made
without following links (grader/submission.py); a submission that cannot be
graded (not valid JSON, wrong file name, ...) gets 0 and a clear outcome, and
never stops the others. grader/work/autograde_state.json records the hash of
every graded submission: a run that is interrupted, or started again, grades
only what is new or changed. Outcomes are written to grader/work/outcomes.csv.

Before a lesson's submissions are graded, a preflight grades the reference
answers in the same sandbox: if they do not get every autograded point (a
broken grading environment), grading stops with what failed and writes no
grade. It runs again only when the lesson, the grader or the kernel's
environment changed (grader/work/preflight.json).
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import hashlib
import html
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from grader import course, sandbox, submission
from grader.course import REPO, lesson_ids, work
from grader.guard import GUARD as GUARD_NAME
from grader.guard import describe_outputs, output_notes, top_level_modules
from grader.nbgrader_cli import run_nbgrader
from grader.release import build_source_notebook

PREFLIGHT_STUDENT = "rlcourse-preflight"
"""The student id the preflight grades the reference answers as (removed afterwards)."""
STAGING = course.WORK / "staging"
"""Link-free copies of the submissions being graded (nbgrader reads these)."""


class PreflightFailed(RuntimeError):
    """The reference answers lost points in the sandbox: the grading environment is broken."""


@dataclass
class Outcome:
    student: str
    lesson: str
    status: str  # graded | wrong file name | invalid notebook | refused | grading failed
    score: float
    max_score: float
    details: str


def fingerprint(folder: Path) -> str:
    """sha256 over the relative paths and bytes of the files in a folder (of a link: its text)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            content = b"link:" + os.readlink(path).encode()
        elif path.is_file():
            content = path.read_bytes()
        else:
            continue
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + content + b"\0")
    return digest.hexdigest()


def submissions(root: Path, lessons: list[str] | None = None) -> list[tuple[str, str]]:
    """(student, lesson) of every collected submission of the course's lessons."""
    known = lessons or lesson_ids(root)
    found = []
    submitted = course.submitted_dir(root)
    if submitted.is_dir():
        for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
            if student_dir.name == PREFLIGHT_STUDENT or student_dir.is_symlink():
                continue
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


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _classify(
    root: Path, student: str, lesson: str, log: str, refused: list[str] | None = None
) -> tuple[str, str]:
    """(status, details) of one submission after its nbgrader run."""
    folder = course.submitted_dir(root, student, lesson)
    expected = folder / f"{lesson}.ipynb"
    refused = refused or []
    if expected.is_symlink() or any(r.startswith(f"{lesson}.ipynb:") for r in refused):
        reason = next((r for r in refused if r.startswith(f"{lesson}.ipynb:")), None)
        return "refused", reason or f"{lesson}.ipynb is a symbolic link (links are not followed)"
    if not expected.exists():
        found = sorted(p.name for p in folder.iterdir() if p.suffix == ".ipynb")
        return "wrong file name", f"expected {lesson}.ipynb, found {found or 'nothing'}"
    try:
        handed_in = nbformat.read(expected, as_version=4)
    except Exception as error:  # noqa: BLE001  (any reason a notebook cannot be read)
        return (
            "invalid notebook",
            f"{lesson}.ipynb is not a valid notebook: {_first_line(error)[:200]}",
        )
    graded = course.autograded_path(root, student, lesson)
    if not graded.exists():
        errors = [line for line in log.splitlines() if "Error" in line or "error" in line]
        return "grading failed", (errors[-1] if errors else "see the autograde log")[:300]
    notebook = nbformat.read(graded, as_version=4)
    failed = {k: v for k, v in describe_outputs(notebook).items() if v != "ok"}
    parts = [f"{k}: {v.splitlines()[0][:120]}" for k, v in failed.items()]
    parts += _points_lost(root, student, lesson, set(failed))
    details = "; ".join(parts) or "every test passed"
    notes = [f"{k}: {', '.join(v)}" for k, v in output_notes(notebook).items()]
    notes += submission.grade_notes(notebook) + [f"not copied: {r}" for r in refused]
    if notes:
        details += " | " + "; ".join(notes)
    if any(GUARD_NAME in cell.source for cell in handed_in.cells):
        details = (
            "WARNING: the submission refers to the grading guard, check it by hand; " + details
        )
    return "graded", details


def _points_lost(root: Path, student: str, lesson: str, failed: set[str]) -> list[str]:
    """Autograded cells that ran without an error but lost points (partial credit...)."""
    from grader.grading import cell_scores

    try:
        scores = cell_scores(root, lesson, student)
    except Exception:  # noqa: BLE001  (no gradebook entry: nothing to add)
        return []
    return [
        f"{s.grade_id}: {s.score:g} of {s.max_score:g} points"
        for s in scores
        if s.autograded and s.grade_id not in failed and (s.score or 0) < s.max_score
    ]


# --------------------------------------------------------------------------- staging


def _ignored(root: Path) -> Callable[[Path], bool]:
    """nbgrader's CourseDirectory.ignore patterns, as a test on a path."""
    patterns = list(course.load_config(root).CourseDirectory.get("ignore", []))
    return lambda path: any(fnmatch.fnmatch(path.name, p) for p in patterns if p != "*.py")


def stage(root: Path, lesson: str, students: list[str]) -> dict[str, list[str]]:
    """Link-free copies of the students' submissions under STAGING; {student: refused files}."""
    staging = root / STAGING
    if staging.exists():
        shutil.rmtree(staging)
    skip = _ignored(root)
    return {
        student: submission.copy_folder(
            course.submitted_dir(root, student, lesson), staging / student / lesson, skip
        )
        for student in students
    }


def _run_autograde(root: Path, lesson: str, submitted: Path, *extra: str):
    """nbgrader autograde of a lesson, reading the submissions under `submitted`."""
    args = ["autograde", lesson, "--force", "--log-level=WARN"]
    args.append(f"--CourseDirectory.submitted_directory={submitted.relative_to(root)}")
    return run_nbgrader([*args, *extra], root, check=False)


# --------------------------------------------------------------------------- preflight


def first_error(notebook: nbformat.NotebookNode) -> str:
    """`cell N: Error: message` of the first code cell that raised, or 'none'."""
    for number, cell in enumerate(notebook.cells, 1):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.output_type == "error":
                return f"cell {number}: {output.ename}: {output.evalue}"[:300]
    return "none"


def _preflight_path(root: Path) -> Path:
    return work(root) / "preflight.json"


def _tree_listing(folder: str) -> list[str]:
    """Relative paths, sizes and mtimes of the files under a folder (cheap change detection)."""
    listing = []
    for path in sorted(Path(folder).rglob("*")) if os.path.isdir(folder) else [Path(folder)]:
        if path.is_file() and "__pycache__" not in path.parts:
            info = path.stat()
            listing.append(f"{path}:{info.st_size}:{info.st_mtime_ns}")
    return listing


def environment_key(root: Path, lesson: str) -> str:
    """What the preflight's verdict depends on: the lesson, the grader, the kernel's environment."""
    release = nbformat.read(course.release_path(root, lesson), as_version=4)
    probe = sandbox.probe_kernel(
        sandbox.kernel_python(), sandbox.kernel_environment(), top_level_modules(release)
    )
    parts = [
        course.source_path(root, lesson).read_text(),
        course.release_path(root, lesson).read_text(),
        (root / course.CONFIG_FILE).read_text() if (root / course.CONFIG_FILE).exists() else "",
        json.dumps(probe, sort_keys=True),
        json.dumps(sandbox.kernel_environment(), sort_keys=True),
        str(course.cell_timeout()),
        str(sandbox.opted_out()),
        str(sandbox.limits()),
    ]
    parts += [path.read_text() for path in sorted(Path(__file__).parent.glob("*.py"))]
    for locations in probe["modules"].values():
        for location in locations:
            if not any(location.startswith(prefix + "/") for prefix in probe["prefixes"]):
                parts += _tree_listing(location)  # outside the venv (an editable install)
    for entry in probe["path"]:
        if os.path.isdir(entry):
            parts += sorted(n for n in os.listdir(entry) if n.endswith(".dist-info"))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _forget_preflight_student(root: Path) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    config = course.load_config(root).CourseDirectory
    with Gradebook(config.db_url, config.course_id) as gradebook:
        try:
            gradebook.remove_student(PREFLIGHT_STUDENT)
        except MissingEntry:
            pass
    for folder in (course.autograded_dir(root, PREFLIGHT_STUDENT), work(root) / "preflight"):
        shutil.rmtree(folder, ignore_errors=True)


def preflight(root: Path, lesson: str, echo=print) -> None:
    """Grade the reference answers in the sandbox; PreflightFailed unless they get every point."""
    from grader.grading import cell_scores, fill_answers

    key = environment_key(root, lesson)
    done = json.loads(_preflight_path(root).read_text()) if _preflight_path(root).exists() else {}
    if done.get(lesson) == key:
        return
    release = nbformat.read(course.release_path(root, lesson), as_version=4)
    reference = nbformat.read(course.instructor_path(root, lesson), as_version=4)
    folder = work(root) / "preflight"
    target = folder / PREFLIGHT_STUDENT / lesson / f"{lesson}.ipynb"
    _forget_preflight_student(root)
    target.parent.mkdir(parents=True)
    nbformat.write(fill_answers(release, reference), target)
    started = time.perf_counter()
    try:
        result = _run_autograde(root, lesson, folder, f"--student={PREFLIGHT_STUDENT}")
        graded = course.autograded_path(root, PREFLIGHT_STUDENT, lesson)
        if not graded.exists():
            tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
            raise PreflightFailed(
                f"{lesson}: the reference answers could not be graded at all: " + " / ".join(tail)
            )
        graded_notebook = nbformat.read(graded, as_version=4)
        outputs = describe_outputs(graded_notebook)
        lost = [
            f"{s.grade_id} {s.score or 0:g}/{s.max_score:g} ({outputs.get(s.grade_id, 'ok')[:200]})"
            for s in cell_scores(root, lesson, PREFLIGHT_STUDENT)
            if s.autograded and (s.score or 0) < s.max_score
        ]
    finally:
        _forget_preflight_student(root)
    if lost:
        raise PreflightFailed(
            f"{lesson}: the reference answers lose points in the sandbox, so the grading "
            f"environment is broken and no grade was written: {'; '.join(lost)}. "
            f"The first error in the notebook: {first_error(graded_notebook)}. Check that "
            "the kernel imports this course's rlhelpers (python -m grader.sandbox)."
        )
    done[lesson] = key
    _preflight_path(root).write_text(json.dumps(done, indent=1, sort_keys=True))
    echo(
        f"  preflight {lesson}: the reference answers get every point "
        f"({time.perf_counter() - started:.1f} s)"
    )


@contextmanager
def grading_run(echo=print):
    """While grading: the sandbox checked (or its opt-out said), a private runtime folder."""
    if sandbox.opted_out():
        echo(f"WARNING: {sandbox.OPT_OUT_VARIABLE}=off: grading WITHOUT the sandbox")
    else:
        sandbox.check()  # raises SandboxUnavailable with why and how to opt out
    runtime = tempfile.mkdtemp(prefix="rlcourse-runtime-")
    env_runtime = os.environ.get("JUPYTER_RUNTIME_DIR")
    os.environ["JUPYTER_RUNTIME_DIR"] = runtime
    try:
        yield
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
        if env_runtime is None:
            os.environ.pop("JUPYTER_RUNTIME_DIR", None)
        else:
            os.environ["JUPYTER_RUNTIME_DIR"] = env_runtime


def pending_submissions(root: Path, lesson: str, state: dict) -> dict[str, str]:
    """{student: fingerprint} of a lesson's submissions that are new or changed since `state`."""
    students = [s for s, lesson_id in submissions(root, [lesson]) if lesson_id == lesson]
    hashes = {s: fingerprint(course.submitted_dir(root, s, lesson)) for s in students}
    return {s: h for s, h in hashes.items() if state.get(f"{s}/{lesson}", {}).get("hash") != h}


def autograde(
    root: Path = REPO,
    lessons: list[str] | None = None,
    regrade: bool = False,
    echo=print,
    workers: int = 1,
    broker: str | None = None,
) -> list[Outcome]:
    """Grade every new or changed submission (every submission with `regrade`).

    workers=1 grades each lesson with one nbgrader run; more workers, or a Celery
    broker URL, grade submission by submission (grader/parallel.py).
    """
    if workers != 1 or broker:
        from grader.parallel import grade_all

        return grade_all(root, workers, broker, lessons, regrade, echo).outcomes
    root = root.resolve()
    state = {} if regrade else load_state(root)
    graded = 0
    with grading_run(echo):
        for lesson in lessons or lesson_ids(root):
            hashes = pending_submissions(root, lesson, state)
            pending = list(hashes)
            if not pending:
                continue
            _ensure_in_gradebook(root, lesson)
            preflight(root, lesson, echo)
            echo(f"autograding {lesson}: {len(pending)} submission(s) ({', '.join(pending)})")
            started = time.perf_counter()
            refused = stage(root, lesson, pending)
            try:
                result = _run_autograde(root, lesson, root / STAGING)
            finally:
                shutil.rmtree(root / STAGING, ignore_errors=True)
            log = result.stdout + result.stderr
            (work(root) / "logs").mkdir(exist_ok=True)
            (work(root) / "logs" / f"autograde-{lesson}.log").write_text(log)
            elapsed = time.perf_counter() - started
            for student in pending:
                after = fingerprint(course.submitted_dir(root, student, lesson))
                if after != hashes[student]:
                    raise RuntimeError(f"submission {student}/{lesson} changed while grading")
                status, details = _classify(root, student, lesson, log, refused[student])
                state[f"{student}/{lesson}"] = {
                    "hash": hashes[student],
                    "status": status,
                    "details": details,
                }
            save_state(root, state)
            graded += len(pending)
            echo(f"  {lesson}: {elapsed:.1f} s")
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
    """nbgrader's HTML feedback, plus a short page for submissions that could not be graded.

    What the pages show of the hidden tests is the course setting
    course.feedback_hidden_tests() (nbgrader_config.py hands it to
    grader.feedback.HideHiddenTests); a wrong value stops here with a ValueError.
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
            from grader.parallel import default_workers

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
