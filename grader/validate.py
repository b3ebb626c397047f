"""nbgrader's Validate with a summary first: `make validate NB=...`.

    python -m grader.validate NOTEBOOK [NOTEBOOK ...]

nbgrader's Validator runs the notebook and prints every failing test cell
with its source and traceback (hundreds of lines for an unfinished lesson);
an exercise that passed shows only by its absence. This prints one line per
exercise first (a `## Exercise` heading and the cells up to the next one):
passed, failed with the first line of its message, or not attempted (an
answer cell still holds the stub `raise NotImplementedError()`), then
nbgrader's details, unchanged.

Self-contained (nbgrader and nbformat only): the student bundle ships this
file as validate.py.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from unittest.mock import patch

from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.apps import validateapp
from nbgrader.apps.validateapp import ValidateApp
from nbgrader.validator import Validator

EXERCISE_HEADING = re.compile(r"^#+\s*(Exercise\b.*)$", flags=re.MULTILINE)
POINTS_NOTE = re.compile(r"\s*\([^()]*\bpoints?\b[^()]*\)\s*$")  # "(2 points, about 10 min)"
STUB = "raise NotImplementedError()"
PASSED, FAILED, NOT_ATTEMPTED, BY_HAND = "passed", "failed", "not attempted", "graded by hand"


@dataclass
class Exercise:
    """One exercise of a notebook: its title and its answer and test cells."""

    title: str
    answers: list[NotebookNode] = field(default_factory=list)
    tests: list[NotebookNode] = field(default_factory=list)


def exercises(notebook: NotebookNode) -> list[Exercise]:
    """The exercises of an executed notebook, in order (those with an answer or a test)."""
    found: list[Exercise] = []
    current: Exercise | None = None
    for cell in notebook.cells:
        heading = EXERCISE_HEADING.search(cell.source) if cell.cell_type == "markdown" else None
        if heading and not utils.is_solution(cell):
            current = Exercise(POINTS_NOTE.sub("", heading.group(1)).strip().rstrip(":"))
            found.append(current)
        if not (utils.is_solution(cell) or utils.is_grade(cell)):
            continue
        if current is None:  # a graded cell before any heading: an exercise of its own
            current = Exercise(f"({cell.metadata.nbgrader.get('grade_id', 'exercise')})")
            found.append(current)
        if utils.is_solution(cell):
            current.answers.append(cell)
        if utils.is_grade(cell) and cell.cell_type == "code" and not utils.is_solution(cell):
            current.tests.append(cell)
    return [e for e in found if e.answers or e.tests]


def first_message(cell: NotebookNode) -> str | None:
    """The first line of a test cell's error ("AssertionError: ..."), None when it passed."""
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            lines = f"{output.ename}: {output.evalue}".strip().splitlines()
            return lines[0] if lines else output.ename
    score, max_score = utils.determine_grade(cell)
    if score is not None and score < max_score:
        return "partial credit: some of the visible tests failed"
    return None


def status(exercise: Exercise) -> tuple[str, str]:
    """(passed | failed | not attempted | graded by hand, the first failure message or '')."""
    if not exercise.tests:
        return BY_HAND, ""
    if any(cell.cell_type == "code" and STUB in cell.source for cell in exercise.answers):
        return NOT_ATTEMPTED, ""
    for cell in exercise.tests:
        message = first_message(cell)
        if message is not None:
            return FAILED, message
    return PASSED, ""


def summary(notebook: NotebookNode) -> str:
    """One line per exercise of an executed notebook, and a count."""
    rows = [(exercise.title, *status(exercise)) for exercise in exercises(notebook)]
    counts = {kind: sum(row[1] == kind for row in rows) for kind in (PASSED, FAILED, NOT_ATTEMPTED)}
    tested = sum(counts.values())
    lines = [
        f"Summary: {counts[PASSED]} of {tested} exercises pass the visible tests, "
        f"{counts[FAILED]} fail, {counts[NOT_ATTEMPTED]} not attempted "
        "(the hidden tests decide the grade)"
    ]
    for title, state, message in rows:
        lines.append(f"  {state:<14} {title}" + (f": {message}" if message else ""))
    return "\n".join(lines) + "\n"


class SummaryValidator(Validator):
    """nbgrader's Validator that prints the summary before the failing cells' details."""

    executed: NotebookNode | None = None

    def _preprocess(self, nb: NotebookNode) -> NotebookNode:
        self.executed = super()._preprocess(nb)
        return self.executed

    # nbgrader's validate_and_print calls this first, then prints each failing cell
    def _print_num_failed(self, num_failed: int) -> None:
        if self.executed is not None:
            self.stream.write(summary(self.executed) + "\n")
        super()._print_num_failed(num_failed)
        self.stream.write("\n")


class SummaryValidateApp(ValidateApp):
    """`nbgrader validate` with SummaryValidator (nbgrader's app names its Validator class)."""

    def start(self) -> None:
        with patch.object(validateapp, "Validator", SummaryValidator):
            super().start()


def main(argv: list[str] | None = None) -> None:
    SummaryValidateApp.launch_instance(argv=sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
