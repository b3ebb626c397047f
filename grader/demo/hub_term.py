"""A term on a real JupyterHub: real users, their own servers, driven through HTTP only.

    python -m grader.demo.hub_term                     # make hub-demo: lesson 01
    python -m grader.demo.hub_term --gradebook sqlite  # postgresql | sqlite | auto (the default)

The gradebook is a PostgreSQL server of the demo's own (Debian's, on a free
loopback port, a scratch data folder, stopped afterwards: the set-up for
several instructors grading at once) where the machine has one, else SQLite.

As root: creates an instructor, two students and the grader account (system
users with a unique prefix), lays out the site (grader.hub.layout) under
/srv/rlcourse-hub-<prefix>, starts JupyterHub (deploy/jupyterhub) on free
loopback ports and drives the term through the hub's REST API and the users'
own servers, each with a token of that user (POST /hub/api/users/<name>/tokens):
the instructor releases lesson 01 through the course service (the grader
account's server: its kernels and nbgrader's formgrader API); each student
fetches it through the assignment list API of their own server, one puts the
reference answers in with the contents API, and both submit; the instructor
collects, autogrades (`python -m grader.autograde` in a kernel of the course
service, sandboxed), generates and releases feedback; each student fetches
theirs. nbgrader never runs as root. Everything started is stopped and every
account removed afterwards, however the run ends.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import requests

from grader.course import COURSE_ID, REPO, SOURCES, instructor_path
from grader.demo import students
from grader.hub import layout

LESSON = "01_bandits"
"""the lesson of `make hub-demo`'s term (the tests run the fixture course's: seconds to grade)"""
SITES = Path("/srv")
SITE_PREFIX = "rlcourse-hub-"
HUB_USER_PREFIX = "rh"
"""Demo accounts are rh<4 hex>-<role>: a run's own, and stale ones are recognisable."""
PG_BIN = Path("/usr/lib/postgresql")


def free_port() -> int:
    """A loopback port that nothing listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def can_create_users() -> str | None:
    """Why this machine cannot run the hub demo (None: it can)."""
    if os.geteuid() != 0:
        return "the hub demo creates system users: run it as root"
    for tool in ("useradd", "userdel", "groupadd"):
        if shutil.which(tool) is None:
            return f"no {tool} on this machine"
    return None


def missing_tools(venv: Path) -> list[str]:
    """What `make hub-deps` installs and is not there."""
    missing = []
    if not (venv / "bin" / "jupyterhub").exists():
        missing.append("jupyterhub (make hub-deps)")
    if not (layout.DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        missing.append("configurable-http-proxy (make hub-deps)")
    return missing


# --------------------------------------------------------------------------- HTTP clients


@dataclass
class Execution:
    stdout: str
    stderr: str
    error: str

    def check(self, what: str) -> Execution:
        if self.error:
            raise RuntimeError(f"{what} failed:\n{self.error}\n{self.stdout}\n{self.stderr}")
        return self


@dataclass
class Server:
    """A Jupyter server behind the hub's proxy (a user's own, or the course service)."""

    base: str  # http://127.0.0.1:PORT/user/<name> or .../services/<course>
    token: str
    timeout: float = 120

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method, self.base + path, headers=self._headers(), timeout=self.timeout, **kwargs
        )

    def ok(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response

    def put_notebook(self, path: str, notebook: nbformat.NotebookNode) -> None:
        body = {"type": "notebook", "format": "json", "content": notebook}
        self.ok("PUT", f"/api/contents/{path}", data=json.dumps(body))

    def notebook(self, path: str) -> nbformat.NotebookNode:
        model = self.ok("GET", f"/api/contents/{path}?content=1").json()
        return nbformat.from_dict(model["content"])

    def listing(self, path: str) -> list[str]:
        return [item["name"] for item in self.ok("GET", f"/api/contents/{path}").json()["content"]]

    def nbgrader_action(self, action: str, lesson: str) -> dict | list:
        """POST /assignments/<action> of nbgrader's assignment list (fetch, submit, ...)."""
        data = {"course_id": COURSE_ID, "assignment_id": lesson}
        return self.ok("POST", f"/assignments/{action}", data=data).json()

    def run(self, code: str, timeout: float = 900) -> Execution:
        """Execute code in a new kernel of this server (as its user); the kernel is removed."""
        import websocket

        kernel = self.ok("POST", "/api/kernels", data=json.dumps({"name": "python3"})).json()
        url = self.base.replace("http://", "ws://", 1) + f"/api/kernels/{kernel['id']}/channels"
        socket_ = websocket.create_connection(
            url, header=[f"Authorization: token {self.token}"], timeout=timeout
        )
        try:
            return _execute(socket_, code, time.monotonic() + timeout)
        finally:
            socket_.close()
            self.request("DELETE", f"/api/kernels/{kernel['id']}")


