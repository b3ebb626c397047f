"""Start JupyterLab on the course: `make lab` (a student) and `make instructor-lab`.

    python -m grader.lab [extra jupyter lab options]                # make lab
    python -m grader.lab --instructor [extra jupyter lab options]   # make instructor-lab

The server's root is the repository; the browser opens on notebooks/.

`make lab` is for someone learning alone: Validate, and none of nbgrader's
instructor or exchange tools (bundle.SOLO_LAB_CONFIG, on JUPYTER_CONFIG_PATH),
so nothing looks for an exchange. The instructor's lab first releases every
lesson (grader.release: the gradebook then lists each lesson with its
points), makes the exchange if it can (or says in one line how to), and
loads the formgrader.

Both serve notebooks with the language_info of their own kernel
(KernelLanguageContentsManager): JupyterLab writes the kernel's into a
notebook it opens, and a notebook that differs would show unsaved changes
before any edit.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

from grader import bundle, course, exchange, release
from grader.course import RELEASE, REPO
from grader.nbgrader_cli import nbgrader_env

STUDENT_CONFIG = course.WORK / "student-lab-config"
"""The Jupyter config folder of `make lab` (relative to the course root; written at start)."""
INSTRUCTOR_FLAG = "--instructor"


class KernelLanguageContentsManager(AsyncLargeFileManager):
    """Jupyter's contents manager, serving notebooks with this kernel's language_info.

    A release holds `{"name": "python"}` only (its Python's version would differ
    from machine to machine); the file on disk is unchanged until a save.
    """

    async def get(self, path, content=True, type=None, format=None, **kwargs):
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        if model.get("type") == "notebook" and model.get("content"):
            metadata = model["content"]["metadata"]
            if metadata.get("language_info") == release.LANGUAGE_INFO:
                metadata["language_info"] = kernel_language_info()
        return model


def kernel_language_info() -> dict:
    """What the course's kernel (ipykernel, this Python) reports as its language_info."""
    from ipykernel.ipkernel import IPythonKernel

    return dict(IPythonKernel.language_info)


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
        "--ServerApp.contents_manager_class=grader.lab.KernelLanguageContentsManager",
        *as_root,
        *extra,
    ]


def student_env(env: dict[str, str]) -> dict[str, str]:
    """`env` with SOLO_LAB_CONFIG first on JUPYTER_CONFIG_PATH."""
    folder = bundle.write_lab_config(REPO / STUDENT_CONFIG, bundle.SOLO_LAB_CONFIG)
    paths = [str(folder), *filter(None, env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep))]
    return {**env, "JUPYTER_CONFIG_PATH": os.pathsep.join(paths)}


def exchange_root(root: Path = REPO) -> Path:
    """The exchange nbgrader_config.py names (NBGRADER_EXCHANGE or nbgrader's default)."""
    return Path(course.load_config(root).Exchange.root)


def prepare_instructor(root: Path = REPO) -> None:
    """Register every lesson and its points in the gradebook, and make the exchange."""
    print("registering the lessons in the gradebook (make release) ...", flush=True)
    release.release(root)
    folder = exchange_root(root)
    try:
        if not os.access(folder, os.W_OK | os.X_OK):
            exchange.prepare_exchange(folder)
    except OSError:
        print(
            f"no exchange at {folder} (publish and collect need one): "
            f"sudo mkdir -p {folder} && sudo chmod 777 {folder}, or NBGRADER_EXCHANGE=<folder>",
            flush=True,
        )


def main() -> None:
    args = sys.argv[1:]
    instructor = INSTRUCTOR_FLAG in args
    args = [arg for arg in args if arg != INSTRUCTOR_FLAG]
    if instructor:
        prepare_instructor()
    os.chdir(REPO)
    command = lab_command(args)
    env = nbgrader_env() if instructor else student_env(nbgrader_env())
    # The Makefile exports MPLBACKEND=Agg for tests; kernels of the lab must plot inline.
    env.pop("MPLBACKEND", None)
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main()
