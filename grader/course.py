"""The course's layout: one owner for every path, id and constant of a course folder.

A course folder (this repository, the fixture course in tests/, a throw-away
copy) holds `nbgrader_config.py`, the lesson sources
`solutions/<id>/<id>.py` and the student release `notebooks/<id>/<id>.ipynb`;
everything grading produces lives under `grader/work/`. The cell kinds are
nbgrader's own (`nbgrader.utils.is_grade` / `is_solution`).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import nbformat

from grader.limits import CELL_TIMEOUT_S as CELL_TIMEOUT_S  # (the Makefile reads it here)
from grader.limits import CELL_TIMEOUT_VARIABLE as CELL_TIMEOUT_VARIABLE
from grader.limits import GradingLimits

REPO = Path(__file__).resolve().parent.parent
COURSE_ID = "rl-foundations"
CONFIG_FILE = "nbgrader_config.py"
SOURCES = "solutions"
RELEASE = "notebooks"
# Folders relative to a course root; nbgrader_config.py hands them to nbgrader.
WORK = Path("grader") / "work"
SUBMITTED = WORK / "submitted"
AUTOGRADED = WORK / "autograded"
FEEDBACK = WORK / "feedback"
SOURCE_SOLUTION = WORK / "source_solution"
DOWNLOADED = WORK / "downloaded"
GRADEBOOK = WORK / "gradebook.db"
"""The SQLite gradebook, unless NBGRADER_DB_URL names another database."""


STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""The one rule for a student id, whatever its source (an LMS zip, the exchange, the hub):
1-64 letters, digits, '.', '_' or '-', starting with a letter or a digit. The id names a
folder under grader/work/, so '.', '..', '/' and the empty id can never be one."""


def student_id_problem(student: str) -> str | None:
    """Why `student` is not a valid student id (STUDENT_ID), or None when it is."""
    if STUDENT_ID.fullmatch(student):
        return None
    return (
        f"{student[:80]!r} is not a valid student id (1-64 letters, digits, '.', '_' or '-', "
        "starting with a letter or a digit)"
    )


FEEDBACK_HIDDEN_TESTS_VARIABLE = "RLCOURSE_FEEDBACK_HIDDEN_TESTS"
FEEDBACK_HIDDEN_TESTS = ("hide", "show")
"""The values of the course setting below; the first is the default."""
FEEDBACK_HIDDEN_TESTS_HELP = (
    "What a student's feedback page shows of a grade cell's hidden tests (between "
    "### BEGIN HIDDEN TESTS and ### END HIDDEN TESTS): 'hide' replaces each region with "
    "one line that says whether they ran and whether one of their checks failed, and keeps "
    "their lines out of tracebacks (the grading messages, the score and the student's own "
    "code stay); 'show' renders the cell whole, as nbgrader does. The autograded notebook "
    "kept for the instructor is the same either way. Set by RLCOURSE_FEEDBACK_HIDDEN_TESTS."
)


def feedback_hidden_tests() -> str:
    """RLCOURSE_FEEDBACK_HIDDEN_TESTS, stripped and lower-cased: 'hide' when unset.

    nbgrader_config.py reads it; a value outside FEEDBACK_HIDDEN_TESTS is refused
    where feedback is made (grader.kernel.feedback.HideHiddenTests's trait, and
    autograde.feedback before it starts), never while the config loads: traitlets
    skips a config file that raises (with a log line), and grading would then run
    without its sandbox.
    """
    value = os.environ.get(FEEDBACK_HIDDEN_TESTS_VARIABLE, "").strip().lower()
    return value or FEEDBACK_HIDDEN_TESTS[0]


def feedback_hidden_tests_problem() -> str | None:
    """Why RLCOURSE_FEEDBACK_HIDDEN_TESTS is not a valid setting, or None when it is."""
    value = feedback_hidden_tests()
    if value in FEEDBACK_HIDDEN_TESTS:
        return None
    return (
        f"{FEEDBACK_HIDDEN_TESTS_VARIABLE}={value!r}: expected one of "
        f"{', '.join(FEEDBACK_HIDDEN_TESTS)}"
    )


def cell_timeout() -> int:
    """Seconds an autograded cell may run: CELL_TIMEOUT_S, or RLCOURSE_CELL_TIMEOUT (tests)."""
    return GradingLimits.from_env().cell_timeout_s


# --------------------------------------------------------------------------- paths


OPTIONAL_LESSONS = frozenset({"08_real_lm"})
"""Lessons a course releases but never grades: `make release` builds them into notebooks/;
grading, the student bundle, the bench's lesson rows and the lesson tests leave them out
(08_real_lm needs the packages of `make real-lm` and runs for minutes; tests/test_real_lm.py
and bench row 8 test it)."""


