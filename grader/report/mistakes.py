"""Failing checks, grouped by what they say, and matched to the lessons' mistake tables.

A failing grade cell's message names the mistake ("discounted_returns: the
episode boundaries are ignored ..."). Messages are grouped with their numbers
blanked (a student's wrong value differs from the next one's), and a group is
matched to a row of tests/mistakes/<lesson>.py when that row's answer belongs to
the failing exercise and its words are in the message: the row's comment says
which typical mistake it is.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

MISTAKE_TABLES = Path("tests") / "mistakes"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


@dataclass(frozen=True)
class MistakeRow:
    """One row of a lesson's mistake table: the answer it changes, its words, its comment."""

    answer_id: str
    words: str
    comment: str


@dataclass(frozen=True)
class CheckGroup:
    """Students whose grade cell failed with the same message (numbers blanked)."""

    grade_id: str
    message: str
    students: tuple[str, ...]
    rows: tuple[MistakeRow, ...]


def message_key(message: str) -> str:
    """The first line of a failure message, its numbers replaced by '#'."""
    first = message.strip().splitlines()[0] if message.strip() else message
    return NUMBER.sub("#", first)[:300]


def _comment_above(lines: list[str], lineno: int) -> str:
    """The comment lines right above line `lineno` (1-based), joined."""
    found = []
    index = lineno - 2
    while index >= 0 and lines[index].strip().startswith("#"):
        found.insert(0, lines[index].strip().lstrip("#").strip())
        index -= 1
    return " ".join(found)


def mistake_rows(root: Path, lesson: str) -> list[MistakeRow]:
    """The rows of tests/mistakes/<lesson>.py, read without running it (none when absent)."""
    path = root / MISTAKE_TABLES / f"{lesson}.py"
    if not path.is_file():
        return []
    text = path.read_text()
    lines = text.splitlines()
    rows = []
    for node in ast.walk(ast.parse(text)):
        if not (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "MISTAKES" for t in node.targets)
        ):
            continue
        for key, value in zip(node.value.keys, node.value.values, strict=True):
            for row in value.elts if isinstance(value, ast.List) else []:
                if isinstance(row, ast.Tuple) and len(row.elts) >= 3:
                    words = ast.literal_eval(row.elts[2])
                    answer = ast.literal_eval(key)
                    rows.append(MistakeRow(answer, words, _comment_above(lines, row.lineno)))
    return rows


NOT_A_CHECK = ("NotImplementedError", "NameError")
"""Failures that say the answer was not attempted or did not run, not which mistake it holds."""


def not_a_check(message: str) -> bool:
    return message.strip().startswith(NOT_A_CHECK)


def matching_rows(message: str, answers: tuple[str, ...], rows: list[MistakeRow]) -> tuple:
    """The rows of the exercise's answers whose words are in the message.

    Words that only name the answer (a row that checks the function fails at all)
    match every failure of it, so they tell nothing and are left out.
    """
    text = message.lower()
    return tuple(
        row
        for row in rows
        if row.answer_id in answers
        and row.words.lower() not in row.answer_id.lower()
        and row.words.lower() in text
    )


def group_failures(
    failures: dict[str, dict[str, str]],
    answers_of: dict[str, tuple[str, ...]],
    rows: list[MistakeRow],
) -> list[CheckGroup]:
    """Failing checks grouped by (grade cell, message), most students first.

    failures: {student: {grade_id: message}}; answers_of: {grade_id: the answer
    ids of its exercise}.
    """
    groups: dict[tuple[str, str], list[str]] = {}
    examples: dict[tuple[str, str], str] = {}
    for student, failed in sorted(failures.items()):
        for grade_id, message in failed.items():
            key = (grade_id, message_key(message))
            groups.setdefault(key, []).append(student)
            examples.setdefault(key, message)
    result = []
    for (grade_id, text), students in groups.items():
        message = examples[(grade_id, text)]
        answers = answers_of.get(grade_id, ())
        matched = () if not_a_check(message) else matching_rows(message, answers, rows)
        result.append(CheckGroup(grade_id, text, tuple(students), matched))
    return sorted(result, key=lambda g: (-len(g.students), g.grade_id, g.message))


def mistake_table_path(lesson: str) -> str:
    """Where a lesson's mistake table lives, relative to the course root (for the page)."""
    return str(MISTAKE_TABLES / f"{lesson}.py")
