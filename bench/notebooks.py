"""Row 1: each solution notebook top to bottom in a fresh Jupyter kernel, against its budget.

The instructor notebook (built from the lesson's py:percent source) runs as a
student would run it, hidden tests included, so it is also what autograding
executes (row 4 compares with these times).
"""

from __future__ import annotations

import time

import nbformat
from nbclient import NotebookClient

from bench.machine import torch_device
from grader.course import REPO, source_path
from grader.release import build_source_notebook

# The budgets are DESIGN.md's ("Runtime budgets"), on the 2-core CPU-only machine.
LESSON_BUDGET_S = 60.0
CAPSTONE_BUDGET_S = 90.0
CAPSTONES = ("06", "07")
"""lessons 06 and 07 (DESIGN.md: 90 s each)"""
COURSE_BUDGET_S = 300.0


def lesson_budget(lesson_id: str) -> float:
    """Seconds a lesson may take: 90 for lessons 06 and 07, 60 for the others."""
    return CAPSTONE_BUDGET_S if lesson_id.startswith(CAPSTONES) else LESSON_BUDGET_S


CPU_PROBE = (
    "import os as _bench_os\n"
    "_bench_t = _bench_os.times()\n"
    "print(_bench_t.user + _bench_t.system + _bench_t.children_user + _bench_t.children_system)"
)
"""a last cell, added by the bench: the kernel's CPU seconds (its own and its children's)"""


def last_printed_line(notebook: nbformat.NotebookNode) -> str:
    """The last line the notebook's last cell printed."""
    outputs = notebook.cells[-1].get("outputs", [])
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    return text.strip().splitlines()[-1]


def kernel_cpu_seconds(notebook: nbformat.NotebookNode) -> float:
    """What CPU_PROBE printed in the notebook's last cell."""
    return float(last_printed_line(notebook))


def time_lesson(lesson_id: str, device: str | None = "cpu") -> tuple[float, float]:
    """(wall seconds, kernel CPU seconds) of the lesson's instructor notebook in a new kernel.

    On a loaded machine the wall time grows with the load; the CPU seconds of a
    single-threaded kernel much less (they approach what an idle machine takes).
    """
    notebook, wall = execute_lesson(lesson_id, CPU_PROBE, device)
    return wall, kernel_cpu_seconds(notebook)


def execute_lesson(
    lesson_id: str, last_cell: str, device: str | None = "cpu"
) -> tuple[nbformat.NotebookNode, float]:
    """The lesson's instructor notebook with `last_cell` added, executed in a new kernel, and its
    wall seconds."""
    source = source_path(REPO, lesson_id)
    notebook = nbformat.read(build_source_notebook(source), as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(last_cell))
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(source.parent)}},
    )
    with torch_device(device):
        started = time.perf_counter()
        client.execute()
        wall = time.perf_counter() - started
    return notebook, wall
