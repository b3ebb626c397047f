"""The sandboxed kernel that autograding uses: what a submission can and cannot reach."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from course_tools import NEEDS_SANDBOX

from grader import course
from grader.course import REPO
from grader.kernel import sandbox

pytestmark = NEEDS_SANDBOX

PROBE = """
import os, socket, json
result = {}
def attempt(name, action):
    try:
        action()
        result[name] = "allowed"
    except Exception as error:
        result[name] = type(error).__name__
attempt("read solutions", lambda: os.listdir(SOLUTIONS))
attempt("read gradebook", lambda: open(GRADEBOOK, "rb").read(1))
attempt("read grader/work", lambda: os.listdir(WORK))
attempt("read the tests", lambda: os.listdir(REPO + "/tests"))
attempt("write the repository", lambda: open(REPO + "/rlhelpers/ESCAPED.py", "w").write("x"))
attempt("write the venv", lambda: open(REPO + "/.venv/ESCAPED", "w").write("x"))
attempt("write its folder", lambda: open("own_file.txt", "w").write("x"))
attempt("network", lambda: socket.create_connection(("1.1.1.1", 53), timeout=2))
attempt("import torch", lambda: __import__("torch").ones(3).sum().item())
attempt("import rlhelpers", lambda: __import__("rlhelpers.testing"))
attempt("allocate 16 GiB", lambda: bytearray(16 * 2**30))
attempt("read root's files", lambda: open("/etc/shadow").read(1))
attempt("see a secret", lambda: os.environ["HUB_API_TOKEN"])
attempt("fill /tmp", lambda: open("/tmp/big", "wb").write(bytes(8 * 2**20)))
attempt("fill its folder", lambda: open("big", "wb").write(bytes(8 * 2**20)))
attempt("change a handed-in file", lambda: open("handed_in.txt", "a").write("x"))
import numpy
result["numpy"] = numpy.__file__
result["rlhelpers"] = __import__("rlhelpers").__file__
result["uid"] = os.getuid()
result["environment"] = sorted(os.environ)
print(json.dumps(result))
"""


def run_in_sandbox(code: str, workdir) -> str:
    """Start a sandboxed kernel in `workdir`, run `code`, return its stdout."""

    async def go():
        manager = sandbox.SandboxedKernelManager()
        await manager.start_kernel(cwd=str(workdir))
        client = manager.client()
        client.start_channels()
        out = []
        try:
            await client.wait_for_ready(timeout=60)

            def keep(msg):
                if msg["msg_type"] == "stream":
                    out.append(msg["content"]["text"])
                if msg["msg_type"] == "error":
                    out.append("\n".join(msg["content"]["traceback"]))

            await client.execute_interactive(code, output_hook=keep, timeout=120)
        finally:
            client.stop_channels()
            await manager.shutdown_kernel(now=True)
        return "".join(out)

    return asyncio.run(go())


def test_sandbox_blocks_secrets_network_and_writes(tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("HUB_API_TOKEN", "a secret of the grading process")
    monkeypatch.setenv(sandbox.TMP_VARIABLE, "4M")
    monkeypatch.setenv(sandbox.WRITE_VARIABLE, "4M")
    (tmp_path / "numpy.py").write_text("raise SystemExit('a handed-in numpy')")
    (tmp_path / "handed_in.txt").write_text("data")
    course.work(REPO).mkdir(parents=True, exist_ok=True)
    paths = {
        "REPO": REPO,
        "SOLUTIONS": REPO / course.SOURCES,
        "GRADEBOOK": REPO / course.GRADEBOOK,
        "WORK": course.work(REPO),
    }
    header = "".join(f"{name} = {str(path)!r}\n" for name, path in paths.items())
    output = run_in_sandbox(header + PROBE, tmp_path)
    result = json.loads(output.strip().splitlines()[-1])
    assert result["write its folder"] == "allowed"
    assert not (tmp_path / "own_file.txt").exists(), "writes stay in the sandbox's tmpfs"
    assert (tmp_path / "handed_in.txt").read_text() == "data"
    assert result["change a handed-in file"] in {"OSError", "PermissionError"}, result
    assert result["fill /tmp"] == "OSError" and result["fill its folder"] == "OSError", result
    assert result["see a secret"] == "KeyError"
    assert "HUB_API_TOKEN" not in result["environment"]
    assert set(result["environment"]) >= {"PATH", "HOME", "PYTHONSAFEPATH"}
    assert not result["numpy"].startswith(str(tmp_path)), "a handed-in numpy.py was imported"
    assert result["rlhelpers"].startswith(str(REPO)), result["rlhelpers"]
    if os.geteuid() == 0:
        assert result["uid"] == sandbox.SANDBOX_UID
        assert result["read root's files"] == "PermissionError", result
    assert result["import rlhelpers"] == "allowed"
    assert result["import torch"] == "allowed", "torch must run under the memory limit"
    assert result["allocate 16 GiB"] == "MemoryError"
    for name in ("read solutions", "read gradebook", "read grader/work", "read the tests"):
        assert result[name] in {"FileNotFoundError", "PermissionError"}, (name, result)
    for name in ("write the repository", "write the venv"):
        assert result[name] in {"OSError", "PermissionError", "FileNotFoundError"}, (name, result)
    assert not (REPO / "rlhelpers" / "ESCAPED.py").exists()
    assert result["network"] == "OSError", result


def test_missing_bubblewrap_stops_with_how_to_opt_out(monkeypatch):
    monkeypatch.setattr(sandbox, "_bwrap", lambda: None)
    monkeypatch.delenv(sandbox.OPT_OUT_VARIABLE, raising=False)
    with pytest.raises(sandbox.SandboxUnavailable) as error:
        sandbox.check()
    assert "bwrap" in str(error.value)
    assert "RLCOURSE_SANDBOX=off" in str(error.value)
    with pytest.raises(sandbox.SandboxUnavailable):
        sandbox.SandboxedKernelManager()


def test_opt_out_is_explicit(monkeypatch):
    monkeypatch.setattr(sandbox, "_bwrap", lambda: None)
    monkeypatch.setenv(sandbox.OPT_OUT_VARIABLE, "off")
    manager = sandbox.SandboxedKernelManager()  # no error: the instructor chose this
    assert manager.transport == "tcp"


def test_limits_read_from_the_environment(monkeypatch):
    monkeypatch.setenv(sandbox.MEMORY_VARIABLE, "2G")
    assert sandbox.memory_limit() == 2 * 2**30
    monkeypatch.delenv(sandbox.MEMORY_VARIABLE)
    assert sandbox.memory_limit() == sandbox.DEFAULT_MEMORY_LIMIT
    assert os.path.realpath(os.path.dirname(sandbox.__file__)) not in sandbox._readable_paths()


def test_kernel_threads_can_be_capped(monkeypatch):
    monkeypatch.delenv(sandbox.THREADS_VARIABLE, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert "OMP_NUM_THREADS" not in sandbox.bwrap_command([sys.executable], "/tmp/w", "/tmp/r")
    monkeypatch.setenv(sandbox.THREADS_VARIABLE, "1")
    command = sandbox.bwrap_command([sys.executable], "/tmp/w", "/tmp/r")
    assert command[command.index("OMP_NUM_THREADS") + 1] == "1"


def test_the_sandbox_exposes_the_rlhelpers_the_kernel_imports(tmp_path, monkeypatch):
    """The kernel's sys.path decides (here an rlhelpers of another checkout on PYTHONPATH)."""
    import shutil

    other = tmp_path / "other_checkout"
    shutil.copytree(REPO / "rlhelpers", other / "rlhelpers")
    (other / "solutions").mkdir()
    (other / "solutions" / "secret.py").write_text("answer = 42")
    monkeypatch.setenv("PYTHONPATH", str(other))
    work = tmp_path / "work"
    work.mkdir()
    code = (
        "import os, rlhelpers.testing\n"
        "print(rlhelpers.testing.__file__)\n"
        f"print(os.path.exists({str(other / 'solutions')!r}))"
    )
    printed = run_in_sandbox(code, work).split()
    assert printed == [str(other / "rlhelpers" / "testing.py"), "False"], printed


