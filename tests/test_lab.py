"""`make lab` serves JupyterLab with nbgrader's extensions loaded."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from grader import release

TOKEN = secrets.token_hex(8)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str):
    sep = "&" if "?" in path else "?"
    url = f"http://127.0.0.1:{port}{path}{sep}token={TOKEN}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode(), response.url


@pytest.fixture(scope="module")
def lab_port():
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "grader.lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={TOKEN}",
        ],
        cwd=release.REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                get(port, "/api/status")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "JupyterLab did not start:\n" + server.stderr.read()
                    ) from None
                time.sleep(0.5)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_lab_opens_on_the_student_notebooks(lab_port):
    status, _, landed_on = get(lab_port, "/")
    assert status == 200
    assert "/lab/tree/notebooks" in landed_on, f"the browser opens {landed_on}, not notebooks/"


def test_nbgrader_lab_extension_is_installed(lab_port):
    _, body, _ = get(lab_port, "/lab/api/extensions")
    names = {extension["name"] for extension in json.loads(body)}
    assert "jupyter-nbgrader" in names, names


def test_validate_server_extension_answers(lab_port):
    status, body, _ = get(lab_port, "/nbgrader_version?version=0.9.6")
    assert status == 200 and json.loads(body)["success"], body


def test_formgrader_lists_the_lessons(lab_port):
    _, body, _ = get(lab_port, "/formgrader/api/assignments")
    listed = {assignment["name"] for assignment in json.loads(body)}
    assert set(release.lesson_ids()) <= listed, listed
