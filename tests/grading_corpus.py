"""The fixture course's bad-submission corpus: its pinned grades, and a course with it collected.

EXPECTED_POINTS and EXPECTED_OUTCOME are what serial grading gives each kind
of submission (tests/test_grading_class.py checks them on the class demo);
the parallel and Celery tests check their own runs against the same tables.
"""

from __future__ import annotations

import zipfile
from contextlib import contextmanager
from pathlib import Path

from course_tools import FIXTURE_COURSE, REPO, make_course

from grader import course, gradebook
from grader.demo import classroom
from grader.limits import environment
from grader.release import release

FIXTURE = "00_fixture"
CORPUS = REPO / "tests" / "fixtures" / "submissions" / f"{FIXTURE}.zip"
TESTS = ("test_discounted_sum", "test_greedy_action")
# points of (test_discounted_sum, test_greedy_action); the manual answer is never autograded
EXPECTED_POINTS = {
    "perfect": (2, 3),
    "partial": (2, 0),
    "untouched": (0, 0),
    "syntax_error": (0, 3),
    "exception": (0, 3),
    "infinite_loop": (0, 3),
    "stubborn_loop": (2, 0),
    "memory_hog": (0, 3),
    "sys_exit": (2, 0),
    "os_exit": (2, 0),
    "killed_kernel": (2, 0),
    "test_cell_pass": (0, 0),
    "test_cell_deleted": (2, 3),
    "tamper": (0, 0),
    "invalid_json": (0, 0),
    "wrong_name": (0, 0),
    "snoop": (0, 0),
    "noisy": (2, 3),
    "copy_paste": (2, 3),
    "cheater": (0, 0),
    "twice": (2, 3),
    # code that stays active while a check runs (issue 32): the wrong first answer scores 0
    "code_swap": (0, 3),
    "torch_mode": (0, 3),
    "trace_hook": (0, 3),
    "gc_callback": (0, 3),
    "thread": (0, 3),
    "audit_hook": (0, 3),
}
# (status, text that the outcome's details must contain)
EXPECTED_OUTCOME = {
    "perfect": ("graded", "every test passed"),
    "syntax_error": ("graded", "discounted_sum: SyntaxError"),
    "exception": ("graded", "discounted_sum: ValueError: a bug in my answer"),
    "infinite_loop": ("graded", "discounted_sum: CellTimeoutError"),
    "stubborn_loop": ("graded", "greedy_action: CellTimeoutError: the cell ran past the time"),
    "memory_hog": ("graded", "discounted_sum: MemoryError"),
    "sys_exit": ("graded", "greedy_action: SystemExit"),
    "os_exit": ("graded", "greedy_action: KernelDied: the kernel died"),
    "killed_kernel": ("graded", "test_greedy_action: KernelDied: not run"),
    "test_cell_pass": ("graded", "test_discounted_sum: NotImplementedError"),
    "tamper": ("graded", "test_discounted_sum: GradingError"),
    "invalid_json": ("invalid notebook", "is not a valid notebook"),
    "wrong_name": ("wrong file name", "expected 00_fixture.ipynb, found ['00_fixture (1).ipynb']"),
    "noisy": (
        "graded",
        "every test passed | test_discounted_sum: wrote to stderr (kept, no points lost): ",
        "test_greedy_action: output cut at 1024 KiB",
    ),
    "copy_paste": (
        "graded",
        "every test passed | ",
        "test_from_another_notebook) is not part of this lesson",
        "discounted_sum appears 2 times (a copied cell): the last (an answer",
        "test_greedy_action appears 2 times (a copied cell): the first is graded",
    ),
    "cheater": (
        "graded",
        "test_discounted_sum: GradingError: discounted_sum([1, 1, 1], 0.5) is not right.",
        "test_greedy_action: GradingError",
    ),
    **{
        kind: (
            "graded",
            "test_discounted_sum: GradingError: discounted_sum([1, 1, 1], 0.5) is not right.",
            f"test_discounted_sum: grading guard: found before this test: {found}",
        )
        for kind, found in {
            "code_swap": "refused changing check.__code__",
            "torch_mode": "a torch function mode (_Expected)",
            "trace_hook": "refused sys.settrace; a thread trace hook (threading.settrace)",
            "gc_callback": "1 gc callback(s)",
            "thread": "a thread the notebook started (patcher), stopped",
            "audit_hook": "refused sys.addaudithook",
        }.items()
    },
}
DEMO_ONLY_OUTCOME = {
    "cheater": ("not copied: more_answers.py: more_answers.py is a symbolic link",),
}
"""what only the class demo's submissions say: a zip of the corpus cannot hold a symbolic link"""
MAX_SCORE = 6
"""the fixture lesson's autograded points: nothing a student hands in changes them"""
CELL_TIMEOUT_S = "5"
"""The per-cell time limit of these tests (as in tests/test_grading_class.py)."""


def corpus_course(tmp: Path) -> Path:
    """A released copy of the fixture course whose submitted/ holds every corpus submission."""
    root = make_course(tmp, FIXTURE_COURSE, [FIXTURE])
    release(root, [FIXTURE])
    with zipfile.ZipFile(CORPUS) as archive:
        for name in archive.namelist():
            kind, file_name = name.split("/", 1)
            target = course.submitted_dir(root, kind, FIXTURE) / file_name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(name))
    return root


def corpus_kinds() -> list[str]:
    with zipfile.ZipFile(CORPUS) as archive:
        return sorted({name.split("/", 1)[0] for name in archive.namelist()})


@contextmanager
def grading_limits():
    """The short cell time limit and the demo's grading environment, restored afterwards."""
    with (
        environment({course.CELL_TIMEOUT_VARIABLE: CELL_TIMEOUT_S}),
        classroom.grading_environment(),
    ):
        yield


def assert_pinned_points(root: Path) -> None:
    """Every corpus submission in the course's gradebook has the points of EXPECTED_POINTS."""
    points = gradebook.cell_points(root)
    assert set(points) == {f"{kind}/{FIXTURE}" for kind in corpus_kinds()}
    for kind in corpus_kinds():
        cells = points[f"{kind}/{FIXTURE}"]
        assert tuple(cells[t] for t in TESTS) == EXPECTED_POINTS[kind], (kind, cells)
        assert cells["why_greedy"] == 0, "a written answer is graded by hand, never automatically"


def assert_outcome(outcome) -> None:
    """The outcome of one submission (its student is its kind) says what EXPECTED_OUTCOME says."""
    kind = outcome.student
    if kind in EXPECTED_OUTCOME:
        status, *texts = EXPECTED_OUTCOME[kind]
        assert outcome.status == status, (kind, outcome.details)
        for text in texts:
            assert text in outcome.details, (kind, outcome.details)
    assert outcome.score == sum(EXPECTED_POINTS[kind]), (kind, outcome.details)
    assert outcome.max_score == MAX_SCORE, "nothing a student hands in changes the maximum"
