"""nbgrader's configuration of the course: one repository is the whole course.

solutions/ is the instructor source (nbgrader's "source"), notebooks/ the
student release; everything that grading produces lives under grader/work/
(git-ignored). The gradebook is SQLite there unless NBGRADER_DB_URL names
another database, e.g. a PostgreSQL server shared by the teaching team.
The course id, the folders and the time limit are grader/course.py's (the
grader package is installed with the course; students' bundles have no copy
of this file).
"""

import os

from grader import course

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

ROOT = os.path.dirname(os.path.abspath(__file__))
os.makedirs(os.path.join(ROOT, course.WORK), exist_ok=True)

c.CourseDirectory.course_id = course.COURSE_ID
c.CourseDirectory.root = ROOT
c.CourseDirectory.source_directory = course.SOURCES
c.CourseDirectory.release_directory = course.RELEASE
c.CourseDirectory.submitted_directory = str(course.SUBMITTED)
c.CourseDirectory.autograded_directory = str(course.AUTOGRADED)
c.CourseDirectory.feedback_directory = str(course.FEEDBACK)
c.CourseDirectory.solution_directory = str(course.SOURCE_SOLUTION)
c.CourseDirectory.db_url = os.environ.get(
    "NBGRADER_DB_URL", "sqlite:///" + os.path.join(ROOT, course.GRADEBOOK)
)
# The py:percent sources hold the solutions: never copy them into a release.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "*.py",
]

# A cell that runs longer than this is stuck and is stopped (course.py says why).
c.ExecutePreprocessor.timeout = course.CELL_TIMEOUT_S
c.Execute.timeout = course.CELL_TIMEOUT_S
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# ---------------------------------------------------------------- grading (issue 7)
# Autograding executes students' code with grader.kernel.guard.GuardedExecute: a
# bubblewrap sandbox (grader/kernel/sandbox.py: no network, no solutions/ or
# grader/work, read-only system, RLCOURSE_MEMORY_LIMIT address space), test
# helpers restored before every grade cell, and a kernel crash ends only that
# notebook's remaining cells. Validate (students) keeps the plain kernel.
c.Autograde.autograde_preprocessors = [
    "grader.kernel.guard.GuardedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Copied cells (a grade_id twice) and grade cells the lesson does not have are
# ignored with a note instead of failing the submission (grader/kernel/submission.py).
c.Autograde.sanitize_preprocessors = [
    "grader.kernel.submission.CheckSubmittedCells",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.CheckSubmittedCells.release_directory = os.path.join(ROOT, course.RELEASE)
# Per-cell time limit of autograding; RLCOURSE_CELL_TIMEOUT lowers it in tests.
c.GuardedExecute.timeout = course.cell_timeout()
c.GuardedExecute.release_directory = os.path.join(ROOT, course.RELEASE)
# A deleted test cell is put back, so the original tests still run.
c.OverwriteCells.add_missing_cells = True
# The exchange of a shared server; students and instructors use the same root.
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")
# collect copies submissions without following links (a planted symlink is left out)
c.ExchangeFactory.collect = "grader.exchange.SafeCollect"
c.ZipCollectApp.downloaded_directory = str(course.DOWNLOADED)
# zip_collect (submissions downloaded from an LMS): files named
# <student>_<lesson>.ipynb, e.g. jdoe_01_bandits.ipynb (no "_" in the student id).
c.ZipCollectApp.collector_plugin = "nbgrader.plugins.FileNameCollectorPlugin"
# (nbgrader matches the regular expression against the extracted file's full path)
c.FileNameCollectorPlugin.named_regexp = (
    r"^(?:.*/)?(?P<student_id>[^_/]+)_(?P<file_id>\d\d_\w+\.ipynb)$"
)

# ---------------------------------------------------------------- feedback (issue 31)
# Feedback pages show each grade cell's visible part, score and messages; its
# hidden tests become one line saying whether they ran and failed, and leave
# the tracebacks (grader/kernel/feedback.py). RLCOURSE_FEEDBACK_HIDDEN_TESTS=show
# renders them whole, as nbgrader does (course.FEEDBACK_HIDDEN_TESTS_HELP).
# Every way of generating feedback (make feedback, nbgrader generate_feedback,
# the formgrader's button, the hub) reads this file.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "grader.kernel.feedback.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.HideHiddenTests.hidden_tests = course.feedback_hidden_tests()