def test_limits_and_environment_of_the_kernel(monkeypatch):
    monkeypatch.setenv(sandbox.TMP_VARIABLE, "64M")
    assert sandbox.tmp_limit() == 64 * 2**20
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    env = sandbox.kernel_environment()
    assert "AWS_SECRET_ACCESS_KEY" not in env and env["OMP_NUM_THREADS"] == "1"
    assert env["HOME"] == "/tmp" and env["PYTHONSAFEPATH"] == "1"
    command = sandbox.bwrap_command([sys.executable, "-c", "pass"], "/tmp/w", "/tmp/r")
    assert "--clearenv" in command
    assert command[command.index("/tmp") - 3 : command.index("/tmp")] == [
        "--size",
        str(64 * 2**20),
        "--tmpfs",
    ]
    if os.geteuid() == 0:
        assert "--unshare-user" not in command and "--unshare-all" not in command
        assert f"--reuid={sandbox.SANDBOX_UID}" in command


def test_the_guard_puts_back_a_module_that_only_the_lesson_imports(tmp_path):
    """An answer that patches rlhelpers.bandits (not in BASE_MODULES) is undone before a test."""
    import nbformat

    from grader.kernel import guard

    lesson = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("from rlhelpers.bandits import Testbed")]
    )
    setup = guard.setup_code(guard.guarded_modules(lesson))
    restore = guard.restore_code(guard.notebook_imports(lesson))
    answer = (
        "import rlhelpers.bandits\n"
        "real = rlhelpers.bandits.Testbed\n"
        "rlhelpers.bandits.Testbed = Testbed = object\n"
    )
    check = "print(rlhelpers.bandits.Testbed is real, Testbed is real)\n"
    printed = run_in_sandbox(setup + answer + restore + check, tmp_path)
    assert printed.split()[-2:] == ["True", "True"], printed


