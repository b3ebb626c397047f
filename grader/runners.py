"""Where `grade_one` runs: warm grader processes on this machine, or Celery workers.

Both runners take {key: Task} and a recorder (grader/recording.py's Recorder:
`record(key, Result)`, `fail(key, why)`, `left`, `echo`) and call it on this
thread as results come, so the coordinator stays the only writer.

Here (`run_here`), a pool of N long-lived processes (N = 1 is serial grading:
there is no other code path) grade submission after submission; a lesson's
kit is unpacked once per process. The processes are forked from a **warm
server** (multiprocessing's forkserver): a clean process, started once per
coordinator process, that imports nbgrader and the grader (GRADER_MODULES)
once; a grader forked from it starts in milliseconds instead of the seconds
a fresh interpreter takes to import them, and inherits nothing of the
coordinator but its environment and folder (given at the pool's start). A
process is replaced after MAX_TASKS_PER_PROCESS submissions (what a long run
leaks stays bounded). Elsewhere (`run_through_broker`), Celery workers run
the same `grade_one` (grader/celery_app.py).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import forkserver

from grader.grade_one import WARM_MODULES, Task, grade_one, warm_up

MAX_TASKS_PER_PROCESS = 200
"""Submissions one grader process grades before a fresh one takes its place."""


def default_workers() -> int:
    """Submissions graded at a time on this machine: RLCOURSE_WORKERS, or the number of cores."""
    return int(os.environ.get("RLCOURSE_WORKERS") or os.cpu_count() or 1)


# A grader re-runs `python -m X`'s module X, which the warm server imported: runpy warns.
warnings.filterwarnings(
    "ignore", r"'.*' found in sys\.modules after import of package", RuntimeWarning, "runpy"
)
GRADER_MODULES = ["grader.runners", *WARM_MODULES]
"""What the warm server imports once, for every grader forked from it."""


def warm_server() -> multiprocessing.context.BaseContext:
    """The forkserver context whose server imports GRADER_MODULES (set before it starts).

    It imports the main module of `python -m <module>` too: a grader, like any process
    multiprocessing starts, runs it again (as __mp_main__), which costs nothing once its
    imports are warm (`python -m bench.run` imports torch: seconds for every grader).
    """
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    main = [spec.name] if spec is not None and spec.name else []
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*main, *GRADER_MODULES])
    return context


def start_warm_server() -> None:
    """Start the warm server now (once per process), e.g. while the coordinator prepares."""
    warm_server()
    forkserver.ensure_running()


def grader_pool(workers: int) -> ProcessPoolExecutor:
    """`workers` grader processes forked from the warm server, with this process's environment."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=warm_server(),
        initializer=begin_grader,
        initargs=(dict(os.environ),),
        max_tasks_per_child=MAX_TASKS_PER_PROCESS,
    )


def begin_grader(env: dict[str, str]) -> None:
    """A grader's start: the coordinator's environment of now (not the server's), warm imports."""
    os.environ.clear()
    os.environ.update(env)
    warm_up()


def run_here(tasks: dict[str, Task], workers: int, recorder) -> None:
    """Grade the tasks `workers` at a time in warm processes; record each on this thread."""
    if not tasks:
        return
    pool = grader_pool(min(workers, len(tasks)))
    try:
        futures = {pool.submit(grade_one, task): key for key, task in tasks.items()}
        remaining = set(futures)
        while remaining:
            finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
            for future in finished:
                key, error = futures[future], future.exception()
                if error is None:
                    recorder.record(key, future.result())
                else:
                    recorder.fail(key, f"{type(error).__name__}: {error}")
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def run_through_broker(broker: str, tasks: dict[str, Task], recorder) -> None:
    """Grade the tasks on the Celery workers of `broker`; record each on this thread."""
    from grader import celery_app

    recorder.echo(f"autograding {len(tasks)} submission(s) through {celery_app.safe(broker)}")
    celery_app.grade_through_broker(broker, tasks, recorder)
