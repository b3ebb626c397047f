"""`make bench`: how long each solution notebook takes, top to bottom, on this machine.

Each lesson's instructor notebook runs in a fresh Jupyter kernel, as a student
would run it; the table compares the times with the budgets in DESIGN.md
(60 s a lesson, 4 minutes for the course, on a 2-core CPU).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import nbformat
from nbclient import NotebookClient

from grader.course import REPO, lesson_ids, source_path
from grader.release import build_source_notebook

LESSON_BUDGET_S = 60.0
COURSE_BUDGET_S = 240.0


def time_lesson(lesson_id: str) -> float:
    """Seconds to execute the lesson's instructor notebook in a new kernel."""
    source = source_path(REPO, lesson_id)
    notebook = nbformat.read(build_source_notebook(source), as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(source.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def table(rows: list[tuple[str, float]]) -> str:
    lines = [f"{'lesson':<20} {'seconds':>8}  budget", "-" * 40]
    for lesson_id, seconds in rows:
        verdict = "ok" if seconds <= LESSON_BUDGET_S else f"OVER {LESSON_BUDGET_S:.0f} s"
        lines.append(f"{lesson_id:<20} {seconds:8.1f}  {verdict}")
    total = sum(seconds for _, seconds in rows)
    verdict = "ok" if total <= COURSE_BUDGET_S else f"OVER {COURSE_BUDGET_S:.0f} s"
    lines += ["-" * 40, f"{'course':<20} {total:8.1f}  {verdict}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="time every solution notebook")
    parser.add_argument("lessons", nargs="*", help="lesson ids (default: all)")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    rows = [(lesson_id, time_lesson(lesson_id)) for lesson_id in args.lessons or lesson_ids()]
    report = table(rows)
    print(report)
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.txt").write_text(report + "\n")


if __name__ == "__main__":
    main()
