"""The course's gradebook, opened in one place; what the grading code reads from it.

nbgrader's `Gradebook` is a database session: `open_gradebook(root)` opens the
one `root/nbgrader_config.py` names (SQLite under grader/work/, or the database
NBGRADER_DB_URL names), `open_gradebook(url=...)` any other (a scratch course's).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from grader import course


@contextlib.contextmanager
def open_gradebook(root: Path | None = None, url: str | None = None) -> Iterator:
    """nbgrader's Gradebook of the course at `root` (or at the database `url`), closed after."""
    from nbgrader.api import Gradebook

    if url is None:
        config = course.load_config(root or course.REPO).CourseDirectory
        url = config.db_url
    with Gradebook(url, course.COURSE_ID) as gradebook:
        yield gradebook


def sqlite_url(root: Path) -> str:
    """The URL of a course folder's own SQLite gradebook (a scratch course, a kit)."""
    return "sqlite:///" + str(root / course.GRADEBOOK)


def has_assignment(root: Path, lesson: str) -> bool:
    """Whether the gradebook knows a lesson (its grade cells come with generate_assignment)."""
    from nbgrader.api import MissingEntry

    with open_gradebook(root) as gradebook:
        try:
            gradebook.find_assignment(lesson)
        except MissingEntry:
            return False
    return True


def scores(root: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """{(student, lesson): (score, max_score)} from the gradebook."""
    result = {}
    with open_gradebook(root) as gradebook:
        for assignment in gradebook.assignments:
            for handed_in in assignment.submissions:
                result[(handed_in.student.id, assignment.name)] = (
                    float(handed_in.score),
                    float(handed_in.max_score),
                )
    return result


def cell_points(root: Path) -> dict[str, dict[str, float | None]]:
    """{"student/lesson": {grade_id: score}} of every graded submission (to compare runs)."""
    points = {}
    with open_gradebook(root) as gradebook:
        for assignment in gradebook.assignments:
            for handed_in in assignment.submissions:
                key = f"{handed_in.student.id}/{assignment.name}"
                points[key] = {
                    grade.name: grade.score
                    for notebook in handed_in.notebooks
                    for grade in notebook.grades
                }
    return points


@dataclass(frozen=True)
class CellScore:
    grade_id: str
    score: float | None
    max_score: float
    autograded: bool


def cell_scores(root: Path, lesson_id: str, student: str) -> list[CellScore]:
    """The score of every graded cell of a student's autograded submission."""
    with open_gradebook(root) as gradebook:
        notebook = gradebook.find_submission_notebook(lesson_id, lesson_id, student)
        return [
            CellScore(g.name, g.score, g.max_score, g.auto_score is not None)
            for g in sorted(notebook.grades, key=lambda g: g.name)
        ]
