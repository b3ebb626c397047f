"""A lesson's exercises as its notebook shows them: headings, grade cells, answer cells.

An exercise opens at a markdown cell holding a heading "## Exercise N: title
(P points, about M min, level)" and holds the grade cells that follow, up to
the next exercise heading. Written answers (markdown answer cells graded by
hand) are items of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import nbformat

from grader import course

EXERCISE_HEADING = re.compile(r"^#{2,3} (Exercise \d+[a-z]?: .+?)\s*$", re.M)
ESTIMATE = re.compile(r"about (\d+) min")


@dataclass(frozen=True)
class Item:
    """One exercise (its autograded cells) or one written answer of a lesson."""

    lesson: str
    title: str
    kind: str  # "autograded" | "written"
    grade_ids: tuple[str, ...]
    answer_ids: tuple[str, ...]
    estimate_minutes: int | None


def heading_of(cell: nbformat.NotebookNode) -> str | None:
    """'Exercise N: title (...)' when a markdown cell opens an exercise."""
    if cell.cell_type != "markdown":
        return None
    found = EXERCISE_HEADING.search(cell.source)
    return found.group(1) if found else None


def exercise_title(heading: str) -> str:
    """'Exercise 2: iterative policy evaluation' of 'Exercise 2: ... (4 points, about 20 min)'."""
    return heading.split(" (")[0].strip()


def lesson_items(lesson: str, notebook: nbformat.NotebookNode) -> list[Item]:
    """The exercises (grade cells after an exercise heading) and written answers, in order."""
    items: list[Item] = []
    heading, tests, answers = None, [], []

    def close() -> None:
        if heading and tests:
            estimate = ESTIMATE.search(heading)
            items.append(
                Item(
                    lesson,
                    exercise_title(heading),
                    "autograded",
                    tuple(tests),
                    tuple(answers),
                    int(estimate.group(1)) if estimate else None,
                )
            )

    for cell in notebook.cells:
        opened = heading_of(cell)
        if opened:
            close()
            heading, tests, answers = opened, [], []
        elif course.is_written_answer(cell):
            grade_id = course.grade_id(cell)
            items.append(
                Item(lesson, f"Written answer {grade_id}", "written", (grade_id,), (), None)
            )
        elif course.is_grade_test(cell):
            tests.append(course.grade_id(cell))
        elif course.is_answer(cell) and cell.cell_type == "code":
            answers.append(course.grade_id(cell))
    close()
    return items


def answer_text(notebook: nbformat.NotebookNode) -> str:
    """Every answer code cell's source, in order, as one Python text."""
    return "\n\n".join(
        cell.source
        for cell in notebook.cells
        if cell.cell_type == "code" and course.is_answer(cell)
    )
