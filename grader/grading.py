"""Submissions and grades through nbgrader, for one course folder.

Used by the round-trip tests and by the instructor targets: place a notebook
as a student's submission, autograde it, read the scores back per grade cell.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

from grader import course
from grader.gradebook import CellScore as CellScore  # (tests read them here)
from grader.gradebook import cell_scores as cell_scores
from grader.nbgrader_cli import run_nbgrader

SOLUTION_MARKERS = re.compile(r"^\s*#*\s*(### )?(BEGIN|END) SOLUTION\s*$")


def submit(root: Path, student: str, lesson_id: str, notebook: nbformat.NotebookNode) -> Path:
    """Place `notebook` where nbgrader collects `student`'s submission of a lesson."""
    path = course.submitted_path(root, student, lesson_id)
    if path.parent.exists():
        shutil.rmtree(path.parent)
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, path)
    return path


def strip_solution_markers(source: str) -> str:
    """The reference answer as a student would type it: no BEGIN/END SOLUTION lines."""
    return "\n".join(line for line in source.splitlines() if not SOLUTION_MARKERS.match(line))


def fill_answers(
    release: nbformat.NotebookNode, instructor: nbformat.NotebookNode
) -> nbformat.NotebookNode:
    """A copy of the release notebook with every answer cell holding the reference answer."""
    answers = {
        course.grade_id(cell): strip_solution_markers(cell.source)
        for cell in instructor.cells
        if course.is_answer(cell)
    }
    filled = nbformat.from_dict(release)
    for cell in filled.cells:
        if course.is_answer(cell):
            cell.source = answers[course.grade_id(cell)]
    return filled


def autograde(root: Path, lesson_id: str, student: str | None = None) -> None:
    """nbgrader autograde for one lesson (one student, or everybody submitted)."""
    args = ["autograde", lesson_id, "--force", "--log-level=WARN"]
    if student:
        args.append(f"--student={student}")
    run_nbgrader(args, root)
