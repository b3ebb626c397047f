"""Where nbgrader is started: its command-line apps, its API, its exchange steps.

The one module that starts nbgrader: `run_nbgrader` (a command in a process of
its own), `generate_assignments` (the API in one subprocess for many lessons),
`autograde_here` (the API in this process: a warm grader's) and
`student_exchange_step` (a student's fetch or submit, in this process).

nbgrader shells out to `alembic` (gradebook migrations), so the folder of the
running interpreter must be on PATH even when the venv is not activated.
A command-line app runs in a process of its own (nbgrader's apps are
singletons with global logging); importing nbgrader takes seconds, so the
lessons of a release share one process, and a warm grader calls the API's
autograde (a fresh converter each call) for submission after submission.
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
        "import sys; from grader.nbgrader_cli import generate_here; generate_here(sys.argv[1:])"
    )
    command = [sys.executable, "-c", program, *lesson_ids]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, env=nbgrader_env())
    if result.returncode != 0:
        raise RuntimeError(
            f"nbgrader generate_assignment {' '.join(lesson_ids)} failed "
            f"(exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


def generate_here(lesson_ids: list[str]) -> None:
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


def autograde_here(root: Path, lesson_id: str, student: str) -> tuple[bool, str]:
    """nbgrader autograde of one student's submission, in this process; (success, log).

    A warm grader calls it for submission after submission: nbgrader is imported
    once, its configuration is read from `root/nbgrader_config.py` each time (with
    the environment of the moment: the database, the limits), and kernels are
    started per submission as the configuration says (in the sandbox).
    """
    import logging
    import warnings

    from nbgrader.apps.api import NbGraderAPI

    from grader.course import load_config

    config = load_config(root)
    config.CourseDirectory.root = str(root)
    with _path_with_this_python(), warnings.catch_warnings():
        # (nbgrader's add_submission warns about its own session; its command line too)
        warnings.filterwarnings("ignore", "Object of type", module="sqlalchemy")
        warnings.filterwarnings("ignore", "Object of type", module="nbgrader")
        api = NbGraderAPI(config=config)
        api.log.setLevel(logging.WARNING)
        result = api.autograde(lesson_id, student, force=True, create=True)
    log = result.get("log", "") + result.get("error", "")
    return bool(result["success"]), log


def _path_with_this_python():
    from grader.limits import environment

    return environment({"PATH": nbgrader_env()["PATH"]})


def student_exchange_step(
    action: str, home: Path, lesson: str, student: str, exchange: Path | None
) -> None:
    """nbgrader's fetch_assignment ("fetch") or submit for one student, in this process."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeFetchAssignment, ExchangeSubmit
    from traitlets.config import Config

    from grader.course import COURSE_ID

    config = Config()
    if exchange:
        config.Exchange.root = str(exchange)
    config.Exchange.assignment_dir = str(home)
    coursedir = CourseDirectory(config=config, root=str(home))
    coursedir.course_id = COURSE_ID
    coursedir.assignment_id = lesson
    coursedir.student_id = student
    kind = ExchangeFetchAssignment if action == "fetch" else ExchangeSubmit
    step = kind(coursedir=coursedir, authenticator=Authenticator(config=config), config=config)
    step.start()