def _execute(socket_, code: str, deadline: float) -> Execution:
    msg_id = uuid.uuid4().hex
    socket_.send(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "session": uuid.uuid4().hex,
                    "username": "",
                    "version": "5.3",
                },
                "parent_header": {},
                "metadata": {},
                "channel": "shell",
                "buffers": [],
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
            }
        )
    )
    out, err, error = [], [], ""
    while time.monotonic() < deadline:
        message = json.loads(socket_.recv())
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            (out if content["name"] == "stdout" else err).append(content["text"])
        elif kind == "error":
            error = "\n".join(content.get("traceback", [])) or content.get("evalue", "")
        elif kind == "status" and content["execution_state"] == "idle":
            return Execution("".join(out), "".join(err), error)
    raise TimeoutError("the kernel did not finish in time")


@dataclass
class Hub:
    """The hub's REST API, as the demo's driver service."""

    site: layout.Site
    process: subprocess.Popen | None = None
    service_process: subprocess.Popen | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    def api(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = {"Authorization": f"token {token or self.site.driver_token}"}
        return requests.request(
            method, f"{self.site.url}/hub/api{path}", headers=headers, timeout=60, **kwargs
        )

    def ok(self, method: str, path: str, **kwargs):
        response = self.api(method, path, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} /hub/api{path}: {response.status_code} {response.text}")
        return response

    def wait_up(self, deadline_s: float = 180) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"the hub exited:\n{hub_log(self.site)[-4000:]}")
            with contextlib.suppress(requests.RequestException):
                if self.api("GET", "/users").status_code == 200:
                    return
            time.sleep(1)
        raise TimeoutError(f"the hub did not answer:\n{hub_log(self.site)[-4000:]}")

    def token(self, user: str) -> str:
        """A token of `user` (POST /hub/api/users/<name>/tokens, as the driver)."""
        if user not in self.tokens:
            body = {"note": "rlcourse hub demo", "expires_in": 3600}
            reply = self.ok("POST", f"/users/{user}/tokens", data=json.dumps(body)).json()
            self.tokens[user] = reply["token"]
        return self.tokens[user]

    def start_server(self, user: str, deadline_s: float = 240) -> Server:
        """Start the user's own server (if it is not running) and wait until it is ready."""
        response = self.api("POST", f"/users/{user}/server")
        if response.status_code not in (201, 202, 400):
            raise RuntimeError(f"starting {user}'s server: {response.status_code} {response.text}")
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            model = self.ok("GET", f"/users/{user}").json()
            server = model.get("servers", {}).get("", {})
            if server.get("ready"):
                return Server(f"{self.site.url}/user/{user}", self.token(user))
            time.sleep(1)
        raise TimeoutError(f"{user}'s server did not start:\n{hub_log(self.site)[-4000:]}")

    def service(self, user: str) -> Server:
        """The course service (the grader account's server), with `user`'s token."""
        server = Server(f"{self.site.url}/services/{COURSE_ID}", self.token(user))
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if server.request("GET", "/api/status").status_code == 200:
                    return server
            time.sleep(1)
        raise TimeoutError(
            f"the course service did not answer:\n{hub_log(self.site, 'service.log')[-4000:]}"
        )


