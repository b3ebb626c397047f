"""The preflight: a lesson's reference answers graded first, exactly as a submission is.

Before the submissions of a lesson are graded, the reference answers are
graded by `grade_one` with the same kit, sandbox, guard and limits: if they do
not get every autograded point, the grading environment is broken (another
rlhelpers on the kernel's path, a missing package...) and grading stops with
what failed, before any grade is written. The verdict is kept in
grader/work/preflight.json under a key of what it depends on
(`environment_key`), so it runs again only when that changes. The preflight
writes nothing into the course's gradebook.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import nbformat

from grader import course
from grader.grade_one import Kit, Task, grade_one, pack, unpack
from grader.grading import fill_answers
from grader.kernel import sandbox
from grader.kernel.guard import describe_outputs, top_level_modules
from grader.limits import GradingLimits
from grader.release import build_source_notebook

GRADING_CODE = (
    "course.py",
    "limits.py",
    "nbgrader_cli.py",
    "grade_one.py",
    "gradebook.py",
    "kernel/guard.py",
    "kernel/sandbox.py",
    "kernel/submission.py",
    "release.py",
    "grading.py",
    "preflight.py",
)
"""The files under grader/ (paths relative to it) that decide a grade: the nbgrader process's
code and the kit's maker (not the coordinator's bookkeeping, the hub, the demos, the feedback
pages or the README)."""


class PreflightFailed(RuntimeError):
    """The reference answers lost points in the sandbox: the grading environment is broken."""


def preflight_path(root: Path) -> Path:
    """grader/work/preflight.json: {lesson: the environment key its preflight passed with}."""
    return course.work(root) / "preflight.json"


def passed(root: Path, lesson: str, key: str) -> bool:
    """Whether the lesson's preflight passed with this environment key."""
    path = preflight_path(root)
    return path.exists() and json.loads(path.read_text()).get(lesson) == key


def remember(root: Path, lesson: str, key: str) -> None:
    path = preflight_path(root)
    done = json.loads(path.read_text()) if path.exists() else {}
    done[lesson] = key
    path.write_text(json.dumps(done, indent=1, sort_keys=True))


def environment_key(root: Path, lesson: str) -> str:
    """What the preflight's verdict depends on: the lesson, the grading code, the kernel's world."""
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
        repr(GradingLimits.from_env()),
        str(sandbox.opted_out()),
        str(sandbox.sandbox_uid()),
    ]
    here = Path(__file__).parent
    parts += [(here / name).read_text() for name in GRADING_CODE]
    for locations in probe["modules"].values():
        for location in locations:
            if not any(location.startswith(prefix + "/") for prefix in probe["prefixes"]):
                parts += tree_listing(location)  # outside the venv (an editable install)
    for entry in probe["path"]:
        if os.path.isdir(entry):
            parts += sorted(n for n in os.listdir(entry) if n.endswith(".dist-info"))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def tree_listing(folder: str) -> list[str]:
    """Relative paths, sizes and mtimes of the files under a folder (cheap change detection)."""
    listing = []
    for path in sorted(Path(folder).rglob("*")) if os.path.isdir(folder) else [Path(folder)]:
        if path.is_file() and "__pycache__" not in path.parts:
            info = path.stat()
            listing.append(f"{path}:{info.st_size}:{info.st_mtime_ns}")
    return listing


def first_error(notebook: nbformat.NotebookNode) -> str:
    """`cell N: Error: message` of the first code cell that raised, or 'none'."""
    for number, cell in enumerate(notebook.cells, 1):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.output_type == "error":
                return f"cell {number}: {output.ename}: {output.evalue}"[:300]
    return "none"


def reference_task(root: Path, lesson: str, kit: Kit) -> Task:
    """The task of a submission that holds the reference answers."""
    release = nbformat.read(course.release_path(root, lesson), as_version=4)
    instructor = build_source_notebook(course.source_path(root, lesson))  # (kept current)
    reference = nbformat.read(instructor, as_version=4)
    notebook = nbformat.writes(fill_answers(release, reference)).encode()
    config = root / course.CONFIG_FILE
    return Task(
        lesson,
        kit,
        pack({f"{lesson}.ipynb": notebook}),
        GradingLimits.from_env(),
        str(config) if config.exists() else None,
    )


def check(root: Path, lesson: str, kit: Kit, echo=print, key: str | None = None) -> None:
    """Grade the reference answers (unless passed before); PreflightFailed unless every point.

    `key`: the lesson's environment_key when the caller has it already.
    """
    key = key or environment_key(root, lesson)
    if passed(root, lesson, key):
        return
    started = time.perf_counter()
    result = grade_one(reference_task(root, lesson, kit))
    if result.autograded is None:
        tail = result.log.strip().splitlines()[-5:]
        raise PreflightFailed(
            f"{lesson}: the reference answers could not be graded at all: " + " / ".join(tail)
        )
    files = unpack(result.autograded)
    notebook = nbformat.reads(files[f"{lesson}.ipynb"].decode(), as_version=4)
    outputs = describe_outputs(notebook)
    lost = [
        f"{grade_id} {score or 0:g}/{most:g} ({outputs.get(grade_id, 'ok')[:200]})"
        for grade_id, score, most in autograded_scores(root, lesson, result.grades)
        if (score or 0) < most
    ]
    if lost:
        raise PreflightFailed(
            f"{lesson}: the reference answers lose points in the sandbox, so the grading "
            f"environment is broken and no grade was written: {'; '.join(lost)}. "
            f"The first error in the notebook: {first_error(notebook)}. Check that "
            "the kernel imports this course's rlhelpers (python -m grader.kernel.sandbox)."
        )
    remember(root, lesson, key)
    echo(
        f"  preflight {lesson}: the reference answers get every point "
        f"({time.perf_counter() - started:.1f} s)"
    )


def autograded_scores(root: Path, lesson: str, grades: dict) -> list[tuple[str, float, float]]:
    """(grade_id, score, points) of each autograded test cell of the lesson, in order."""
    release = nbformat.read(course.release_path(root, lesson), as_version=4)
    return [
        (course.grade_id(cell), (grades.get(course.grade_id(cell)) or [0])[0], course.points(cell))
        for cell in release.cells
        if course.is_grade_test(cell)
    ]
