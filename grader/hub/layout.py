"""The course on a JupyterHub: its accounts, groups, roles, folders and their modes.

    python -m grader.hub.layout setup --root /srv/rlcourse --instructors ana --students bo cy
    RLHUB_SITE=/srv/rlcourse/hub/site.json jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

One owner for every name and mode of nbgrader's multi-course layout on one
server: the course is a hub service named after the course id, run by a
grader account; the hub groups formgrade-<course> (instructors and the grader
account) and nbgrader-<course> (students); the system group of the same name
as the first one reads the submissions. deploy/jupyterhub/jupyterhub_config.py
and grader.demo.hub_term read a Site from its JSON file.

The five traps nbgrader users meet on a hub, and where each is handled:
- JupyterHub 5's `allow_all` is False: `jupyterhub_settings` lists the roster
  in `allowed_users` (nobody else logs in).
- The formgrader panel is blank under JupyterHub >= 4.1's CSP: the course
  service's Jupyter config allows `frame-ancestors 'self'` (SERVICE_CSP).
- nbgrader's course list raises KeyError 'prefix' without read:services
  (nbgrader#1831): `roles` gives `list:services` and `read:services!service=`.
- The formgrader fails if the grader account is no hub user (nbgrader#1872):
  the grader account is in allowed_users and in the formgrade group.
- An instructor umask of 077 makes releases unreadable (nbgrader#686): the
  course service runs under umask 077 on purpose, and every folder of the
  exchange and of the course gets its mode set here (MODES).
"""

from __future__ import annotations

import argparse
import grp
import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader.course import COURSE_ID, FEEDBACK_HIDDEN_TESTS_VARIABLE, REPO, copy_course, lesson_ids

DEPLOY = REPO / "deploy" / "jupyterhub"
SITE_VARIABLE = "RLHUB_SITE"
DRIVER_SERVICE = "rlcourse-driver"
"""An API-only service that `make hub-demo` drives the hub as (absent without a token)."""
SERVICE_CSP = "frame-ancestors 'self'"
"""The course service's Content-Security-Policy: lab may show the formgrader in a frame."""
SERVICE_UMASK = "077"
"""The course service's umask: the strictest an instructor may have (nbgrader#686)."""

# Modes of the exchange and the course folder, set explicitly (never left to a umask).
MODES = {
    "exchange": 0o1777,  # everybody creates course folders, nobody removes another's
    "course": 0o755,  # exchange/<course>: the grader account's
    "outbound": 0o755,  # releases: everybody reads
    "inbound": 0o3733,  # setgid (submissions get the formgrade group), sticky, unlistable
    "feedback": 0o711,  # a student opens only the files whose names they know
    # one submission folder: its student and the formgrade group (its group, from the
    # inbound folder's setgid) enter it, nobody else; the files in it are 0644, as the
    # student cannot give them that group (the first chmod of a non-member clears setgid)
    "submission": 0o770,
    "submission_file": 0o644,
    "course_folder": 0o2750,  # the instructors' course folder: no student reads it
}


def formgrade_group(course: str = COURSE_ID) -> str:
    """The hub group (and system group) of the course's instructors and its grader account."""
    return f"formgrade-{course}"


def students_group(course: str = COURSE_ID) -> str:
    """The hub group of the course's students."""
    return f"nbgrader-{course}"


