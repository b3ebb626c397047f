"""Grading on many machines: Celery workers that take submissions from a Redis broker.

    python -m grader.celery_app worker --broker redis://HOST:6379/0 [--concurrency N]
    python -m grader.celery_app broker [--bind 127.0.0.1] [--port 6379]   # a redis-server
    python -m grader.autograde --broker redis://HOST:6379/0               # the coordinator

A worker runs on a machine with the course's environment (this repository and
its .venv, bubblewrap): it grades with its own nbgrader_config.py and sandbox,
so nothing executable but the students' code and the lesson's tests (both in
the sandbox) comes over the wire. Each task carries one packed submission, the
lesson's id, the coordinator's grading limits and the key of the lesson's
grading kit (grader/grade_one.py), which the coordinator stores once in Redis
and a worker fetches once; the task returns the autograded folder and the
scores. Tasks and results are JSON only.

Faults: tasks are acknowledged late (`task_acks_late`), a worker reserves one
task at a time (`worker_prefetch_multiplier=1`), a task whose worker process
dies is given back to the queue (`task_reject_on_worker_lost`), and a task has
a time limit (RLCOURSE_TASK_TIME_LIMIT, default 3600 s). A worker machine that
dies holds its task unacknowledged; Redis gives it to another worker after the
visibility timeout (RLCOURSE_VISIBILITY_TIMEOUT, default the time limit + 300 s).
The coordinator records a submission once, whichever result comes first; it
sends again what has no result when the broker restarted (Redis's run_id
changed: its queue may be lost) and what a worker started longer ago than the
time limit.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from celery import Celery
from celery.signals import worker_init

from grader import course
from grader.grade_one import Kit, Result, Task, grade_one, warm_up
from grader.limits import GradingLimits

QUEUE = "rlcourse-grading"
TASK = "rlcourse.grade_submission"
KIT_PREFIX = "rlcourse:kit:"
KIT_SECONDS = 7 * 24 * 3600
"""How long a grading kit stays in Redis."""
BROKER_VARIABLE = "RLCOURSE_BROKER"
TIME_LIMIT_VARIABLE = "RLCOURSE_TASK_TIME_LIMIT"
VISIBILITY_VARIABLE = "RLCOURSE_VISIBILITY_TIMEOUT"
DEFAULT_TIME_LIMIT = 3600
ATTEMPTS = 2
"""A task that fails (not a lost worker: an error) is sent this many times in all."""


class KitMissing(RuntimeError):
    """The lesson's grading kit is not in Redis (the broker restarted without it)."""


def task_time_limit() -> int:
    return int(os.environ.get(TIME_LIMIT_VARIABLE) or DEFAULT_TIME_LIMIT)


def visibility_timeout() -> int:
    return int(os.environ.get(VISIBILITY_VARIABLE) or task_time_limit() + 300)


def safe(url: str) -> str:
    """A broker URL without its password (for messages)."""
    return re.sub(r"//([^@/]*):[^@/]*@", r"//\1:***@", url)


