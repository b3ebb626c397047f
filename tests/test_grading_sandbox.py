"""The sandboxed kernel that autograding uses: what a submission can and cannot reach."""

from __future__ import annotations

import asyncio
import os

import pytest

from grader import course, sandbox
from grader.course import REPO

pytestmark = pytest.mark.skipif(
    sandbox.opted_out(), reason="RLCOURSE_SANDBOX=off: the sandbox is switched off"
)

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


def test_sandbox_blocks_secrets_network_and_writes(tmp_path):
    import json

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
    assert (tmp_path / "own_file.txt").exists()
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
    assert "OMP_NUM_THREADS" not in sandbox.bwrap_command(["python"], "/tmp", "/tmp")
    monkeypatch.setenv(sandbox.THREADS_VARIABLE, "1")
    command = sandbox.bwrap_command(["python"], "/tmp", "/tmp")
    assert command[command.index("OMP_NUM_THREADS") + 1] == "1"
