"""Start JupyterLab on the course, as `make lab` does.

    python -m grader.lab [extra jupyter lab options]

The server's root is the repository (nbgrader's formgrader needs the course
root and its nbgrader_config.py); the browser opens on notebooks/. The
instructor notebooks are rebuilt from their py:percent sources first, so the
formgrader lists every lesson.
"""

from __future__ import annotations

import os
import sys

from grader.course import RELEASE, REPO, lesson_ids, source_path
from grader.nbgrader_cli import nbgrader_env
from grader.release import build_source_notebook


def lab_command(extra: list[str]) -> list[str]:
    # Jupyter refuses to run as root unless told to (containers and CI run as root).
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        f"--ServerApp.root_dir={REPO}",
        f"--LabApp.default_url=/lab/tree/{RELEASE}",
        *as_root,
        *extra,
    ]


def main() -> None:
    for lesson_id in lesson_ids():
        build_source_notebook(source_path(REPO, lesson_id))
    os.chdir(REPO)
    command = lab_command(sys.argv[1:])
    env = nbgrader_env()
    # The Makefile exports MPLBACKEND=Agg for tests; kernels of the lab must plot inline.
    env.pop("MPLBACKEND", None)
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main()
