"""Build throw-away course folders for release and grading tests."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

from grader import grading, release

REPO = Path(__file__).resolve().parent.parent
FIXTURE_COURSE = REPO / "tests" / "fixtures" / "course"
REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", flags=re.DOTALL)


def make_course(tmp: Path, source_course: Path = REPO, lessons: list[str] | None = None) -> Path:
    """A course folder in `tmp` with the lesson sources of `source_course` and our config."""
    root = tmp / "course"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    for lesson_id in lessons or release.lesson_ids(source_course):
        target = root / "solutions" / lesson_id
        target.mkdir()
        shutil.copy(source_course / "solutions" / lesson_id / f"{lesson_id}.py", target)
    return root


def released(root: Path, lesson_id: str) -> nbformat.NotebookNode:
    return nbformat.read(root / "notebooks" / lesson_id / f"{lesson_id}.ipynb", as_version=4)


def instructor(root: Path, lesson_id: str) -> nbformat.NotebookNode:
    return nbformat.read(root / "solutions" / lesson_id / f"{lesson_id}.ipynb", as_version=4)


def secret_lines(source_text: str, min_length: int = 20) -> set[str]:
    """Lines that only the solution and hidden-test regions contain (long enough to be telling)."""
    secret = set()
    for match in REGION.finditer(source_text):
        secret.update(line.strip().lstrip("#").strip() for line in match.group(2).splitlines())
    public_text = REGION.sub("", source_text)
    return {line for line in secret if len(line) >= min_length and line not in public_text}


def notebook_text(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(cell.source for cell in notebook.cells)


def grade_test_ids(notebook: nbformat.NotebookNode) -> list[str]:
    """grade_ids of the autograded test cells (graded code cells that are not answers)."""
    ids = []
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            ids.append(meta["grade_id"])
    return ids


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
