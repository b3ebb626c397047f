"""The grading limits, in one place: what a sandboxed kernel and its cells may use.

Each limit is an environment variable (`RLCOURSE_*`) so that nbgrader's own
process, the sandbox it starts and a remote Celery worker all read the same
values. `GradingLimits.from_env()` reads them once (with the defaults), and
`to_env()` writes them back: the coordinator sends them with every task, a
worker sets them around one submission (`environment`). The sandbox opt-out
(`RLCOURSE_SANDBOX`) is not a limit and never travels.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields

CELL_TIMEOUT_S = 300
"""Training cells run for tens of seconds on a laptop CPU; a cell that runs longer is stuck."""
CELL_TIMEOUT_VARIABLE = "RLCOURSE_CELL_TIMEOUT"
MEMORY_VARIABLE = "RLCOURSE_MEMORY_LIMIT"
FILE_VARIABLE = "RLCOURSE_FILE_LIMIT"
THREADS_VARIABLE = "RLCOURSE_KERNEL_THREADS"
TMP_VARIABLE = "RLCOURSE_TMP_LIMIT"
WRITE_VARIABLE = "RLCOURSE_WRITE_LIMIT"
PROCESS_VARIABLE = "RLCOURSE_PROCESS_LIMIT"
OUTPUT_VARIABLE = "RLCOURSE_OUTPUT_LIMIT"
DEFAULT_MEMORY_LIMIT = 8 * 2**30
DEFAULT_FILE_LIMIT = 2**30
DEFAULT_TMP_LIMIT = 512 * 2**20
DEFAULT_WRITE_LIMIT = 512 * 2**20
DEFAULT_PROCESS_LIMIT = 512
DEFAULT_OUTPUT_LIMIT = 2**20
SIZE_UNITS = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text: str) -> int:
    """A byte count such as '8G', '512M' or '1000000'."""
    text = text.strip().upper()
    if text and text[-1] in SIZE_UNITS:
        return int(float(text[:-1]) * SIZE_UNITS[text[-1]])
    return int(text)


@dataclass(frozen=True)
class GradingLimits:
    """Every limit one submission is graded under (the environment variable in brackets)."""

    cell_timeout_s: int = CELL_TIMEOUT_S
    """Seconds one autograded cell may run before it is stopped (RLCOURSE_CELL_TIMEOUT)."""
    memory: int = DEFAULT_MEMORY_LIMIT
    """The kernel's address-space limit in bytes (RLCOURSE_MEMORY_LIMIT, e.g. '8G')."""
    file: int = DEFAULT_FILE_LIMIT
    """The largest file the kernel may write, in bytes (RLCOURSE_FILE_LIMIT)."""
    tmp: int = DEFAULT_TMP_LIMIT
    """The size of the kernel's private /tmp, in bytes (RLCOURSE_TMP_LIMIT)."""
    write: int = DEFAULT_WRITE_LIMIT
    """What the kernel may write in its working folder in total, in bytes (RLCOURSE_WRITE_LIMIT)."""
    processes: int = DEFAULT_PROCESS_LIMIT
    """Processes and threads the kernel may start beyond its user's (RLCOURSE_PROCESS_LIMIT)."""
    output: int = DEFAULT_OUTPUT_LIMIT
    """The most output one cell keeps, in bytes (RLCOURSE_OUTPUT_LIMIT)."""
    kernel_threads: int | None = None
    """torch/OpenMP threads of the kernel; None: torch's default (RLCOURSE_KERNEL_THREADS)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GradingLimits:
        """The limits the environment sets (`os.environ` by default), defaults for the rest."""
        env = os.environ if env is None else env
        values = {}
        for field in fields(cls):
            text = env.get(VARIABLES[field.name], "").strip()
            if text:
                values[field.name] = PARSERS.get(field.name, int)(text)
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """{variable: value} that `from_env` reads back as these limits."""
        return {
            VARIABLES[name]: str(value) for name, value in asdict(self).items() if value is not None
        }


VARIABLES = {
    "cell_timeout_s": CELL_TIMEOUT_VARIABLE,
    "memory": MEMORY_VARIABLE,
    "file": FILE_VARIABLE,
    "tmp": TMP_VARIABLE,
    "write": WRITE_VARIABLE,
    "processes": PROCESS_VARIABLE,
    "output": OUTPUT_VARIABLE,
    "kernel_threads": THREADS_VARIABLE,
}
"""The environment variable of each GradingLimits field."""
PARSERS = {name: parse_size for name in ("memory", "file", "tmp", "write", "output")}
"""How a field's variable is read (int when not listed)."""


@contextlib.contextmanager
def environment(changes: Mapping[str, str | None]) -> Iterator[None]:
    """Set environment variables (None: unset) for the block, then restore what was there."""
    saved = {name: os.environ.get(name) for name in changes}
    try:
        for name, value in changes.items():
            _set(name, value)
        yield
    finally:
        for name, value in saved.items():
            _set(name, value)


def _set(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