def lesson_ids(root: Path = REPO, *, optional: bool = False) -> list[str]:
    """The graded lessons of a course, `solutions/<id>/<id>.py`, in order; with
    `optional=True` also the OPTIONAL_LESSONS (what a release builds)."""
    solutions = root / SOURCES
    if not solutions.is_dir():
        return []
    found = sorted(p.name for p in solutions.iterdir() if (p / f"{p.name}.py").is_file())
    return [lesson for lesson in found if optional or lesson not in OPTIONAL_LESSONS]


def source_path(root: Path, lesson_id: str) -> Path:
    """The py:percent source of a lesson: the single source of truth."""
    return root / SOURCES / lesson_id / f"{lesson_id}.py"


def instructor_path(root: Path, lesson_id: str) -> Path:
    """The instructor notebook built from the source (git-ignored; what nbgrader reads)."""
    return source_path(root, lesson_id).with_suffix(".ipynb")


def release_path(root: Path, lesson_id: str) -> Path:
    """The student notebook that `make release` generates."""
    return root / RELEASE / lesson_id / f"{lesson_id}.ipynb"


def work(root: Path) -> Path:
    """Everything grading produces (git-ignored)."""
    return root / WORK


def submitted_dir(root: Path, student: str | None = None, lesson_id: str | None = None) -> Path:
    """grader/work/submitted[/<student>[/<lesson>]]."""
    return _under(root / SUBMITTED, student, lesson_id)


def autograded_dir(root: Path, student: str | None = None, lesson_id: str | None = None) -> Path:
    return _under(root / AUTOGRADED, student, lesson_id)


def feedback_dir(root: Path, student: str | None = None, lesson_id: str | None = None) -> Path:
    return _under(root / FEEDBACK, student, lesson_id)


def submitted_path(root: Path, student: str, lesson_id: str) -> Path:
    return submitted_dir(root, student, lesson_id) / f"{lesson_id}.ipynb"


def autograded_path(root: Path, student: str, lesson_id: str) -> Path:
    return autograded_dir(root, student, lesson_id) / f"{lesson_id}.ipynb"


def _under(base: Path, student: str | None, lesson_id: str | None) -> Path:
    if student is not None:
        base = base / student
    if lesson_id is not None:
        base = base / lesson_id
    return base


def copy_course(course: Path, target: Path, lessons: list[str]) -> Path:
    """`target/course`: the config and the given lesson sources of `course`, nothing else.

    A course folder without its own nbgrader_config.py (the fixture course) gets
    this repository's.
    """
    root = target / "course"
    (root / SOURCES).mkdir(parents=True)
    config = course / CONFIG_FILE
    shutil.copy(config if config.exists() else REPO / CONFIG_FILE, root)
    for lesson_id in lessons:
        source_path(root, lesson_id).parent.mkdir()
        shutil.copy(source_path(course, lesson_id), source_path(root, lesson_id))
    return root


# --------------------------------------------------------------------------- config


def load_config(root: Path = REPO):
    """The traitlets config that `root/nbgrader_config.py` defines."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()


# --------------------------------------------------------------------------- cell kinds


def grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def is_answer(cell: nbformat.NotebookNode) -> bool:
    """A cell the student writes in (code or a written answer)."""
    from nbgrader.utils import is_solution

    return bool(is_solution(cell))


def is_graded(cell: nbformat.NotebookNode) -> bool:
    """A cell that carries points: a test cell or a manually graded answer."""
    from nbgrader.utils import is_grade

    return bool(is_grade(cell))


def is_grade_test(cell: nbformat.NotebookNode) -> bool:
    """An autograded test cell: a graded code cell that is not an answer."""
    from nbgrader.utils import is_grade, is_solution

    return cell.cell_type == "code" and bool(is_grade(cell)) and not is_solution(cell)


def is_written_answer(cell: nbformat.NotebookNode) -> bool:
    """A manually graded written answer (a graded markdown cell)."""
    return cell.cell_type == "markdown" and is_graded(cell)


def points(cell: nbformat.NotebookNode) -> float:
    """The points a graded cell is worth (0 for any other cell)."""
    return float(cell.metadata["nbgrader"].get("points", 0)) if is_graded(cell) else 0.0


def grade_test_ids(notebook: nbformat.NotebookNode) -> list[str]:
    """grade_ids of the autograded test cells of a notebook, in order."""
    return [grade_id(cell) for cell in notebook.cells if is_grade_test(cell)]


def total_points(notebook: nbformat.NotebookNode) -> float:
    return sum(points(cell) for cell in notebook.cells)


def reference_notebook(release_directory: str, resources: dict | None):
    """The released notebook that nbgrader's `resources` name, or None.

    nbgrader's preprocessors know the assignment and notebook of what they
    process (`resources["nbgrader"]`); the release holds its cells as
    instructors wrote them (ids, kinds, imports).
    """
    info = (resources or {}).get("nbgrader", {})
    assignment, notebook = info.get("assignment"), info.get("notebook")
    if not (release_directory and assignment and notebook):
        return None
    path = os.path.join(release_directory, assignment, f"{notebook}.ipynb")
    return nbformat.read(path, as_version=4) if os.path.isfile(path) else None
