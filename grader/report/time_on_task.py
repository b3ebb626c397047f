"""Minutes per exercise, from the cell timing JupyterLab records in a notebook.

With JupyterLab's notebook setting `recordTiming` on (the course turns it on in
the students' lab: grader/bundle.py), every code cell keeps, in
`metadata.execution`, when its LAST run started and ended. An exercise's
working time is estimated from the runs of its cells (every code cell from its
heading to the next section): the recorded times in order, with each gap over
GAP_MINUTES cut out (a break, not work). A cell run many times counts only its
last run, so the estimate is a lower bound for students who kept going back.
"""

from __future__ import annotations

from datetime import datetime

import nbformat

from grader.report.exercises import exercise_title, heading_of

GAP_MINUTES = 30
TIMESTAMPS = ("iopub.execute_input", "shell.execute_reply")
"""The keys of metadata.execution read: when a run started and when it ended."""


def cell_times(cell: nbformat.NotebookNode) -> list[datetime]:
    """When the cell's last run started and ended (nothing when not recorded)."""
    recorded = cell.get("metadata", {}).get("execution", {})
    times = []
    for key in TIMESTAMPS:
        try:
            times.append(datetime.fromisoformat(recorded[key].replace("Z", "+00:00")))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return times


def working_minutes(times: list[datetime], gap_minutes: float = GAP_MINUTES) -> float:
    """The span of `times` in minutes, less every gap longer than `gap_minutes`."""
    ordered = sorted(times)
    steps = [(b - a).total_seconds() / 60 for a, b in zip(ordered, ordered[1:], strict=False)]
    return sum(step for step in steps if step <= gap_minutes)


def opens_section(cell: nbformat.NotebookNode) -> bool:
    """A markdown cell with a level-two heading: a new section (maybe an exercise)."""
    return cell.cell_type == "markdown" and any(
        line.startswith("## ") for line in cell.source.splitlines()
    )


def exercise_cells(notebook: nbformat.NotebookNode) -> dict[str, list[nbformat.NotebookNode]]:
    """{exercise title: its code cells}, each exercise running to the next section."""
    found: dict[str, list[nbformat.NotebookNode]] = {}
    current = None
    for cell in notebook.cells:
        heading = heading_of(cell)
        if heading:
            current = exercise_title(heading)
            found.setdefault(current, [])
        elif opens_section(cell):
            current = None
        elif current and cell.cell_type == "code":
            found[current].append(cell)
    return found


def minutes_per_exercise(notebook: nbformat.NotebookNode) -> dict[str, float]:
    """{exercise title: estimated working minutes} for the exercises with recorded runs."""
    result = {}
    for title, cells in exercise_cells(notebook).items():
        times = [t for cell in cells for t in cell_times(cell)]
        if times:
            result[title] = working_minutes(times)
    return result
