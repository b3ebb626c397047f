"""What grading recorded, read back per lesson and per submission (nothing is re-run).

Sources, all written by `make autograde` whichever way it ran:
    outcomes.csv           status, score and details of every graded submission
    the gradebook          the score of every grade cell
    autograded notebooks   the error each failing grade cell raised
    submitted notebooks    the student's answer cells and JupyterLab's recorded cell timing
    the release            the stubs (boilerplate for the similarity check) and the exercises
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader import course
from grader.gradebook import open_gradebook
from grader.report import time_on_task
from grader.report.exercises import Item, answer_text, lesson_items

PROBLEM_ERRORS = {
    "CellTimeoutError": "a cell ran out of time",
    "DeadKernelError": "the kernel died",
    "KernelDied": "the kernel died",
    "MemoryError": "ran out of memory",
    "SystemExit": "the answer called sys.exit",
}
"""Errors of a grade or answer cell that say grading itself had trouble, not the answer."""
PROBLEM_NOTES = {
    "WARNING": "a grading warning",
    "grading guard": "the grading guard stepped in",
    "output cut": "output cut",
    "not copied": "files left out",
    "not run": "cells not run",
}
"""Words of an outcome's details that make a submission worth a look by hand."""


@dataclass
class Submission:
    """One student's graded submission of one lesson."""

    student: str
    lesson: str
    status: str
    score: float
    max_score: float
    details: str
    cell_scores: dict[str, tuple[float, float]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    answers: str = ""
    minutes: dict[str, float] = field(default_factory=dict)


@dataclass
class LessonInfo:
    lesson: str
    items: list[Item]
    stubs: str
    """The release's answer cells: what every submission starts from (boilerplate)."""


@dataclass
class ClassRecord:
    lessons: dict[str, LessonInfo]
    submissions: list[Submission]

    def of_lesson(self, lesson: str) -> list[Submission]:
        return [s for s in self.submissions if s.lesson == lesson]


def lesson_info(root: Path, lesson: str) -> LessonInfo:
    release = nbformat.read(course.release_path(root, lesson), as_version=4)
    return LessonInfo(lesson, lesson_items(lesson, release), answer_text(release))


def read_outcomes(root: Path) -> list[Submission]:
    """outcomes.csv, as written at the end of every autograde run."""
    path = course.work(root) / "outcomes.csv"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: grade first (make autograde), then make report"
        )
    with open(path, newline="") as handle:
        return [
            Submission(
                row["student"],
                row["lesson"],
                row["status"],
                float(row["score"]),
                float(row["max_score"]),
                row["details"],
            )
            for row in csv.DictReader(handle)
        ]


def read_cell_scores(root: Path, submissions: list[Submission]) -> None:
    """Each submission's score per grade cell, from the gradebook (one connection)."""
    from nbgrader.api import MissingEntry

    with open_gradebook(root) as gradebook:
        for sub in submissions:
            try:
                notebook = gradebook.find_submission_notebook(sub.lesson, sub.lesson, sub.student)
            except MissingEntry:
                continue
            sub.cell_scores = {
                g.name: (float(g.score or 0), float(g.max_score)) for g in notebook.grades
            }


def problems_of(sub: Submission, graded: nbformat.NotebookNode | None) -> list[str]:
    """Why a submission deserves a look by hand (empty when nothing went wrong in grading)."""
    found = [] if sub.status == "graded" else [sub.status]
    for cell in graded.cells if graded is not None else []:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.output_type == "error" and output.ename in PROBLEM_ERRORS:
                found.append(PROBLEM_ERRORS[output.ename])
    found += [why for words, why in PROBLEM_NOTES.items() if words in sub.details]
    return list(dict.fromkeys(found))


def read_notebooks(root: Path, sub: Submission) -> None:
    """Failing checks and problems (the autograded copy); answers and timing (the submission)."""
    from grader.kernel.guard import describe_outputs

    graded_path = course.autograded_path(root, sub.student, sub.lesson)
    graded = nbformat.read(graded_path, as_version=4) if graded_path.exists() else None
    if graded is not None:
        sub.failures = {
            grade_id: message
            for grade_id, message in describe_outputs(graded).items()
            if message != "ok" and grade_id in sub.cell_scores
        }
    sub.problems = problems_of(sub, graded)
    try:
        handed_in = nbformat.read(
            course.submitted_path(root, sub.student, sub.lesson), as_version=4
        )
    except Exception:  # noqa: BLE001  (no notebook, or not a valid one: the outcome says which)
        return
    sub.answers = answer_text(handed_in)
    sub.minutes = time_on_task.minutes_per_exercise(handed_in)


def read_class(root: Path = course.REPO, lessons: list[str] | None = None) -> ClassRecord:
    """Everything the report shows, read from what grading recorded under `root`."""
    root = root.resolve()
    submissions = read_outcomes(root)
    if lessons:
        submissions = [s for s in submissions if s.lesson in lessons]
    present = [
        lesson for lesson in course.lesson_ids(root) if any(s.lesson == lesson for s in submissions)
    ]
    read_cell_scores(root, submissions)
    for sub in submissions:
        read_notebooks(root, sub)
    return ClassRecord({lesson: lesson_info(root, lesson) for lesson in present}, submissions)
