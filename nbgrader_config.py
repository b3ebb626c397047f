"""nbgrader's configuration of the course: one repository is the whole course.

solutions/ is the instructor source (nbgrader's "source"), notebooks/ the
student release; everything that grading produces lives under grader/work/
(git-ignored). The gradebook is SQLite there unless NBGRADER_DB_URL names
another database, e.g. a PostgreSQL server shared by the teaching team.
"""

import os

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

ROOT = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(ROOT, "grader", "work")
os.makedirs(WORK, exist_ok=True)

c.CourseDirectory.course_id = "rl-foundations"
c.CourseDirectory.root = ROOT
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = "grader/work/submitted"
c.CourseDirectory.autograded_directory = "grader/work/autograded"
c.CourseDirectory.feedback_directory = "grader/work/feedback"
c.CourseDirectory.solution_directory = "grader/work/source_solution"
c.CourseDirectory.db_url = os.environ.get(
    "NBGRADER_DB_URL", "sqlite:///" + os.path.join(WORK, "gradebook.db")
)
# The py:percent sources hold the solutions: never copy them into a release.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "*.py",
]

# Training cells run for tens of seconds on a laptop CPU; a cell that runs
# longer than this is stuck (an infinite loop) and is stopped.
c.ExecutePreprocessor.timeout = 300
c.Execute.timeout = 300
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# ---------------------------------------------------------------- grading (issue 7)
# Per-cell time limit of autograding; RLCOURSE_CELL_TIMEOUT lowers it in tests.
CELL_TIMEOUT = int(os.environ.get("RLCOURSE_CELL_TIMEOUT", "300"))
# Autograding executes students' code with grader.guard.GuardedExecute: a
# bubblewrap sandbox (grader/sandbox.py: no network, no solutions/ or
# grader/work, read-only system, RLCOURSE_MEMORY_LIMIT address space), test
# helpers restored before every grade cell, and a kernel crash ends only that
# notebook's remaining cells. Validate (students) keeps the plain kernel.
c.Autograde.autograde_preprocessors = [
    "grader.guard.GuardedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.GuardedExecute.timeout = CELL_TIMEOUT
c.GuardedExecute.release_directory = os.path.join(ROOT, "notebooks")
# A deleted test cell is put back, so the original tests still run.
c.OverwriteCells.add_missing_cells = True
# The exchange of a shared server; students and instructors use the same root.
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")
c.ZipCollectApp.downloaded_directory = "grader/work/downloaded"
# zip_collect (submissions downloaded from an LMS): files named
# <student>_<lesson>.ipynb, e.g. jdoe_01_bandits.ipynb (no "_" in the student id).
c.ZipCollectApp.collector_plugin = "nbgrader.plugins.FileNameCollectorPlugin"
# (nbgrader matches the regular expression against the extracted file's full path)
c.FileNameCollectorPlugin.named_regexp = (
    r"^(?:.*/)?(?P<student_id>[^_/]+)_(?P<file_id>\d\d_\w+\.ipynb)$"
)
