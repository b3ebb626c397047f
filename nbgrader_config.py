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