def hub_log(site: layout.Site, name: str = "hub.log") -> str:
    path = site.state / name
    return path.read_text(errors="replace") if path.exists() else ""


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class Postgres:
    """Debian's PostgreSQL on a loopback port of its own, data in a scratch folder."""

    data: Path
    port: int
    password: str
    owner: str = "postgres"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://rlcourse:{self.password}@127.0.0.1:{self.port}/gradebook"

    @staticmethod
    def binaries() -> Path | None:
        found = sorted(PG_BIN.glob("*/bin/pg_ctl"))
        return found[-1].parent if found else None

    def _as_owner(self, *command: str) -> None:
        subprocess.run(
            ["runuser", "-u", self.owner, "--", *command],
            check=True,
            capture_output=True,
            text=True,
            cwd="/",
        )

    def start(self) -> None:
        bin_dir = self.binaries()
        self.data.mkdir(parents=True)
        shutil.chown(self.data, self.owner)
        self.data.chmod(0o700)
        secret = self.data.parent / "pg-password"
        secret.write_text(self.password + "\n")
        shutil.chown(secret, self.owner)
        secret.chmod(0o600)
        self._as_owner(
            f"{bin_dir}/initdb",
            "-D",
            str(self.data),
            "-U",
            "rlcourse",
            "--auth=scram-sha-256",
            f"--pwfile={secret}",
        )
        secret.unlink()
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data}"
        self._as_owner(
            f"{bin_dir}/pg_ctl", "-D", str(self.data), "-o", options, "-w", "-l",
            str(self.data / "log"), "start",
        )  # fmt: skip
        env = {**os.environ, "PGPASSWORD": self.password}
        subprocess.run(
            [f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "rlcourse",
             "gradebook"],
            check=True, capture_output=True, env=env,
        )  # fmt: skip

    def stop(self) -> None:
        bin_dir = self.binaries()
        if bin_dir and (self.data / "postmaster.pid").exists():
            subprocess.run(
                ["runuser", "-u", self.owner, "--", f"{bin_dir}/pg_ctl", "-D", str(self.data),
                 "-m", "fast", "-w", "stop"],
                capture_output=True, cwd="/",
            )  # fmt: skip


# --------------------------------------------------------------------------- the run