@dataclass
class Site:
    """One hub: who is in the course, where its folders are, which loopback ports it uses."""

    root: Path
    instructors: list[str]
    students: list[str]
    grader: str = f"grader-{COURSE_ID}"
    unix_group: str = formgrade_group()
    venv: str = sys.prefix
    ip: str = "127.0.0.1"
    port: int = 8000
    hub_port: int = 8081
    proxy_api_port: int = 8001
    service_port: int = 9999
    db_url: str = ""
    """The gradebook (PostgreSQL when several instructors grade); empty: SQLite in the course."""
    driver_token: str = ""
    service_token: str = field(default_factory=lambda: secrets.token_hex(32))
    extra: dict = field(default_factory=dict)

    @property
    def exchange(self) -> Path:
        return self.root / "exchange"

    @property
    def course(self) -> Path:
        return self.root / "courses" / COURSE_ID

    @property
    def state(self) -> Path:
        """The hub's own files (its database, cookie secret, logs): root's only."""
        return self.root / "hub"

    @property
    def homes(self) -> Path:
        return self.root / "home"

    @property
    def user_config(self) -> Path:
        """The Jupyter config folder of everyone's own server (nbgrader, lab extensions)."""
        return self.root / "etc" / "jupyter"

    @property
    def service_config(self) -> Path:
        """The Jupyter config folder of the course service (the formgrader, CSP)."""
        return self.root / "etc" / "jupyter-course"

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    def users(self) -> list[str]:
        """The hub's users: the roster and the grader account."""
        return [*self.instructors, *self.students, self.grader]

    def accounts(self) -> list[str]:
        """The system users of the site: its hub users and any outsider (a test's)."""
        return [*self.users(), *([self.extra["outsider"]] if "outsider" in self.extra else [])]

    def save(self) -> Path:
        self.state.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o700)
        path = self.state / "site.json"
        data = {**asdict(self), "root": str(self.root)}
        path.write_text(json.dumps(data, indent=1))
        path.chmod(0o600)
        return path

    @classmethod
    def load(cls, path: Path | str) -> Site:
        data = json.loads(Path(path).read_text())
        return cls(**{**data, "root": Path(data["root"])})


# --------------------------------------------------------------------------- the hub's config


def load_groups(site: Site) -> dict:
    """formgrade-<course>: instructors and grader; nbgrader-<course>: students and instructors."""
    return {
        formgrade_group(): {"users": [*site.instructors, site.grader]},
        students_group(): {"users": [*site.students, *site.instructors]},
    }


def roles(site: Site) -> list[dict]:
    """The roles of nbgrader's multi-course layout (and of the demo's driver, if any)."""
    found = [
        {
            "name": formgrade_group(),
            "groups": [formgrade_group()],
            "scopes": [f"access:services!service={COURSE_ID}"],
        },
        {
            "name": students_group(),
            "groups": [students_group()],
            "scopes": ["list:services", f"read:services!service={COURSE_ID}"],
        },
        # a server's own token may do what its user may: nbgrader asks the hub for groups
        {"name": "server", "scopes": ["inherit"]},
        {
            "name": f"course-service-{COURSE_ID}",
            "services": [COURSE_ID],
            "scopes": [
                "list:users",
                "read:users",
                "read:groups",
                f"admin:groups!group={students_group()}",
                "list:services",
                f"read:services!service={COURSE_ID}",
            ],
        },
    ]
    if site.driver_token:
        found.append(
            {
                "name": DRIVER_SERVICE,
                "services": [DRIVER_SERVICE],
                "scopes": [
                    "admin:users",
                    "admin:servers",
                    "tokens",
                    "read:groups",
                    "access:servers",
                    "access:services",
                    "list:services",
                    "read:services",
                ],
            }
        )
    return found


def services(site: Site) -> list[dict]:
    """The course service (a Jupyter server of the grader account) and the demo's driver.

    The hub does not start the course service itself: JupyterHub gives a
    managed service ten seconds and then exits, and a Jupyter server with
    nbgrader takes longer on a busy machine. `service_process` starts it
    (`python -m grader.hub.layout service`, from a systemd unit or the demo).
    """
    found = [
        {
            "name": COURSE_ID,
            "url": f"http://{site.ip}:{site.service_port}",
            "api_token": site.service_token,
            "oauth_no_confirm": True,
            "oauth_redirect_uri": f"{site.url}/services/{COURSE_ID}/oauth_callback",
        }
    ]
    if site.driver_token:
        found.append({"name": DRIVER_SERVICE, "api_token": site.driver_token})
    return found