def make_app(broker: str) -> Celery:
    """A Celery app on `broker` (Redis is broker and result store) with the fault settings."""
    app = Celery("rlcourse", broker=broker, backend=broker, set_as_current=False)
    limit = task_time_limit()
    # a message a dead worker held is looked for every 10 s (kombu's default: ~100 s)
    transport = {
        "visibility_timeout": visibility_timeout(),
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=limit,
        task_soft_time_limit=max(limit - 30, limit // 2),
        task_track_started=True,
        task_default_queue=QUEUE,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        result_expires=KIT_SECONDS,
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        broker_connection_retry_on_startup=True,
        result_backend_always_retry=True,
        result_backend_max_retries=20,
        worker_hijack_root_logger=False,
    )
    return app


app = make_app(os.environ.get(BROKER_VARIABLE) or "redis://127.0.0.1:6379/0")
"""The workers' app (`celery -A grader.celery_app worker`): RLCOURSE_BROKER names the broker."""


@worker_init.connect
def import_grading_once(**_) -> None:
    """A worker imports nbgrader before its pool forks: every pool process starts warm."""
    warm_up()


_KITS: dict[str, str] = {}


def fetch_kit(client, key: str) -> str:
    """A grading kit by its key: cached in this process, else read from Redis and checked."""
    if key not in _KITS:
        data = client.get(KIT_PREFIX + key)
        if data is None:
            raise KitMissing(f"grading kit {key[:12]} is not in the broker")
        packed = data.decode()
        if hashlib.sha256(packed.encode()).hexdigest() != key:
            raise KitMissing(f"grading kit {key[:12]} does not match its key")
        _KITS.clear()  # one lesson's kit at a time is what a worker needs
        _KITS[key] = packed
    return _KITS[key]


@app.task(name=TASK)
def grade_submission(kit_key: str, lesson: str, packed: str, settings: dict) -> dict:
    """grade_one with this worker's course configuration and the coordinator's limits.

    The worker's process is long-lived (Celery's pool): nbgrader is imported once
    and a lesson's kit fetched and unpacked once for many submissions.
    """
    kit = Kit(lesson, fetch_kit(app.backend.client, kit_key))
    task = Task(lesson, kit, packed, GradingLimits.from_env(settings))
    return grade_one(task).to_json()


# --------------------------------------------------------------------------- coordinator


class _Tasks:
    """Which task carries which submission, and when a worker started it."""

    def __init__(self):
        self.job_of: dict[str, str] = {}
        self.started: dict[str, tuple[object, float]] = {}
        self.attempts: dict[str, int] = {}


def grade_through_broker(broker: str, jobs: dict[str, Task], recorder, poll_s: float = 0.5) -> None:
    """Send one Celery task per job, record results as they come, send again what was lost.

    `recorder` is grader/recording.py's Recorder (record, fail, left, echo).
    """
    import redis
    from kombu.exceptions import OperationalError

    coordinator = make_app(broker)
    backend, client = coordinator.backend, coordinator.backend.client
    by_key = dict(jobs)
    kits = {task.kit.key: task.kit for task in jobs.values()}
    tasks = _Tasks()
    overdue = task_time_limit() + 120

    def upload():
        for kit in kits.values():
            client.set(KIT_PREFIX + kit.key, kit.packed, ex=KIT_SECONDS)

    def send(key: str):
        job = by_key[key]
        args = [job.kit.key, job.lesson, job.submission, job.limits.to_env()]
        result = coordinator.send_task(TASK, args=args, queue=QUEUE)
        tasks.job_of[result.id] = key
        tasks.attempts[key] = tasks.attempts.get(key, 0) + 1

    run_id = _wait_for_broker(client, recorder.echo)
    upload()
    for key in by_key:
        send(key)
    unreachable = False
    while recorder.left:
        try:
            current = client.info("server")["run_id"]
            if current != run_id:
                recorder.echo("the broker restarted: sending again what has no result")
                upload()
                for key in list(recorder.left):
                    send(key)
                run_id = current  # (only once all of them are sent again)
            for task_id, meta in _results(backend, tasks, recorder):
                _handle(task_id, meta, tasks, recorder, upload, send, backend)
            for task_id, (_, since) in list(tasks.started.items()):
                key = tasks.job_of[task_id]
                if key in recorder.left and time.monotonic() - since > overdue:
                    recorder.echo(f"  {key}: no result {overdue} s after a worker took it; again")
                    del tasks.started[task_id]
                    send(key)
            unreachable = False
        except (redis.exceptions.RedisError, OperationalError, OSError):
            if not unreachable:
                recorder.echo(f"the broker {safe(broker)} is unreachable: waiting for it")
            unreachable = True
        time.sleep(poll_s)
    for task_id in tasks.job_of:
        with contextlib.suppress(Exception):
            backend.delete(backend.get_key_for_task(task_id))


def _wait_for_broker(client, echo, patience_s: float = 60) -> str:
    deadline = time.monotonic() + patience_s
    while True:
        try:
            return client.info("server")["run_id"]
        except Exception:
            if time.monotonic() > deadline:
                raise
            echo("waiting for the broker")
            time.sleep(2)


def _results(backend, tasks: _Tasks, recorder):
    """(task id, meta) of the tasks whose submission is not recorded yet, in batches of 200."""
    ids = [task_id for task_id, key in tasks.job_of.items() if key in recorder.left]
    for start in range(0, len(ids), 200):
        batch = ids[start : start + 200]
        values = backend.mget([backend.get_key_for_task(task_id) for task_id in batch])
        for task_id, value in zip(batch, values, strict=True):
            if value is not None:
                yield task_id, backend.decode_result(value)


def _handle(task_id, meta, tasks: _Tasks, recorder, upload, send, backend) -> None:
    key = tasks.job_of[task_id]
    status = meta.get("status")
    if status == "STARTED":
        worker = meta.get("result")
        worker = (worker or {}).get("hostname"), (worker or {}).get("pid")
        if tasks.started.get(task_id, (None, 0))[0] != worker:
            tasks.started[task_id] = (worker, time.monotonic())
        return
    if status not in ("SUCCESS", "FAILURE"):
        return
    tasks.started.pop(task_id, None)
    backend.delete(backend.get_key_for_task(task_id))
    if status == "SUCCESS":
        recorder.record(key, Result.from_json(meta["result"]))
        return
    error = meta.get("result")
    kind = type(error).__name__ if isinstance(error, BaseException) else "error"
    if kind == KitMissing.__name__:
        upload()
        send(key)
    elif tasks.attempts.get(key, 0) < ATTEMPTS:
        send(key)
    else:
        recorder.fail(key, f"{kind}: {error}")


# --------------------------------------------------------------------------- local processes


def redis_server() -> str:
    """The redis-server program; installed with apt-get as root when missing, else an error."""
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        install = ["apt-get", "install", "-y", "-q", "redis-server"]
        if subprocess.run(install, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            subprocess.run(install, capture_output=True)
        found = shutil.which("redis-server")
        if found:
            return found
    raise FileNotFoundError(
        "redis-server is not installed and could not be installed here "
        "(Debian/Ubuntu: `sudo apt-get install redis-server`, or `make grading-deps` as root)"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A private redis-server on 127.0.0.1 (no persistence: a restart loses the queue)."""

    def __init__(self, folder: Path, port: int | None = None):
        self.folder, self.port = folder, port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, patience_s: float = 20) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [redis_server(), "--bind", "127.0.0.1", "--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        log = open(self.folder / "redis.log", "ab")  # noqa: SIM115  (kept by the process)
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + patience_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server stopped: see {self.folder / 'redis.log'}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection,
            ):
                connection.sendall(b"PING\r\n")
                if connection.recv(16).startswith(b"+PONG"):
                    return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def start_worker(
    broker: str, name: str, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """A Celery worker process (one submission at a time) in a process group of its own."""
    environment = dict(os.environ if env is None else env)
    environment[BROKER_VARIABLE] = broker
    command = [sys.executable, "-m", "grader.celery_app", "worker", "--concurrency", "1"]
    command += ["--name", name]
    log = open(log, "ab")  # noqa: SIM115  (kept by the process)
    return subprocess.Popen(
        command,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=course.REPO,
    )


def stop_worker(process: subprocess.Popen, sig: int = signal.SIGTERM, wait_s: float = 30) -> None:
    """Stop a worker and everything it started (its process group)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # what is left of its group


def wait_for_workers(broker: str, count: int, patience_s: float = 120) -> None:
    """Return once `count` workers answer a ping on `broker` (they have started)."""
    control = make_app(broker).control
    deadline = time.monotonic() + patience_s
    while len(control.ping(timeout=1.0) or []) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {count} workers answered in {patience_s:.0f} s")


@contextlib.contextmanager
def local_cluster(workers: int = 2):
    """A private redis-server and `workers` Celery workers on this machine; yields the URL."""
    with tempfile.TemporaryDirectory(prefix="rlcourse-redis-") as tmp:
        server = RedisServer(Path(tmp)).start()
        started = []
        try:
            for n in range(workers):
                started.append(start_worker(server.url, f"grader{n}", Path(tmp) / f"{n}.log"))
            wait_for_workers(server.url, workers)
            yield server.url
        finally:
            for process in started:
                stop_worker(process)
            server.stop()


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="grade submissions from the broker")
    worker.add_argument("--broker", default=os.environ.get(BROKER_VARIABLE))
    worker.add_argument("--concurrency", type=int, default=os.cpu_count() or 1)
    worker.add_argument("--name", default="grader", help="the worker's name (before @host)")
    broker = commands.add_parser("broker", help="run a redis-server in the foreground")
    broker.add_argument("--bind", default="127.0.0.1", help="address(es) to listen on")
    broker.add_argument("--port", type=int, default=6379)
    args = parser.parse_args(argv)
    if args.command == "broker":
        program = redis_server()
        os.execv(program, [program, "--bind", args.bind, "--port", str(args.port)])
    if not args.broker:
        parser.error(f"no broker: --broker redis://HOST:6379/0 or {BROKER_VARIABLE}")
    os.environ[BROKER_VARIABLE] = args.broker
    app.conf.update(broker_url=args.broker, result_backend=args.broker)
    app.worker_main(
        [
            "worker",
            f"--concurrency={args.concurrency}",
            f"--hostname={args.name}@%h",
            f"--queues={QUEUE}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ]
    )


if __name__ == "__main__":
    main()
