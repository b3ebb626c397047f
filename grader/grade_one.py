"""One submission graded: the unit of work of every grading mode.

    result = grade_one(Task(lesson, kit, packed_submission, GradingLimits.from_env()))

A `Task` carries what grading one submission needs and nothing else: the
lesson's id, its grading **kit** (the released notebook and a gradebook that
holds only the lesson's cells and hidden tests: no student, no grade, no
solution), the submission's files packed (a zip, links left out) and the
grading limits. The student's id never travels: inside, every submission is
`STUDENT`. `grade_one` unpacks the kit (once per process: a warm grader keeps
it) and the submission into a scratch course of its own, runs nbgrader's
autograde there in this process (nbgrader is imported once per process; the
kernel is started per submission, in the sandbox, as nbgrader_config.py says)
and returns a `Result`: the autograded folder packed, every grade cell's score,
the comments and nbgrader's log. It writes nothing outside its scratch folder:
the coordinator (grader/pipeline.py) alone writes the course's gradebook and
grader/work/. Tasks and results are JSON-ready (Celery carries them).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import resource
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader import course
from grader.gradebook import open_gradebook, sqlite_url
from grader.limits import GradingLimits, environment
from grader.nbgrader_cli import autograde_here

STUDENT = "student"
"""The student id inside a scratch course (the real id never leaves the coordinator)."""

# --------------------------------------------------------------------------- packing


def pack(files: dict[str, bytes]) -> str:
    """A zip of {relative path: bytes}, as base64 text (what travels in a JSON task)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
    return base64.b64encode(buffer.getvalue()).decode()


def unpack(text: str) -> dict[str, bytes]:
    """The files of a `pack`ed zip; a name that would leave its folder is an error."""
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(text))) as archive:
        files = {}
        for name in archive.namelist():
            parts = Path(name).parts
            if Path(name).is_absolute() or ".." in parts or not parts:
                raise ValueError(f"a packed file leaves its folder: {name!r}")
            if not name.endswith("/"):
                files[name] = archive.read(name)
        return files


def folder_files(folder: Path) -> dict[str, bytes]:
    """{relative path: bytes} of the regular files under a folder (links are never followed)."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


# --------------------------------------------------------------------------- task and result


@dataclass(frozen=True)
class Kit:
    """What grading one lesson's submissions needs: its release and a gradebook of its cells."""

    lesson: str
    packed: str

    @property
    def key(self) -> str:
        return hashlib.sha256(self.packed.encode()).hexdigest()


@dataclass(frozen=True)
class Task:
    """One submission to grade, without its student's id."""

    lesson: str
    kit: Kit
    submission: str
    """The submission's folder, packed (copied without links, nbgrader's ignore list applied)."""
    limits: GradingLimits = field(default_factory=GradingLimits)
    config: str | None = None
    """The nbgrader_config.py to grade with; None: this checkout's (a Celery worker's own)."""


@dataclass
class Result:
    """What grading one submission gave (JSON-ready with `to_json`)."""

    autograded: str | None
    """The autograded folder, packed; None when nbgrader wrote none."""
    grades: dict[str, list]
    """{grade_id: [auto_score, needs_manual_grade]}."""
    comments: dict[str, str | None]
    """{grade_id: auto_comment}."""
    log: str
    """nbgrader's log of this submission."""
    seconds: float
    """Wall seconds grade_one took."""
    cpu_s: float = 0.0
    """CPU seconds of the grader process and the helpers it waited for (not the sandboxed
    kernel) since its previous result (its first: since it started)."""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Result:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


# --------------------------------------------------------------------------- the unit