def service_process(site: Site) -> tuple[list[str], dict[str, str]]:
    """(command, environment) of the course service: the grader account's Jupyter server."""
    prefix = f"/services/{COURSE_ID}/"
    env = {
        **course_environment(site),
        "JUPYTERHUB_API_TOKEN": site.service_token,
        "JUPYTERHUB_API_URL": f"http://{site.ip}:{site.hub_port}/hub/api",
        "JUPYTERHUB_BASE_URL": "/",
        "JUPYTERHUB_SERVICE_NAME": COURSE_ID,
        "JUPYTERHUB_SERVICE_PREFIX": prefix,
        "JUPYTERHUB_SERVICE_URL": f"http://{site.ip}:{site.service_port}",
        "JUPYTERHUB_CLIENT_ID": f"service-{COURSE_ID}",
        "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{site.url}{prefix}oauth_callback",
        "JUPYTERHUB_HOST": site.url,
        # nbgrader asks the hub for this user's groups (nbgrader#1872)
        "JUPYTERHUB_USER": site.grader,
        "JUPYTERHUB_DEFAULT_URL": "/lab",
        "JUPYTER_CONFIG_PATH": str(site.service_config),
        "LANG": "C.UTF-8",
    }
    inner = (
        f"umask {SERVICE_UMASK} && cd {site.course} && exec {site.venv}/bin/jupyterhub-singleuser"
    )
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return [runuser, "-u", site.grader, "--", "/bin/sh", "-c", inner], env


