"""Build throw-away course folders for release and grading tests."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from grader import course, grading
from grader.course import REPO
from grader.course import grade_test_ids as grade_test_ids  # re-exported for the tests

FIXTURE_COURSE = REPO / "tests" / "fixtures" / "course"
REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", flags=re.DOTALL)


def make_course(tmp: Path, source_course: Path = REPO, lessons: list[str] | None = None) -> Path:
    """A course folder in `tmp`: lesson sources and config of `source_course` (or ours)."""
    return course.copy_course(source_course, tmp, lessons or course.lesson_ids(source_course))


def released(root: Path, lesson_id: str) -> nbformat.NotebookNode:
    return nbformat.read(course.release_path(root, lesson_id), as_version=4)


def instructor(root: Path, lesson_id: str) -> nbformat.NotebookNode:
    return nbformat.read(course.instructor_path(root, lesson_id), as_version=4)


def secret_lines(source_text: str, min_length: int = 20) -> set[str]:
    """Lines that only the solution and hidden-test regions contain (long enough to be telling)."""
    secret = set()
    for match in REGION.finditer(source_text):
        secret.update(line.strip().lstrip("#").strip() for line in match.group(2).splitlines())
    public_text = REGION.sub("", source_text)
    return {line for line in secret if len(line) >= min_length and line not in public_text}


def notebook_text(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(cell.source for cell in notebook.cells)


def grade_perfect_and_untouched(root: Path, lesson_id: str) -> dict[str, dict[str, float]]:
    """Autograde the reference answers and the untouched release: {student: {grade_id: score}}."""
    release_nb = released(root, lesson_id)
    grading.submit(
        root, "perfect", lesson_id, grading.fill_answers(release_nb, instructor(root, lesson_id))
    )
    grading.submit(root, "untouched", lesson_id, release_nb)
    grading.autograde(root, lesson_id)
    return {
        student: {s.grade_id: s.score for s in grading.cell_scores(root, lesson_id, student)}
        for student in ("perfect", "untouched")
    }
