"""Grading through Celery for real: a redis-server, two worker processes, a kill, a restart.

The test starts a private `redis-server` on a free loopback port and two
Celery workers (grader/celery_app.py), and grades the fixture course's whole
bad-submission corpus through them. While it runs, the broker is restarted
(it keeps nothing: its queue is lost, the coordinator sends again what has no
result) and one worker is SIGKILLed in the middle of a submission (its task
stays unacknowledged and goes to the other worker). Every submission must be
graded once, with the grades that serial grading gives (the table that
tests/test_grading_class.py pins for the serial class demo). Redis and the
workers are stopped whatever happens.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import psutil
import pytest
from course_tools import NEEDS_SANDBOX
from grading_corpus import (
    CELL_TIMEOUT_S,
    FIXTURE,
    assert_outcome,
    assert_pinned_points,
    corpus_course,
    corpus_kinds,
    grading_limits,
)

from grader import autograde, celery_app, course, pipeline
from grader.demo import classroom

pytestmark = NEEDS_SANDBOX
VISIBILITY_S = 40
"""The workers' visibility timeout here: a killed worker's task is handed out again after it."""
PATIENCE_S = 900


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    try:
        celery_app.redis_server()
    except FileNotFoundError as error:
        pytest.skip(f"no redis-server: {error}")
    server = celery_app.RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def workers(broker, tmp_path_factory):
    env = {
        **os.environ,
        **classroom.DEMO_ENVIRONMENT,
        course.CELL_TIMEOUT_VARIABLE: CELL_TIMEOUT_S,
        celery_app.VISIBILITY_VARIABLE: str(VISIBILITY_S),
        celery_app.TIME_LIMIT_VARIABLE: "240",
    }
    started = []
    try:
        for name in ("grader-a", "grader-b"):
            log = tmp_path_factory.mktemp("logs") / f"{name}.log"
            started.append(celery_app.start_worker(broker.url, name, log, env))
        yield started
    finally:
        for process in started:
            celery_app.stop_worker(process)


def _grading(process: subprocess.Popen) -> bool:
    """True while a worker has a submission's kernel running (it is in mid-submission).

    A worker grades in its own long-lived process (nbgrader imported once); the
    kernel of each submission is a process of its own, started per submission.
    """
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return False
    return any("ipykernel" in " ".join(child.cmdline()) for child in children if _alive(child))


def _alive(child) -> bool:
    try:
        return child.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _recorded(root) -> int:
    return len(autograde.load_state(root)) if autograde.state_path(root).exists() else 0


def _wait_for(condition, what: str, thread: threading.Thread) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        if not thread.is_alive():
            pytest.fail(f"grading ended before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"waited {PATIENCE_S} s for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def celery_run(tmp_path_factory, broker, workers):
    root = corpus_course(tmp_path_factory.mktemp("celery"))
    said, outcome = [], {}

    def coordinate():
        try:
            with grading_limits():
                outcome["run"] = pipeline.grade_all(
                    root, broker=broker.url, echo=said.append, progress=False
                )
        except BaseException as error:  # noqa: BLE001  (the test says what went wrong)
            outcome["error"] = error

    thread = threading.Thread(target=coordinate, daemon=True)
    thread.start()
    _wait_for(lambda: _recorded(root) >= 2, "two results", thread)
    broker.stop()
    broker.start()
    _wait_for(lambda: _recorded(root) >= 6, "six results after the restart", thread)
    _wait_for(lambda: any(_grading(w) for w in workers), "a worker in mid-submission", thread)
    victim = next(w for w in workers if _grading(w))
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(30)
    thread.join(PATIENCE_S)
    assert not thread.is_alive(), f"grading did not end in {PATIENCE_S} s: {said}"
    if "error" in outcome:
        raise outcome["error"]
    return root, outcome["run"], said, victim


def test_every_submission_is_graded_with_the_serial_grades(celery_run):
    root, run, _, _ = celery_run
    assert_pinned_points(root)
    assert not run.failed and run.mode.startswith("celery")


def test_each_submission_is_recorded_once(celery_run):
    from nbgrader.api import Gradebook

    root, run, _, _ = celery_run
    assert sorted(run.seconds) == sorted(f"{kind}/{FIXTURE}" for kind in corpus_kinds())
    config = course.load_config(root).CourseDirectory
    with Gradebook(config.db_url, config.course_id) as gradebook:
        handed_in = [s.student.id for s in gradebook.find_assignment(FIXTURE).submissions]
    assert sorted(handed_in) == corpus_kinds()
    log = (course.work(root) / "logs" / f"autograde-{FIXTURE}.log").read_text()
    for kind in corpus_kinds():
        assert log.count(f"--- {kind}\n") == 1, f"{kind} recorded more than once"


def test_the_killed_worker_died_and_the_restart_was_noticed(celery_run):
    _, _, said, victim = celery_run
    assert victim.returncode == -signal.SIGKILL
    assert "the broker restarted: sending again what has no result" in said, said
    # the killed worker's task came back from the broker (late acknowledgement and the
    # visibility timeout), not from the coordinator's own last resort
    assert not [line for line in said if "after a worker took it" in line], said


def test_outcomes_say_what_happened(celery_run):
    root, _, _, _ = celery_run
    recorded = autograde.outcomes(root)
    assert sorted(o.student for o in recorded) == corpus_kinds()
    for outcome in recorded:
        assert_outcome(outcome)