def course_environment(site: Site) -> dict[str, str]:
    """What every server of the hub needs: the course's environment on PATH, the exchange."""
    env = {
        "PATH": f"{site.venv}/bin:/usr/local/bin:/usr/bin:/bin",
        "NBGRADER_EXCHANGE": str(site.exchange),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    if site.db_url:
        env["NBGRADER_DB_URL"] = site.db_url
    passed_on = (
        "RLCOURSE_CELL_TIMEOUT",
        "RLCOURSE_SANDBOX",
        FEEDBACK_HIDDEN_TESTS_VARIABLE,
        "OMP_NUM_THREADS",
    )
    for name in passed_on:
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def user_environment(site: Site) -> dict[str, str]:
    """Everyone's own server: the course environment and the hub's Jupyter config."""
    return {**course_environment(site), "JUPYTER_CONFIG_PATH": str(site.user_config)}


def jupyterhub_settings(site: Site) -> dict[str, dict]:
    """{configurable class: {trait: value}}: what jupyterhub_config.py sets."""
    return {
        "JupyterHub": {
            "bind_url": f"{site.url}/",
            "hub_bind_url": f"http://{site.ip}:{site.hub_port}",
            "spawner_class": "jupyterhub.spawner.LocalProcessSpawner",
            "authenticator_class": "jupyterhub.auth.PAMAuthenticator",
            "db_url": f"sqlite:///{site.state / 'jupyterhub.sqlite'}",
            "cookie_secret_file": str(site.state / "jupyterhub_cookie_secret"),
            "pid_file": str(site.state / "jupyterhub.pid"),
            "load_groups": load_groups(site),
            "load_roles": roles(site),
            "services": services(site),
            "cleanup_servers": True,
        },
        "ConfigurableHTTPProxy": {
            "api_url": f"http://{site.ip}:{site.proxy_api_port}",
            "command": [str(DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy")],
            "pid_file": str(site.state / "proxy.pid"),
        },
        "Authenticator": {
            # JupyterHub 5: allow_all is False, so the roster is what may log in
            "allow_all": False,
            "allowed_users": set(site.users()),
            "admin_users": set(),
        },
        "Spawner": {
            "cmd": [f"{site.venv}/bin/jupyterhub-singleuser"],
            "ip": site.ip,
            "default_url": "/lab",
            "environment": user_environment(site),
            "start_timeout": 180,
            "http_timeout": 180,
        },
    }


# --------------------------------------------------------------------------- the server's files


def nbgrader_user_config(site: Site) -> str:
    """nbgrader_config.py of everyone's own server (the hub's /etc/jupyter/nbgrader_config.py)."""
    return (DEPLOY / "nbgrader_config.py").read_text()


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
    path.chmod(0o644)


def write_configs(site: Site) -> None:
    """The Jupyter config folders of the users' servers and of the course service."""
    from grader.bundle import STUDENT_LAB_CONFIG, placed

    for folder in (site.user_config, site.service_config):
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(DEPLOY / "nbgrader_config.py", folder / "nbgrader_config.py")
        (folder / "nbgrader_config.py").chmod(0o644)
    for name, data in placed(STUDENT_LAB_CONFIG, site.user_config).items():
        write_json(site.user_config / name, data)
    write_json(
        site.service_config / "jupyter_server_config.json",
        {
            "ServerApp": {
                "tornado_settings": {"headers": {"Content-Security-Policy": SERVICE_CSP}},
                "jpserver_extensions": {"nbgrader.server_extensions.formgrader": True},
            }
        },
    )


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True)


def create_accounts(site: Site) -> None:
    """System users (home under the site), and the system group of the instructors and grader."""
    site.homes.mkdir(parents=True, exist_ok=True)
    try:
        grp.getgrnam(site.unix_group)
    except KeyError:
        _run("groupadd", site.unix_group)
    for name in site.accounts():
        try:
            pwd.getpwnam(name)
        except KeyError:
            _run("useradd", "-m", "-d", str(site.homes / name), "-s", "/bin/bash", name)
        (site.homes / name).chmod(0o700)
    for name in [*site.instructors, site.grader]:
        _run("usermod", "-a", "-G", site.unix_group, name)
    if "password" in site.extra:  # the demo's: PAM logins of its own users
        lines = "".join(f"{name}:{site.extra['password']}\n" for name in site.accounts())
        subprocess.run(["chpasswd"], input=lines, text=True, check=True, capture_output=True)


def remove_accounts(site: Site) -> list[str]:
    """userdel/groupdel what create_accounts made; returns what could not be removed."""
    left = []
    for name in site.accounts():
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
        if subprocess.run(["userdel", name], capture_output=True).returncode != 0:
            left.append(name)
    try:
        grp.getgrnam(site.unix_group)
        if subprocess.run(["groupdel", site.unix_group], capture_output=True).returncode:
            left.append(site.unix_group)
    except KeyError:
        pass
    return left


def _own(path: Path, user: str, group: str, mode: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    shutil.chown(path, user, group)
    path.chmod(mode)


def prepare_exchange(site: Site) -> None:
    """exchange/<course>/{outbound,inbound,feedback}, owned by the grader account, modes set."""
    site.exchange.mkdir(parents=True, exist_ok=True)
    site.exchange.chmod(MODES["exchange"])
    course = site.exchange / COURSE_ID
    _own(course, site.grader, site.unix_group, MODES["course"])
    for name in ("outbound", "inbound", "feedback"):
        _own(course / name, site.grader, site.unix_group, MODES[name])


def prepare_course(site: Site, source: Path = REPO, lessons: list[str] | None = None) -> None:
    """The instructors' course folder: the lesson sources and config, the grader account's.

    The folder's nbgrader_config.py is the course's, with the hub's block
    (deploy/jupyterhub/course_hub_config.py) appended.
    """
    lessons = lessons or lesson_ids(source)
    site.course.parent.mkdir(parents=True, exist_ok=True)
    if site.course.exists():
        shutil.rmtree(site.course)
    staging = copy_course(source, site.course.parent / "staging", lessons)
    staging.rename(site.course)
    (site.course.parent / "staging").rmdir()
    config = site.course / "nbgrader_config.py"
    config.write_text(config.read_text() + "\n" + (DEPLOY / "course_hub_config.py").read_text())
    for path in [site.course, *site.course.rglob("*")]:
        shutil.chown(path, site.grader, site.unix_group)
        path.chmod(MODES["course_folder"] if path.is_dir() else 0o640)


def setup(site: Site, source: Path = REPO, lessons: list[str] | None = None) -> Path:
    """Everything the hub needs on disk, as root; returns the site file."""
    site.root.mkdir(parents=True, exist_ok=True)
    site.save()  # first: a run stopped half-way is found and cleaned up by the next
    create_accounts(site)
    write_configs(site)
    prepare_exchange(site)
    prepare_course(site, source, lessons)
    for path in (site.root, site.root / "etc", site.root / "courses", site.homes):
        path.chmod(0o755)
    return site.save()


def users_environment(venv: Path, target: Path) -> Path:
    """A Python environment that every user can run: `venv` itself, or a copy's at `target`.

    A venv's interpreter is a link to its base Python; when that lies where
    other users cannot go (pyenv under /root), the base Python (without its
    site-packages) is copied to target/python, and target/venv is a venv of
    that copy whose site-packages adds `venv`'s, with `venv`'s scripts
    (jupyterhub-singleuser, alembic, nbgrader...) pointing at it and its
    Jupyter data and config folders linked. (The system's Python of the same
    minor version is not enough: soupsieve, for one, fails on 3.11.2.)
    """
    base = Path(os.path.realpath(venv / "bin" / "python"))
    if not unreadable_ancestors(base):
        return venv
    python = copy_python(base.parent.parent, target / "python") / "bin" / base.name
    environment = target / "venv"
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(environment)], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    packages = venv / "lib" / version / "site-packages"
    pth = environment / "lib" / version / "site-packages" / "rlcourse_environment.pth"
    pth.write_text(f"import site; site.addsitedir({str(packages)!r})\n")
    for data in ("share/jupyter", "etc/jupyter"):  # lab extensions, templates, server config
        if (venv / data).is_dir():
            (environment / data).parent.mkdir(parents=True, exist_ok=True)
            (environment / data).symlink_to(venv / data)
    for script in sorted((venv / "bin").iterdir()):
        copy = environment / "bin" / script.name
        if copy.exists() or not script.is_file() or script.is_symlink():
            continue
        with script.open("rb") as handle:
            first = handle.readline()
        if first.startswith(b"#!") and b"python" in first:
            body = script.read_bytes().split(b"\n", 1)[1]
            copy.write_bytes(f"#!{environment / 'bin' / 'python'}\n".encode() + body)
            copy.chmod(0o755)
    open_to_all(target)
    return environment


def copy_python(home: Path, target: Path) -> Path:
    """Copy a Python installation (not its site-packages or tests) and point it at its copy.

    A pyenv build finds libpython through an absolute RUNPATH (its own lib/):
    the copy's executable gets `$ORIGIN/../lib` in those bytes instead.
    """
    skipped = shutil.ignore_patterns("site-packages", "test", "tests", "idlelib", "tkinter")
    shutil.copytree(home, target, symlinks=True, ignore=skipped)
    old = str(home / "lib").encode() + b"\0"
    new = b"$ORIGIN/../lib"
    for executable in (target / "bin").glob("python3*"):
        if executable.is_symlink() or not executable.is_file():
            continue
        data = executable.read_bytes()
        if old in data and len(new) < len(old):
            executable.write_bytes(data.replace(old, new + b"\0" * (len(old) - len(new))))
    return target


def open_to_all(folder: Path) -> None:
    """Every user may read `folder` and run what is executable in it."""
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            mode = path.stat().st_mode
            path.chmod(mode | (0o005 if path.is_dir() or mode & 0o100 else 0o004))


def unreadable_ancestors(path: Path) -> list[Path]:
    """Folders on the way to `path` that other users cannot enter (the course environment)."""
    found = []
    for folder in [*reversed(path.resolve().parents), path.resolve()]:
        if folder.is_dir() and not folder.stat().st_mode & stat.S_IXOTH:
            found.append(folder)
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["setup", "service"])
    parser.add_argument("--root", type=Path, default=Path("/srv/rlcourse"))
    parser.add_argument("--instructors", nargs="+", default=[])
    parser.add_argument("--students", nargs="+", default=[])
    parser.add_argument("--db-url", default="", help="a PostgreSQL gradebook (default: SQLite)")
    args = parser.parse_args(argv)
    if args.step == "service":  # the course service, in the foreground (a systemd unit's)
        command, env = service_process(Site.load(args.root / "hub" / "site.json"))
        os.execvpe(command[0], command, env)
    site = Site(args.root.resolve(), args.instructors, args.students, db_url=args.db_url)
    site.root.mkdir(parents=True, exist_ok=True)
    site.venv = str(users_environment(Path(sys.prefix), site.root / "env"))
    blocked = unreadable_ancestors(Path(site.venv) / "lib")
    if blocked:
        sys.exit(f"the course environment {site.venv} is not readable by users: {blocked}")
    path = setup(site)
    print(
        f"wrote {path}; start the hub with\n"
        f"  {SITE_VARIABLE}={path} jupyterhub -f {DEPLOY}/jupyterhub_config.py"
    )


if __name__ == "__main__":
    main()
