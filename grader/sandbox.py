"""The sandboxed kernel that autograding runs students' code in.

Every kernel that `nbgrader autograde` starts with this course's configuration
is wrapped in bubblewrap (`bwrap`) and resource limits:

- the file system is a read-only allow-list: the system (/usr, /etc, ...),
  the Python installation, the virtual environment and the rlhelpers package;
  nothing else of the machine exists inside (no solutions/, no gradebook, no
  grader/work, no home folder, no other course files);
- the submission's own folder (the autograded copy, the kernel's working
  directory) is writable, and /tmp is an empty private tmpfs;
- no network (a private network namespace with only a loopback device);
- limits: address space (`RLCOURSE_MEMORY_LIMIT`, default 8 GiB, enough for
  torch), file size (`RLCOURSE_FILE_LIMIT`, default 1 GiB), processes die with
  the grader.

The kernel talks to nbgrader over Unix sockets (ZeroMQ `ipc` transport) in a
private runtime folder, because a TCP port inside a private network namespace
cannot be reached from outside.

When bubblewrap is missing or cannot create namespaces, grading stops with
:class:`SandboxUnavailable`; it never falls back to an unsandboxed kernel on
its own. `RLCOURSE_SANDBOX=off` is the explicit opt-out (trusted code only).

    python -m grader.sandbox            # check that the sandbox works here
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

OPT_OUT_VARIABLE = "RLCOURSE_SANDBOX"
MEMORY_VARIABLE = "RLCOURSE_MEMORY_LIMIT"
FILE_VARIABLE = "RLCOURSE_FILE_LIMIT"
THREADS_VARIABLE = "RLCOURSE_KERNEL_THREADS"
DEFAULT_MEMORY_LIMIT = 8 * 2**30
DEFAULT_FILE_LIMIT = 2**30
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")

# Sets the limits, then becomes bwrap. SIGINT is ignored from here on so that an
# interrupt (the per-cell time limit) does not kill bwrap itself: ipykernel
# installs its own SIGINT handler while it runs a cell, so the cell still gets
# a KeyboardInterrupt.
LAUNCHER = (
    "import os, resource, signal, sys; "
    "memory, size = int(sys.argv[1]), int(sys.argv[2]); "
    "resource.setrlimit(resource.RLIMIT_AS, (memory, memory)); "
    "resource.setrlimit(resource.RLIMIT_FSIZE, (size, size)); "
    "resource.setrlimit(resource.RLIMIT_CORE, (0, 0)); "
    "signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)

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


def _size(variable: str, default: int) -> int:
    """A byte count from an environment variable such as '8G', '512M' or '1000000'."""
    text = os.environ.get(variable, "").strip().upper()
    if not text:
        return default
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    if text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def memory_limit() -> int:
    """The kernel's address-space limit in bytes."""
    return _size(MEMORY_VARIABLE, DEFAULT_MEMORY_LIMIT)


def file_limit() -> int:
    """The largest file the kernel may write, in bytes."""
    return _size(FILE_VARIABLE, DEFAULT_FILE_LIMIT)


def _thread_settings() -> list[str]:
    """bwrap options that cap torch/OpenMP threads when RLCOURSE_KERNEL_THREADS is set.

    Unset (the default), the kernel uses torch's default, as Validate does. On a
    busy machine (several kernels on 2 cores) OpenMP threads that spin-wait for
    each other can make training cells many times slower; 1 avoids that.
    """
    threads = os.environ.get(THREADS_VARIABLE, "").strip()
    if not threads:
        return []
    options = []
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        options += ["--setenv", name, str(int(threads))]
    return options


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


def _readable_paths() -> list[str]:
    """What the kernel may read: the system, Python, the venv, rlhelpers (and nothing else)."""
    paths = [p for p in SYSTEM_PATHS if os.path.exists(p)]
    python = [sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))]
    paths += [os.path.realpath(p) for p in python]
    spec = importlib.util.find_spec("rlhelpers")
    if spec is not None:
        for location in spec.submodule_search_locations or [os.path.dirname(spec.origin)]:
            paths.append(os.path.realpath(location))
    unique = []
    for path in paths:
        if path not in unique and path != "/" and os.path.isdir(path):
            unique.append(path)
    return unique


def bwrap_command(kernel_cmd: list[str], workdir: str, runtime_dir: str) -> list[str]:
    """`kernel_cmd` wrapped in the limits + bwrap: workdir and runtime_dir writable, no network."""
    bwrap = _bwrap()
    if bwrap is None:
        check()  # raises with the explanation
    command = [
        sys.executable,
        "-c",
        LAUNCHER,
        str(memory_limit()),
        str(file_limit()),
        bwrap,
        "--unshare-all",  # user (when possible), pid, ipc, uts, cgroup and network
        "--die-with-parent",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
    ]
    for path in _readable_paths():
        command += ["--ro-bind-try", path, path]
    for path in (workdir, runtime_dir):
        command += ["--bind", path, path]
    command += [
        "--chdir",
        workdir,
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "MPLCONFIGDIR",
        "/tmp/matplotlib",
        "--setenv",
        "MPLBACKEND",
        "Agg",
        *_thread_settings(),
        "--unsetenv",
        "NBGRADER_DB_URL",
        # ipykernel would take the sandbox's init (pid 1) for a dead parent
        "--unsetenv",
        "JPY_PARENT_PID",
        "--",
    ]
    return command + kernel_cmd


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

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if opted_out():
            return cmd
        workdir = os.path.realpath(self._launch_args.get("cwd") or os.getcwd())
        return bwrap_command(cmd, workdir, self._sandbox_runtime)

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


if __name__ == "__main__":
    main()
