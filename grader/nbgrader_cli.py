"""Run nbgrader's command-line apps from Python, with the virtualenv on PATH.

nbgrader shells out to `alembic` (gradebook migrations), so the folder of the
running interpreter must be on PATH even when the venv is not activated.
Each app runs in a process of its own (nbgrader's apps are singletons with
global logging); importing nbgrader takes seconds, so the lessons of a release
share one process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def nbgrader_env() -> dict[str, str]:
    """The current environment with this interpreter's bin folder first on PATH."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return env


def run_nbgrader(args: list[str], root: Path, check: bool = True) -> subprocess.CompletedProcess:
    """`nbgrader <args>` in course folder `root`; raises with nbgrader's output on failure."""
    command = [sys.executable, "-m", "nbgrader", *args]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, env=nbgrader_env())
    if check and result.returncode != 0:
        raise RuntimeError(
            f"nbgrader {' '.join(args)} failed (exit {result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


def generate_assignments(root: Path, lesson_ids: list[str]) -> None:
    """`nbgrader generate_assignment --force` for each lesson, in one process in `root`."""
    program = (
        "import sys; from grader.nbgrader_cli import _generate_here; _generate_here(sys.argv[1:])"
    )
    command = [sys.executable, "-c", program, *lesson_ids]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, env=nbgrader_env())
    if result.returncode != 0:
        raise RuntimeError(
            f"nbgrader generate_assignment {' '.join(lesson_ids)} failed "
            f"(exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


def _generate_here(lesson_ids: list[str]) -> None:
    """generate_assignment of each lesson of the course in the current folder (a subprocess)."""
    import logging

    from nbgrader.apps.api import NbGraderAPI

    from grader.course import load_config

    root = Path.cwd()
    config = load_config(root)
    config.CourseDirectory.root = str(root)
    api = NbGraderAPI(config=config)
    api.log.setLevel(logging.WARNING)
    for lesson_id in lesson_ids:
        result = api.generate_assignment(lesson_id, force=True)
        if not result["success"]:
            sys.exit(f"{lesson_id}: {result.get('error', '')}\n{result.get('log', '')}")
