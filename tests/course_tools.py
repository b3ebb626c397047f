"""Build throw-away course folders for release and grading tests; read what a notebook run left."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from lesson_runner import bound_names as statement_bound_names

from grader import course, grading
from grader.course import REPO, is_answer, is_grade_test
from grader.course import grade_test_ids as grade_test_ids  # re-exported for the tests
from grader.kernel import sandbox

FIXTURE_COURSE = REPO / "tests" / "fixtures" / "course"
NEEDS_SANDBOX = pytest.mark.skipif(
    sandbox.opted_out(), reason="RLCOURSE_SANDBOX=off: the sandbox is switched off"
)
"""the mark of every test that grades in the bubblewrap sandbox"""
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


def solution_regions(source_text: str, min_length: int = 20) -> list[set[str]]:
    """Each solution region's telling lines: long enough, and not in the lesson's public text."""
    public_text = REGION.sub("", source_text)
    regions = []
    for match in REGION.finditer(source_text):
        if match.group(1) != "SOLUTION":
            continue
        lines = {line.strip().lstrip("#").strip() for line in match.group(2).splitlines()}
        regions.append(
            {line for line in lines if len(line) >= min_length and line not in public_text}
        )
    return regions


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


# --------------------------------------------------------------------------- notebook contents


def error_outputs(notebook: nbformat.NotebookNode) -> list[tuple[int, str, str]]:
    """(cell index, exception name, message) of every error output in a notebook."""
    return [
        (index, output.get("ename", ""), output.get("evalue", ""))
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]


WARNING_LINE = re.compile(r"^.*\b\w*(Warning|Error)\b.*$", flags=re.MULTILINE)


def warnings_shown(notebook: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(cell index, line) of warnings or errors printed on stderr (not tqdm's bars)."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.output_type == "stream" and output.name == "stderr":
                found.extend(
                    (index, m.group(0).strip()) for m in WARNING_LINE.finditer(output.text)
                )
    return found


def bound_names(source: str) -> set[str]:
    """Names a cell's code assigns, defines or imports (anywhere in it)."""
    try:
        return statement_bound_names(ast.parse(source))
    except SyntaxError:
        return set()


def unexpected_errors(
    notebook: nbformat.NotebookNode, answered: nbformat.NotebookNode
) -> list[tuple[int, str, str]]:
    """The errors of a run of the untouched release that are not "not implemented yet".

    Expected: a NotImplementedError (an exercise's stub, raised where it is
    defined or where it is called), and what follows from one: a NameError
    for a name that a cell which failed would have defined (with the reference
    answers, `answered`), and a failed check in the test cells of an answer
    cell that raised.
    """
    errors = error_outputs(notebook)
    failed = {index for index, _, _ in errors}
    unexpected = []
    for index, name, message in errors:
        if name == "NotImplementedError":
            continue
        missing = re.fullmatch(r"name '(\w+)' is not defined", message)
        if name == "NameError" and missing:
            would_define = set().union(
                *(bound_names(answered.cells[i].source) for i in failed if i < index)
            )
            if missing.group(1) in would_define:
                continue
        if name in ("GradingError", "AssertionError"):
            answer = max((i for i in answer_cells(notebook) if i < index), default=None)
            if answer in failed and index in grade_tests_after(notebook, answer):
                continue
        unexpected.append((index, name, message))
    return unexpected


def answer_cells(notebook: nbformat.NotebookNode) -> list[int]:
    """Indices of the cells a student answers in (nbgrader `solution: true`)."""
    return [index for index, cell in enumerate(notebook.cells) if is_answer(cell)]


def grade_tests_after(notebook: nbformat.NotebookNode, index: int) -> list[int]:
    """Indices of the autograded test cells that follow answer cell `index`, up to the next."""
    found = []
    for later in range(index + 1, len(notebook.cells)):
        if is_answer(notebook.cells[later]):
            break
        if is_grade_test(notebook.cells[later]):
            found.append(later)
    return found