@dataclass
class HubRun:
    """A running hub and its site, for the demo and the privacy tests."""

    site: layout.Site
    hub: Hub
    postgres: Postgres | None = None
    closed_paths: dict[Path, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    table: str = ""
    lesson: str = LESSON
    """the lesson the term releases, grades and returns"""

    def user(self, name: str) -> Server:
        return self.hub.start_server(name)


def new_site(prefix: str, root: Path, postgres: Postgres | None) -> layout.Site:
    return layout.Site(
        root=root,
        instructors=[f"{prefix}teach"],
        students=[f"{prefix}ana", f"{prefix}ben"],
        grader=f"{prefix}grader",
        unix_group=f"{prefix}formgrade",
        venv=sys.prefix,
        port=free_port(),
        hub_port=free_port(),
        proxy_api_port=free_port(),
        service_port=free_port(),
        db_url=postgres.url if postgres else "",
        driver_token=secrets.token_hex(32),
        # the pid tells a stale site; an outsider (not on the roster) tries to log in
        extra={"pid": os.getpid(), "outsider": f"{prefix}out", "password": secrets.token_hex(12)},
    )


def remove_stale_sites(echo=print) -> None:
    """Sites (and their accounts) that an earlier run left behind, its process gone."""
    for folder in sorted(SITES.glob(f"{SITE_PREFIX}*")):
        site_file = folder / "hub" / "site.json"
        try:
            site = layout.Site.load(site_file)
            pid = int(site.extra.get("pid", 0))
        except (OSError, ValueError, TypeError):
            continue
        if pid and Path(f"/proc/{pid}").exists():
            continue  # another run, still going
        echo(f"removing a stale hub site {folder}")
        layout.remove_accounts(site)
        shutil.rmtree(folder, ignore_errors=True)


def close_to_others(paths: list[Path]) -> dict[Path, int]:
    """chmod o-rwx the instructor's folders of this checkout (the course environment is here)."""
    closed = {}
    for path in paths:
        if path.is_dir():
            mode = path.stat().st_mode & 0o7777
            closed[path] = mode
            path.chmod(mode & ~0o007)
    return closed


def start(
    echo=print, postgresql: bool = False, source: Path = REPO, lesson: str = LESSON
) -> HubRun:
    """Accounts, site, (PostgreSQL), hub: a running hub of one instructor and two students.

    The course is `source`'s (a repository with solutions/), with `lesson` in it.
    """
    reason = can_create_users()
    if reason:
        raise RuntimeError(reason)
    missing = missing_tools(Path(sys.prefix))
    if missing:
        raise RuntimeError("missing: " + ", ".join(missing))
    blocked = layout.unreadable_ancestors(Path(sys.prefix))
    if blocked:
        raise RuntimeError(f"users cannot read the course environment {sys.prefix}: {blocked}")
    remove_stale_sites(echo)
    SITES.mkdir(exist_ok=True)
    prefix = f"{HUB_USER_PREFIX}{secrets.token_hex(2)}-"
    root = Path(tempfile.mkdtemp(dir=SITES, prefix=f"{SITE_PREFIX}{prefix}"))
    postgres = None
    if postgresql:
        if Postgres.binaries() is None:
            raise RuntimeError("no PostgreSQL server (make hub-deps installs Debian's postgresql)")
        postgres = Postgres(root / "pgdata", free_port(), secrets.token_hex(16))
    site = new_site(prefix, root, postgres)
    run = HubRun(site, Hub(site), postgres, lesson=lesson)
    try:
        started = time.perf_counter()
        root.chmod(0o755)
        site.venv = str(layout.users_environment(Path(sys.prefix), root / "env"))
        layout.setup(site, source, [lesson])
        run.closed_paths = close_to_others(
            [REPO / SOURCES, REPO / "tests", REPO / "grader" / "work"]
        )
        if postgres:
            postgres.start()
        run.seconds["setup"] = time.perf_counter() - started
        started = time.perf_counter()
        run.hub.process = start_hub(site)
        run.hub.wait_up()
        run.hub.service_process = start_service(site)
        run.seconds["hub start"] = time.perf_counter() - started
        echo(f"JupyterHub {site.url} (accounts {', '.join(site.users())})")
    except BaseException:
        stop(run, echo)
        raise
    return run


def start_hub(site: layout.Site) -> subprocess.Popen:
    log = open(site.state / "hub.log", "ab")  # noqa: SIM115  (the hub writes it while it runs)
    env = {**os.environ, layout.SITE_VARIABLE: str(site.state / "site.json")}
    env["PATH"] = f"{site.venv}/bin:{env.get('PATH', '/usr/bin:/bin')}"
    return subprocess.Popen(
        [f"{site.venv}/bin/jupyterhub", "-f", str(layout.DEPLOY / "jupyterhub_config.py")],
        cwd=site.state,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_service(site: layout.Site) -> subprocess.Popen:
    """The course service, as the grader account (runuser), logging to the hub's folder."""
    command, env = layout.service_process(site)
    log = open(site.state / "service.log", "ab")  # noqa: SIM115  (written while it runs)
    return subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd="/"
    )


def end(process: subprocess.Popen | None) -> None:
    """SIGTERM, then SIGKILL to the process group of a process the demo started."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def stop(run: HubRun, echo=print) -> None:
    """Stop the hub, its servers and PostgreSQL; remove the accounts and the site."""
    end(run.hub.service_process)
    end(run.hub.process)
    proxy_pid = run.site.state / "proxy.pid"
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(proxy_pid.read_text()), signal.SIGTERM)
    if run.postgres:
        run.postgres.stop()
    left = layout.remove_accounts(run.site)
    for path, mode in run.closed_paths.items():
        path.chmod(mode)
    if os.environ.get("RLCOURSE_DEMO_KEEP"):
        echo(f"kept {run.site.root}")
    else:
        shutil.rmtree(run.site.root, ignore_errors=True)
    if left:
        echo(f"could not remove the accounts {left}")


def in_course_service(service: Server, *args: str, timeout: float = 1500) -> Execution:
    """`python -m <args>` in the course folder, run by a kernel of the course service."""
    code = textwrap.dedent(
        f"""
        import subprocess, sys
        result = subprocess.run([sys.executable, "-m", *{list(args)!r}], capture_output=True,
                                text=True)
        print(result.stdout)
        print(result.stderr, file=sys.stderr)
        if result.returncode:
            raise RuntimeError(f"exit {{result.returncode}}")
        """
    )
    return service.run(code, timeout=timeout).check(" ".join(args))


def reference_answers(
    site: layout.Site, lesson: str, fetched: nbformat.NotebookNode
) -> nbformat.NotebookNode:
    """The fetched notebook with the reference answers typed in (what a good student hands in)."""
    reference = nbformat.read(instructor_path(site.course, lesson), as_version=4)
    files = students.perfect(lesson, fetched, reference, {"root": site.course})
    return nbformat.reads(files[f"{lesson}.ipynb"].decode(), as_version=4)


def notebook_path(lesson: str) -> str:
    """Where nbgrader puts a fetched lesson in a student's home (path_includes_course)."""
    return f"{COURSE_ID}/{lesson}/{lesson}.ipynb"


def term(run: HubRun, echo=print) -> str:
    """Release, fetch, submit, collect, autograde, feedback, fetch feedback; the grade table."""
    site, seconds, lesson = run.site, run.seconds, run.lesson
    course = str(site.course)
    teacher = site.instructors[0]
    good, blank = site.students

    started = time.perf_counter()
    for student in (good, blank):  # their servers start while the instructor releases
        run.hub.api("POST", f"/users/{student}/server")
    service = run.hub.service(teacher)
    in_course_service(service, "grader.release", "--root", course, lesson)
    service.ok("POST", f"/formgrader/api/assignment/{lesson}/release")
    seconds["release"] = time.perf_counter() - started
    echo(f"{teacher} released {lesson} through the course service")

    started = time.perf_counter()
    for student in (good, blank):
        server = run.user(student)
        server.nbgrader_action("fetch", lesson)
        fetched = server.notebook(notebook_path(lesson))
        if student == good:
            server.put_notebook(notebook_path(lesson), reference_answers(site, lesson, fetched))
        reply = server.nbgrader_action("submit", lesson)
        if isinstance(reply, dict) and not reply.get("success", True):
            raise RuntimeError(f"{student}'s submit failed: {reply}")
    seconds["students"] = time.perf_counter() - started
    echo(f"{good} submitted the reference answers, {blank} the untouched notebook")

    started = time.perf_counter()
    collected = service.ok("POST", f"/formgrader/api/assignment/{lesson}/collect").json()
    if not collected.get("success"):
        raise RuntimeError(f"collect failed: {collected}")
    echo(collected.get("log", "").strip())
    graded = in_course_service(service, "grader.autograde", "autograde", lesson, "--root", course)
    seconds["collect+autograde"] = time.perf_counter() - started
    echo(graded.stdout.strip())

    started = time.perf_counter()
    in_course_service(service, "grader.autograde", "feedback", lesson, "--root", course)
    service.ok("POST", f"/formgrader/api/assignment/{lesson}/release_feedback")
    for student in (good, blank):
        run.user(student).nbgrader_action("fetch_feedback", lesson)
    table = in_course_service(service, "grader.autograde", "grades", "--root", course).stdout
    seconds["feedback"] = time.perf_counter() - started
    lines = table.strip().splitlines()  # (after the line that names grades.csv)
    run.table = "\n".join(lines[next(i for i, x in enumerate(lines) if x.startswith("student")) :])
    return run.table


def feedback_files(server: Server, lesson: str) -> list[str]:
    """The feedback HTML files in a student's home (one folder per submission timestamp)."""
    folder = f"{COURSE_ID}/{lesson}/feedback"
    if server.request("GET", f"/api/contents/{folder}").status_code == 404:
        return []
    return [
        f"{ts}/{name}" for ts in server.listing(folder) for name in server.listing(f"{folder}/{ts}")
    ]


@contextlib.contextmanager
def running_hub(echo=print, postgresql: bool = False, source: Path = REPO, lesson: str = LESSON):
    run = start(echo, postgresql, source, lesson)
    try:
        yield run
    finally:
        stop(run, echo)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gradebook", choices=["auto", "postgresql", "sqlite"], default="auto")
    args = parser.parse_args(argv)
    postgresql = args.gradebook == "postgresql" or (
        args.gradebook == "auto" and Postgres.binaries() is not None
    )
    print(f"gradebook: {'PostgreSQL' if postgresql else 'SQLite'}")
    started = time.perf_counter()
    try:
        with running_hub(postgresql=postgresql) as run:
            table = term(run)
            for student in run.site.students:
                print(f"{student}'s feedback: {feedback_files(run.user(student), run.lesson)}")
    except RuntimeError as error:
        sys.exit(f"hub demo: {error}")
    print("\nGrades (score/max):\n" + table)
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in run.seconds.items())
    print(f"\nWall time: {time.perf_counter() - started:.0f} s ({steps})")


if __name__ == "__main__":
    main()