GUARDED_ANSWER = """
import gc, signal, sys, threading, warnings
from concurrent.futures import ThreadPoolExecutor
import torch
from tqdm import tqdm
from torch.utils._python_dispatch import TorchDispatchMode
import rlhelpers.testing

def right(values):
    \"\"\"A right answer that uses tqdm, a thread pool, warnings and torch.\"\"\"
    warnings.warn("slow")
    with ThreadPoolExecutor(2) as pool:
        squares = list(pool.map(lambda v: v * v, tqdm(values)))
    return torch.tensor(squares, dtype=torch.float64)

class Zeros(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return torch.zeros(2, dtype=torch.float64)  # every tensor op: the 'expected' zeros
tries = {}
for what, attempt in {
    "profile": lambda: sys.setprofile(lambda *a: None),
    "kwdefaults": lambda: setattr(
        rlhelpers.testing.check_close.__wrapped__, "__kwdefaults__", {"atol": 1e9}),
    "gc walk": lambda: gc.get_referrers(rlhelpers.testing),
}.items():
    try:
        attempt()
        tries[what] = "allowed"
    except RuntimeError:
        tries[what] = "refused"
old_check = rlhelpers.testing.check_close
Zeros().__enter__()
signal.signal(signal.SIGALRM, lambda *a: None)
stale = ThreadPoolExecutor(1)
stale.submit(lambda: None).result()
import _thread, time
spins = []
def spin():
    while True:
        spins.append(1)
        time.sleep(0.001)
_thread.start_new_thread(spin, ())  # not in threading.enumerate()
deadline = time.monotonic() + 60
while not spins and time.monotonic() < deadline:  # running Python code
    time.sleep(0.001)
"""

GUARDED_CHECK = """
from rlhelpers.testing import check_close
print("tries", tries)
print("fresh", check_close is not old_check)
print("gc off", not gc.isenabled())
spun = len(spins)
time.sleep(0.05)
print("raw thread stopped", len(spins) == spun)
check_close(right([1.0, 2.0]), [1.0, 4.0], "right")
try:
    check_close(torch.tensor([1.0, 2.0], dtype=torch.float64), [0.0, 0.0], "wrong")
    print("wrong passed")
except AssertionError:
    print("wrong failed")
__rlcourse_guard__[1]()
print("gc back", gc.isenabled())
"""


TQDM_ANSWER = """
import threading
from tqdm.auto import tqdm
bar = tqdm(total=10, desc="left open")  # as a loop left by break or return leaves its bar
bar.update(3)
threads_of_the_answer = sorted(t.name for t in threading.enumerate())
"""


def test_the_guard_does_not_report_tqdms_own_monitor_thread(tmp_path):
    """A progress bar left open is no thread of the notebook's: tqdm starts no monitor."""
    import nbformat

    from grader.kernel import guard

    lesson = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("from rlhelpers.testing import check_close")]
    )
    setup = guard.setup_code(guard.guarded_modules(lesson))
    restore = guard.restore_code(guard.notebook_imports(lesson))
    check = "print('bar at', bar.n, 'threads', threads_of_the_answer)\n"
    printed = run_in_sandbox(setup + TQDM_ANSWER + restore + check, tmp_path)
    assert "bar at 3" in printed, printed
    assert "tqdm_monitor" not in printed, printed
    assert "a thread the notebook started" not in printed, printed


def test_the_guard_refuses_or_undoes_what_could_act_in_a_check(tmp_path):
    """Hooks, modes, handlers and threads from an answer are refused or undone before a test;
    a right answer that uses torch, tqdm, threads and warnings still passes."""
    import nbformat

    from grader.kernel import guard

    lesson = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("from rlhelpers.testing import check_close")]
    )
    setup = guard.setup_code(guard.guarded_modules(lesson))
    restore = guard.restore_code(guard.notebook_imports(lesson))
    printed = run_in_sandbox(setup + GUARDED_ANSWER + restore + GUARDED_CHECK, tmp_path)
    assert "tries {'profile': 'refused', 'kwdefaults': 'refused', 'gc walk': 'refused'}" in printed
    for found in (
        "refused sys.setprofile",
        "refused changing check_close.__kwdefaults__",
        "refused gc.get_referrers",
        "a torch dispatch mode (Zeros)",
        "a handler of signal 14",
        "a thread the notebook started",
    ):
        assert found in printed, printed
    assert printed.count("a thread the notebook started") == 2, printed
    for line in ("fresh True", "gc off True", "raw thread stopped True", "wrong failed"):
        assert line in printed, printed
    assert "gc back True" in printed, printed
    assert "GradingError" not in printed.split("wrong failed")[0], printed
