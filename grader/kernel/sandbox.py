"""The sandboxed kernel that autograding runs students' code in.

Every kernel that `nbgrader autograde` starts with this course's configuration
is wrapped in bubblewrap (`bwrap`) and resource limits:

- the file system is a read-only allow-list: the system (/usr, /etc, ...),
  the kernel's Python installation and virtual environment, and the
  packages the kernel imports from anywhere else (rlhelpers), found by
  asking the kernel's own interpreter with the kernel's environment (so an
  editable install of another checkout is exposed, not the one the grader
  sees); nothing else of the machine exists inside (no solutions/, no
  gradebook, no grader/work, no home folder, no other course files);
- the kernel's working directory is a private tmpfs of
  `RLCOURSE_WRITE_LIMIT` bytes (default 512 MiB) holding the handed-in files
  read-only; /tmp is a private tmpfs of `RLCOURSE_TMP_LIMIT` (default 512
  MiB); nothing the kernel writes reaches the disk except through the
  runtime folder of its sockets;
- the environment is an allow-list (`ENV_ALLOWED`): no token, password or
  cloud credential of the grading process reaches `os.environ`;
- run as root, the kernel runs as the unprivileged user `SANDBOX_UID`
  (nobody) without capabilities, so root's files (/etc/shadow) stay closed
  to it (bwrap's own --uid would not do: in a user namespace made by root
  the kernel's uid is root outside);
- no network (a private network namespace with only a loopback device);
- limits: address space (`RLCOURSE_MEMORY_LIMIT`, default 8 GiB, enough for
  torch), file size (`RLCOURSE_FILE_LIMIT`, default 1 GiB), processes and
  threads (`RLCOURSE_PROCESS_LIMIT`, default 512 more than its user runs),
  processes die with the grader; the current directory is not on `sys.path`
  (`PYTHONSAFEPATH`), so a handed-in `numpy.py` cannot stand in for numpy.

The kernel talks to nbgrader over Unix sockets (ZeroMQ `ipc` transport) in a
private runtime folder, because a TCP port inside a private network namespace
cannot be reached from outside.

When bubblewrap is missing or cannot create namespaces, grading stops with
:class:`SandboxUnavailable`; it never falls back to an unsandboxed kernel on
its own. `RLCOURSE_SANDBOX=off` is the explicit opt-out (trusted code only).

    python -m grader.kernel.sandbox     # check that the sandbox works here
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from grader import limits as limits_
from grader.limits import GradingLimits

OPT_OUT_VARIABLE = "RLCOURSE_SANDBOX"
# The limits' variables and defaults are grader/limits.py's (GradingLimits); named here too.
MEMORY_VARIABLE = limits_.MEMORY_VARIABLE
FILE_VARIABLE = limits_.FILE_VARIABLE
THREADS_VARIABLE = limits_.THREADS_VARIABLE
TMP_VARIABLE = limits_.TMP_VARIABLE
WRITE_VARIABLE = limits_.WRITE_VARIABLE
PROCESS_VARIABLE = limits_.PROCESS_VARIABLE
OUTPUT_VARIABLE = limits_.OUTPUT_VARIABLE
DEFAULT_MEMORY_LIMIT = limits_.DEFAULT_MEMORY_LIMIT
SANDBOX_UID = 65534
"""nobody: the user the kernel runs as when grading runs as root."""
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
ENV_ALLOWED = (
    "PATH",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_NUMERIC",
    "LC_MESSAGES",
    "TZ",
    "TERM",
    "PYTHONPATH",
    "PYTHONHASHSEED",
    "PYTHONIOENCODING",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "CUDA_VISIBLE_DEVICES",
    "RLHELPERS_DEVICE",
    "NBGRADER_EXECUTION",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
)
"""The only variables of the grading process that the kernel sees (plus SANDBOX_ENV)."""
SANDBOX_ENV = {
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "MPLCONFIGDIR": "/tmp/matplotlib",
    "MPLBACKEND": "Agg",
    "PYTHONSAFEPATH": "1",  # the working directory is not on sys.path
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}
KERNEL_MODULES = ("ipykernel", "IPython", "rlhelpers")
"""Top-level modules every graded kernel imports (the notebook's own are added)."""

# Sets the limits, then becomes bwrap. SIGINT is ignored from here on so that an
# interrupt (the per-cell time limit) does not kill bwrap itself: ipykernel
# installs its own SIGINT handler while it runs a cell, so the cell still gets
# a KeyboardInterrupt.
LAUNCHER = (
    "import os, resource, signal, sys; "
    "memory, size, tasks = (int(x) for x in sys.argv[1:4]); "
    "resource.setrlimit(resource.RLIMIT_AS, (memory, memory)); "
    "resource.setrlimit(resource.RLIMIT_FSIZE, (size, size)); "
    "resource.setrlimit(resource.RLIMIT_CORE, (0, 0)); "
    "resource.setrlimit(resource.RLIMIT_NPROC, (tasks, tasks)); "
    "signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.argv[4], sys.argv[4:])"
)

# Inside the sandbox, when grading runs as root and setpriv is missing: become
# the unprivileged user (setuid from root drops every capability), then the kernel.
DROP_PRIVILEGES = (
    "import os, sys; uid = int(sys.argv[1]); "
    "os.setgroups([]); os.setgid(uid); os.setuid(uid); "
    "os.execv(sys.argv[2], sys.argv[2:])"
)

# A user namespace made by root maps the kernel's uid onto root outside, so
# root's own files would stay readable to it: run as root, bwrap makes every
# namespace but the user one, and the kernel becomes a real unprivileged user.
NAMESPACES_AS_ROOT = (
    "--unshare-pid",
    "--unshare-net",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
)

# Run by the kernel's interpreter with the kernel's environment: where it finds
# the given top-level modules (find_spec imports nothing but parent packages).
PROBE = """\
import importlib.util, json, os, sys
found = {}
for name in sys.argv[1:]:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        continue
    if spec.submodule_search_locations:
        found[name] = [os.path.realpath(p) for p in spec.submodule_search_locations]
    elif spec.origin and os.path.isabs(spec.origin):
        found[name] = [os.path.realpath(spec.origin)]
print(json.dumps({
    "prefixes": sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)}),
    "executable": os.path.realpath(sys.executable),
    "path": [os.path.realpath(p) for p in sys.path if p],
    "modules": found,
}))
"""

HOW_TO_FIX = (
    "Install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`, or "
    "`make sandbox-deps` as root) on a machine whose kernel allows unprivileged "
    "user namespaces (sysctl kernel.unprivileged_userns_clone=1, or "
    "user.max_user_namespaces > 0), or run as root. To grade WITHOUT a sandbox "
    "(only for code you trust: students' code could then read the solutions and "
    f"the gradebook), set {OPT_OUT_VARIABLE}=off explicitly."
)


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot start here; the message says why and how to opt out."""


def opted_out() -> bool:
    """True when the instructor explicitly turned the sandbox off."""
    return os.environ.get(OPT_OUT_VARIABLE, "").strip().lower() in {"off", "0", "no", "false"}


def memory_limit() -> int:
    """The kernel's address-space limit in bytes."""
    return GradingLimits.from_env().memory


def file_limit() -> int:
    """The largest file the kernel may write, in bytes."""
    return GradingLimits.from_env().file


def output_limit() -> int:
    """The most output (text, images, tracebacks) one cell keeps, in bytes."""
    return GradingLimits.from_env().output


def tmp_limit() -> int:
    """The size of the kernel's private /tmp, in bytes."""
    return GradingLimits.from_env().tmp


def write_limit() -> int:
    """What the kernel may write in its working directory in total, in bytes."""
    return GradingLimits.from_env().write


def process_limit() -> int:
    """Processes and threads the kernel may start beyond those its user already runs."""
    return GradingLimits.from_env().processes


def limits() -> dict[str, int]:
    """Every limit a kernel runs under (what the preflight's verdict depends on)."""
    return {
        "memory": memory_limit(),
        "file": file_limit(),
        "tmp": tmp_limit(),
        "write": write_limit(),
        "processes": process_limit(),
        "output": output_limit(),
        "uid": sandbox_uid(),
    }


def sandbox_uid() -> int:
    """The uid the kernel runs as: SANDBOX_UID when grading runs as root, else -1 (no change)."""
    return SANDBOX_UID if os.geteuid() == 0 else -1


def _tasks_of(uid: int) -> int:
    """How many processes and threads a user runs now (what RLIMIT_NPROC counts)."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            count += int(fields.get("Threads", "1"))
    return count


def task_limit(uid: int) -> int:
    """RLIMIT_NPROC for a kernel run by `uid`: what the user runs now + process_limit()."""
    return _tasks_of(uid if uid >= 0 else os.getuid()) + process_limit()


def kernel_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """The kernel's environment: the allowed variables of `env` (default: ours), SANDBOX_ENV."""
    env = os.environ if env is None else env
    kept = {name: env[name] for name in ENV_ALLOWED if name in env}
    return {**kept, **SANDBOX_ENV, **_thread_settings()}


def _thread_settings() -> dict[str, str]:
    """Variables that cap torch/OpenMP threads when RLCOURSE_KERNEL_THREADS is set.

    Unset (the default), the kernel uses torch's default, as Validate does. On a
    busy machine (several kernels on 2 cores) OpenMP threads that spin-wait for
    each other can make training cells many times slower; 1 avoids that.
    """
    threads = GradingLimits.from_env().kernel_threads
    if threads is None:
        return {}
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    return {name: str(threads) for name in names}


def _bwrap() -> str | None:
    return shutil.which("bwrap")


def check() -> None:
    """Raise SandboxUnavailable (why, and how to fix or opt out) unless bwrap works here."""
    bwrap = _bwrap()
    if bwrap is None:
        raise SandboxUnavailable(
            "Autograding runs students' code in a bubblewrap sandbox, but `bwrap` "
            "is not installed. " + HOW_TO_FIX
        )
    probe = subprocess.run(
        [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        raise SandboxUnavailable(
            "Autograding runs students' code in a bubblewrap sandbox, but bwrap "
            f"cannot start here: {probe.stderr.strip() or 'exit ' + str(probe.returncode)}. "
            + HOW_TO_FIX
        )


_PROBED: dict[tuple, dict] = {}


def kernel_python(kernel_name: str = "python3") -> str:
    """The interpreter nbgrader's kernels run (jupyter_client's rule for a bare `python`)."""
    from jupyter_client.kernelspec import KernelSpecManager

    argv = KernelSpecManager().get_kernel_spec(kernel_name).argv
    major, minor = sys.version_info[:2]
    return (
        sys.executable
        if argv[0] in {"python", f"python{major}", f"python{major}.{minor}"}
        else argv[0]
    )


def probe_kernel(python: str, env: dict[str, str], modules: tuple[str, ...] = ()) -> dict:
    """Ask the kernel's interpreter, with the kernel's environment, where it imports from.

    {"prefixes", "executable", "path", "modules": {name: [paths]}}; cached per process.
    """
    names = tuple(sorted({*KERNEL_MODULES, *modules}))
    key = (python, env.get("PYTHONPATH", ""), names)
    if key not in _PROBED:
        result = subprocess.run(
            [python, "-c", PROBE, *names],
            capture_output=True,
            text=True,
            env=env,
            cwd="/",
            timeout=120,
        )
        if result.returncode != 0:
            raise SandboxUnavailable(
                f"the kernel's interpreter {python} cannot start: {result.stderr.strip()[-500:]}"
            )
        _PROBED[key] = json.loads(result.stdout.strip().splitlines()[-1])
    return _PROBED[key]


def _inside(path: str, folders: list[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


def _readable_paths(probe: dict | None = None) -> list[str]:
    """What the kernel may read: the system, its Python and venv, and what it imports.

    A `sys.path` entry outside the Python installation is exposed whole only when
    it is a site-packages folder or a zip; from any other (an editable install's
    checkout, PYTHONPATH) only the packages the kernel imports from it are.
    """
    if probe is None:
        probe = probe_kernel(kernel_python(), kernel_environment())
    paths = [p for p in SYSTEM_PATHS if os.path.exists(p)]
    paths += [*probe["prefixes"], os.path.dirname(probe["executable"])]
    for entry in probe["path"]:
        if os.path.basename(entry) in {"site-packages", "dist-packages"} or entry.endswith(".zip"):
            paths.append(entry)
    for locations in probe["modules"].values():
        paths += [p for p in locations if not _inside(p, paths)]
    unique = []
    for path in paths:
        if path not in unique and path != "/" and os.path.exists(path):
            unique.append(path)
    return unique


def _parents(paths: list[str], bound: list[str]) -> list[str]:
    """The folders above `paths` that bwrap must create (outside `bound`), in order.

    bwrap would create them readable by their owner only, which the kernel (nobody,
    when grading runs as root) could not walk through.
    """
    parents = []
    for path in paths:
        parts = Path(path).parts
        for depth in range(2, len(parts)):
            folder = str(Path(*parts[:depth]))
            if folder not in parents and folder != "/tmp" and not _inside(folder, bound):
                parents.append(folder)
    return parents


def _handed_in(workdir: str) -> list[str]:
    """The files and folders in the kernel's working directory (links are never followed)."""
    if not os.path.isdir(workdir):
        return []
    return sorted(e.path for e in os.scandir(workdir) if not e.is_symlink())


def _as_user(uid: int, kernel_cmd: list[str]) -> list[str]:
    """`kernel_cmd` run as `uid` with no capabilities (uid < 0: unchanged)."""
    if uid < 0:
        return kernel_cmd
    setpriv = shutil.which("setpriv")
    if setpriv:
        ids = [f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        caps = ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
        return [setpriv, *ids, *caps, "--", *kernel_cmd]
    return [kernel_cmd[0], "-c", DROP_PRIVILEGES, str(uid), *kernel_cmd]


def bwrap_command(
    kernel_cmd: list[str],
    workdir: str,
    runtime_dir: str,
    env: dict[str, str] | None = None,
    modules: tuple[str, ...] = (),
) -> list[str]:
    """`kernel_cmd` wrapped in the limits + bwrap (see the module doc)."""
    bwrap = _bwrap()
    if bwrap is None:
        check()  # raises with the explanation
    environment = kernel_environment(env)
    uid = sandbox_uid()
    # all of them (a user namespace too, when possible), or all but the user one as root
    namespaces = NAMESPACES_AS_ROOT if uid >= 0 else ("--unshare-all",)
    command = [
        sys.executable,
        "-c",
        LAUNCHER,
        str(memory_limit()),
        str(file_limit()),
        str(task_limit(uid)),
        bwrap,
        *namespaces,
        "--die-with-parent",
        "--clearenv",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        *("--perms", "1777", "--size", str(tmp_limit()), "--tmpfs", "/tmp"),
    ]
    readable = _readable_paths(probe_kernel(kernel_cmd[0], environment, modules))
    for folder in _parents([*readable, workdir, runtime_dir], readable):
        command += ["--perms", "0755", "--dir", folder]
    for path in readable:
        command += ["--ro-bind-try", path, path]
    command += ["--perms", "1777", "--size", str(write_limit()), "--tmpfs", workdir]
    for path in _handed_in(workdir):
        command += ["--ro-bind", path, path]
    command += ["--bind", runtime_dir, runtime_dir, "--chdir", workdir]
    for name, value in sorted(environment.items()):
        command += ["--setenv", name, value]
    return [*command, "--", *_as_user(uid, kernel_cmd)]


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run inside bwrap with limits (see the module doc)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if opted_out():
            self.log.warning("%s=off: students' code runs WITHOUT the sandbox", OPT_OUT_VARIABLE)
            return
        check()
        self.transport = "ipc"
        # the kernel creates its sockets next to the connection file: a private folder
        runtime = Path(os.environ.get("JUPYTER_RUNTIME_DIR") or "/tmp")
        runtime.mkdir(parents=True, exist_ok=True)
        import tempfile

        self._sandbox_runtime = tempfile.mkdtemp(prefix="rlcourse-kernel-", dir=runtime)
        self.connection_file = os.path.join(self._sandbox_runtime, "kernel.json")

    import_modules: tuple[str, ...] = ()
    """Top-level modules the notebook imports (set by kernel.guard): exposed wherever they are."""

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if opted_out():
            return cmd
        workdir = os.path.realpath(self._launch_args.get("cwd") or os.getcwd())
        uid = sandbox_uid()
        if uid >= 0:  # the unprivileged kernel must reach its sockets and connection file
            for path in (self._sandbox_runtime, self.connection_file):
                if os.path.exists(path):
                    os.chown(path, uid, uid)
        env = self._launch_args.get("env") or dict(os.environ)
        return bwrap_command(cmd, workdir, self._sandbox_runtime, env, self.import_modules)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        runtime = getattr(self, "_sandbox_runtime", None)
        if runtime and not restart:
            shutil.rmtree(runtime, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources  # type: ignore[assignment]


def main() -> None:
    if opted_out():
        print(f"{OPT_OUT_VARIABLE}=off: autograding runs WITHOUT a sandbox")
        return
    try:
        check()
    except SandboxUnavailable as error:
        sys.exit(str(error))
    print("bubblewrap sandbox: OK; readable inside:", " ".join(_readable_paths()))
    print("environment inside:", " ".join(sorted(kernel_environment())))


if __name__ == "__main__":
    main()