def grade_one(task: Task) -> Result:
    """Grade one submission in a scratch course of its own (see the module doc)."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rlcourse-grade-") as tmp:
        root = scratch_course(Path(tmp) / "course", task)
        settings = {
            **task.limits.to_env(),
            "NBGRADER_DB_URL": sqlite_url(root),
            "JUPYTER_RUNTIME_DIR": str(Path(tmp) / "runtime"),
        }
        with environment(settings), output_captured() as printed:
            _, log = autograde_here(root, task.lesson, STUDENT)
        log += "".join(printed)
        graded = course.autograded_dir(root, STUDENT, task.lesson)
        grades, comments = scratch_grades(root, task.lesson)
        return Result(
            pack(folder_files(graded)) if graded.is_dir() else None,
            grades,
            comments,
            log,
            time.perf_counter() - started,
            cpu_since_last_result(),
        )


CPU_SEEN = [0.0]
"""This process's CPU seconds (its own and its waited-for children's) at its previous result."""


def cpu_since_last_result() -> float:
    now = sum(
        usage.ru_utime + usage.ru_stime
        for usage in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )
    spent, CPU_SEEN[0] = now - CPU_SEEN[0], now
    return spent


@contextlib.contextmanager
def output_captured():
    """What this process and its children (the kernel) print, kept out of the terminal.

    File descriptors 1 and 2 point to a temporary file for the block (nbgrader ran
    as a subprocess with its output captured before; now a warm grader does it in
    its own process); the list it yields gets the text when the block ends.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    printed: list[str] = []
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield printed
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            printed.append(sink.read().decode(errors="replace"))


def scratch_course(root: Path, task: Task) -> Path:
    """A course folder with the kit, the config and the one submission as STUDENT's."""
    write_files(root, unpacked_kit(task.kit))
    config = Path(task.config) if task.config else course.REPO / course.CONFIG_FILE
    shutil.copy(config, root / course.CONFIG_FILE)
    write_files(course.submitted_dir(root, STUDENT, task.lesson), unpack(task.submission))
    return root


KITS: dict[str, dict[str, bytes]] = {}
"""{kit key: its files} of this process: a warm grader unpacks a kit once and keeps it in
memory (a folder kept on disk would outlive the process: nothing removes it when a pool
process exits), writing it into each submission's scratch course, which goes away with it."""
KITS_KEPT = 8
"""Kits a grader keeps at most (a course's lessons; a long-lived Celery worker meets every
new version of a lesson's kit over a term): the one used longest ago goes first."""


def unpacked_kit(kit: Kit) -> dict[str, bytes]:
    """The kit's files, unpacked on first use in this process."""
    files = KITS.pop(kit.key, None)  # (put back last: the most recently used)
    if files is None:
        files = unpack(kit.packed)
        while len(KITS) >= KITS_KEPT:
            KITS.pop(next(iter(KITS)))
    KITS[kit.key] = files
    return files


def scratch_grades(root: Path, lesson: str) -> tuple[dict, dict]:
    """The scratch gradebook's grades and comments of the one submission (empty if none)."""
    from nbgrader.api import MissingEntry

    with open_gradebook(url=sqlite_url(root)) as gradebook:
        try:
            notebook = gradebook.find_submission_notebook(lesson, lesson, STUDENT)
        except MissingEntry:
            return {}, {}
        grades = {g.name: [g.auto_score, bool(g.needs_manual_grade)] for g in notebook.grades}
        comments = {c.name: c.auto_comment for c in notebook.comments}
    return grades, comments


WARM_MODULES = [
    "grader.grade_one",
    "nbgrader.apps.api",
    "nbgrader.converters.autograde",
    "nbgrader.api",
    "grader.kernel.guard",
    "grader.kernel.submission",
    "grader.exchange",
    "ipykernel.kernelspec",
    "sqlalchemy.dialects.sqlite",
    "sqlite3",
    "IPython.display",
]
"""What grading imports: once per grader process (or once in the server it is forked from).
From grader.exchange on: what nbgrader and jupyter_client import on a first submission (the
exchange the configuration names, the kernel's spec, SQLite, IPython's display)."""


def warm_up() -> None:
    """Import what grading needs once (a grader process's start, before its first task)."""
    import importlib

    for name in WARM_MODULES:
        importlib.import_module(name)
