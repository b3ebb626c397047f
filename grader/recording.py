"""The coordinator's writes: a graded submission recorded in the course, and its outcome.

Only the coordinator (the process that runs `make autograde`) writes the
course's gradebook and grader/work/. For each `grade_one` result it writes the
autograded folder and the scores as nbgrader's own autograde would
(SaveAutoGrades, AssignLatePenalties: a manual grade given earlier is kept and
flagged for review), classifies the submission (graded, refused, wrong file
name, ...) and records it in grader/work/autograde_state.json, which is
written after each submission so that an interrupted run grades again only
what it had not recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader import course
from grader.grade_one import Result, unpack, write_files
from grader.gradebook import cell_scores, open_gradebook
from grader.kernel import submission
from grader.kernel.guard import GUARD as GUARD_NAME
from grader.kernel.guard import describe_outputs, output_notes


@dataclass
class Job:
    """One submission to grade: who, which lesson, its packed folder and what was left out."""

    student: str
    lesson: str
    packed: str
    refused: list[str]
    fingerprint: str

    @property
    def key(self) -> str:
        return f"{self.student}/{self.lesson}"


# --------------------------------------------------------------------------- the state file


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


def state_path(root: Path) -> Path:
    """grader/work/autograde_state.json: {"student/lesson": {hash, status, details}}."""
    return course.work(root) / "autograde_state.json"


def load_state(root: Path) -> dict:
    path = state_path(root)
    return json.loads(path.read_text()) if path.exists() else {}


def save_state(root: Path, state: dict) -> None:
    path = state_path(root)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, path)  # atomic: an interrupted run never leaves half a state file


# --------------------------------------------------------------------------- recording


class Recorder:
    """The one writer of the course's gradebook and state: records each result once."""

    def __init__(self, root: Path, state: dict, jobs: list[Job], progress: bool, echo):
        self.root, self.state, self.echo = root, state, echo
        self.left = {job.key: job for job in jobs}
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.recorded: list[str] = []
        self.bar = progress_bar(len(jobs), progress)
        self.done = self.bad = 0

    def record(self, key: str, result: Result) -> bool:
        """Record one grader's result; False when that submission was recorded already."""
        job = self.left.pop(key, None)
        if job is None:
            return False
        after = fingerprint(course.submitted_dir(self.root, job.student, job.lesson))
        if after != job.fingerprint:
            raise RuntimeError(f"submission {key} changed while grading")
        write_result(self.root, job.student, job.lesson, result)
        status, details = classify(self.root, job.student, job.lesson, result.log, job.refused)
        self.state[key] = {"hash": job.fingerprint, "status": status, "details": details}
        save_state(self.root, self.state)
        self.seconds[key] = result.seconds
        self.cpu[key] = result.cpu_s
        self.recorded.append(key)
        self.tick(status != "graded")
        return True

    def fail(self, key: str, why: str) -> None:
        """A submission no grader could grade: said, not recorded (the next run tries again)."""
        if self.left.pop(key, None) is not None:
            self.failed[key] = why
            self.echo(f"  {key}: could not be graded: {why}")
            self.tick(True)

    def tick(self, bad: bool) -> None:
        self.done += 1
        self.bad += bad
        if self.bar is not None:
            self.bar.set_postfix(done=self.done, failed=self.bad, left=len(self.left))
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def progress_bar(total: int, shown: bool):
    """A tqdm bar of submissions on stderr, or None."""
    if not shown or not total:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="submission", desc="autograding", file=sys.stderr)


def write_result(root: Path, student: str, lesson: str, result: Result) -> None:
    """Write a grader's result into the course: the autograded folder, the gradebook, the log."""
    target = course.autograded_dir(root, student, lesson)
    if target.exists():
        shutil.rmtree(target)
    if result.autograded is not None:
        write_files(target, unpack(result.autograded))
    write_grades(root, student, lesson, result)
    logs = course.work(root) / "logs"
    logs.mkdir(exist_ok=True)
    with open(logs / f"autograde-{lesson}.log", "a") as handle:
        handle.write(f"--- {student}\n{result.log}")


def handed_in_time(root: Path, student: str, lesson: str) -> str | None:
    """The submission's timestamp.txt (nbgrader's collect writes it), or None."""
    path = course.submitted_dir(root, student, lesson) / "timestamp.txt"
    text = path.read_text().strip() if path.is_file() and not path.is_symlink() else ""
    return text or None


def write_grades(root: Path, student: str, lesson: str, result: Result) -> None:
    """Scores and comments as nbgrader's SaveAutoGrades and AssignLatePenalties would write them."""
    from nbgrader.preprocessors import AssignLatePenalties
    from nbgrader.utils import parse_utc

    config = course.load_config(root)
    url = config.CourseDirectory.db_url
    graded = result.autograded is not None
    with warnings.catch_warnings(), open_gradebook(url=url) as gradebook:
        # (nbgrader's add_submission warns about its own session; its autograde does too)
        warnings.filterwarnings("ignore", "Object of type", module="sqlalchemy")
        warnings.filterwarnings("ignore", "Object of type", module="nbgrader")
        gradebook.update_or_create_student(student)
        stamp = handed_in_time(root, student, lesson)
        extra = {"timestamp": parse_utc(stamp)} if stamp else {}
        gradebook.update_or_create_submission(lesson, student, **extra)
        for name, (auto_score, needs_manual) in result.grades.items():
            grade = gradebook.find_grade(name, lesson, lesson, student)
            grade.auto_score = auto_score
            # SaveAutoGrades: an earlier manual grade is kept and marked for review
            grade.needs_manual_grade = needs_manual or (graded and grade.manual_score is not None)
        for name, text in result.comments.items():
            gradebook.find_comment(name, lesson, lesson, student).auto_comment = text
        gradebook.db.commit()
    if graded:
        resources = {
            "nbgrader": {
                "notebook": lesson,
                "assignment": lesson,
                "student": student,
                "db_url": url,
            }
        }
        AssignLatePenalties(config=config).preprocess(nbformat.v4.new_notebook(), resources)


# --------------------------------------------------------------------------- classifying


def first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def classify(
    root: Path, student: str, lesson: str, log: str, refused: list[str] | None = None
) -> tuple[str, str]:
    """(status, details) of one recorded submission."""
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
            f"{lesson}.ipynb is not a valid notebook: {first_line(error)[:200]}",
        )
    graded = course.autograded_path(root, student, lesson)
    if not graded.exists():
        errors = [line for line in log.splitlines() if "Error" in line or "error" in line]
        return "grading failed", (errors[-1] if errors else "see the autograde log")[:300]
    notebook = nbformat.read(graded, as_version=4)
    failed = {k: v for k, v in describe_outputs(notebook).items() if v != "ok"}
    parts = [f"{k}: {v.splitlines()[0][:120]}" for k, v in failed.items()]
    parts += points_lost(root, student, lesson, set(failed))
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


def points_lost(root: Path, student: str, lesson: str, failed: set[str]) -> list[str]:
    """Autograded cells that ran without an error but lost points (partial credit...)."""
    try:
        scores = cell_scores(root, lesson, student)
    except Exception:  # noqa: BLE001  (no gradebook entry: nothing to add)
        return []
    return [
        f"{s.grade_id}: {s.score:g} of {s.max_score:g} points"
        for s in scores
        if s.autograded and s.grade_id not in failed and (s.score or 0) < s.max_score
    ]
