"""Run nbgrader's command-line apps from Python, with the virtualenv on PATH.

nbgrader shells out to `alembic` (gradebook migrations), so the folder of the
running interpreter must be on PATH even when the venv is not activated.
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
