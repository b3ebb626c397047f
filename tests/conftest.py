"""Suite-wide pytest hooks: how the suite is shared out, and a timing line per phase.

`make test` runs pytest with two xdist workers. A test file's tests stay
together on one worker, so its module fixtures (a lab server, a class demo,
nbval's kernel for a notebook's cells) are built once, except in the files of
SPLIT_BY_LESSON, whose tests are shared out lesson by lesson (each lesson's run
is minutes, and a course of six lessons on one worker would leave the other
idle). The slowest phases are handed out first.

It also holds the two fixtures every tests/test_lesson_NN.py uses: `lesson`
(the module's LESSON_ID, loaded) and `ns` (its reference namespace).

The time per phase is also written to build/test-phases.json (PHASES_FILE), for
`make bench` to report (its row 5): the latest run's figures, with the command
line and the time of the run, so a partial run can be told from the whole suite.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from lesson_runner import Lesson

from bench.suite import PHASES_FILE  # one owner: the bench reads what the suite writes

# phase: the test files (relative to the repository) that belong to it, by prefix
PHASES = {
    "browser": ("tests/browser/", "tests/test_lab.py"),
    "grading": ("tests/test_grading_", "tests/test_release.py"),
    "lessons": ("solutions/", "tests/test_lesson_"),
}


# files whose tests are parametrised by lesson and may go to different workers by lesson
SPLIT_BY_LESSON = (
    "tests/browser/test_student_browser.py",
    "tests/test_grading_lessons.py",
    "tests/test_lesson_mistakes.py",
)
LESSON_PARAMETER = re.compile(r"\[(\d\d_[a-z0-9_]+)")  # [03_reinforce] or [03_reinforce-...]
PHASE_ORDER = ("browser", "grading", "lessons", "unit")  # slowest first


def relative_file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def lesson_of(nodeid: str) -> str | None:
    found = LESSON_PARAMETER.search(nodeid)
    return found.group(1) if found else None


def work_unit(nodeid: str) -> str:
    """What one worker runs together: a file, or one lesson's tests of a SPLIT_BY_LESSON file."""
    path = relative_file(nodeid)
    lesson = lesson_of(nodeid)
    return f"{path}::{lesson}" if path in SPLIT_BY_LESSON and lesson else path


def optional_lesson_notebook(nodeid: str) -> bool:
    """A cell of an optional lesson's notebook (grader.course.OPTIONAL_LESSONS): nbval leaves
    it out (tests/test_real_lm.py and bench row 8 test that lesson)."""
    from grader.course import OPTIONAL_LESSONS

    return any(relative_file(nodeid).startswith(f"solutions/{x}/") for x in OPTIONAL_LESSONS)


def pytest_collection_modifyitems(config, items):
    """Slow phases first, and in a split file the later (longer) lessons first.

    (The order is the same in every worker; xdist hands the units out in it.)
    """
    left_out = [item for item in items if optional_lesson_notebook(item.nodeid)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not optional_lesson_notebook(item.nodeid)]

    def order(indexed):
        position, item = indexed
        lesson = lesson_of(item.nodeid) if relative_file(item.nodeid) in SPLIT_BY_LESSON else None
        # a split file's lessons in reverse order; within a unit, the collected order
        lesson_rank = -int(lesson[:2]) if lesson else 0
        return (
            PHASE_ORDER.index(phase_of(item.nodeid)),
            relative_file(item.nodeid),
            lesson_rank,
            position,
        )

    items[:] = [item for _, item in sorted(enumerate(items), key=order)]


def pytest_xdist_make_scheduler(config, log):
    """Share out work units (see work_unit) in the order of the collection."""
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    config.option.loadscopereorder = False  # (xdist would put the units with most tests first)
    return WorkUnitScheduling(config, log)


def phase_of(nodeid: str) -> str:
    path = relative_file(nodeid)
    for phase, prefixes in PHASES.items():
        if path.startswith(prefixes):
            return phase
    return "unit"


def phase_times(stats: dict) -> dict[str, dict[str, float]]:
    """{phase: tests, summed test seconds, wall seconds from first start to last stop}."""
    tests, seconds = defaultdict(int), defaultdict(float)
    starts, stops = defaultdict(list), defaultdict(list)
    for reports in stats.values():
        for report in reports:
            if getattr(report, "when", None) not in ("setup", "call", "teardown"):
                continue
            phase = phase_of(report.nodeid)
            seconds[phase] += report.duration
            if report.when == "call":
                tests[phase] += 1
            if getattr(report, "start", 0):
                starts[phase].append(report.start)
                stops[phase].append(report.stop)
    result = {}
    for phase in sorted(seconds, key=lambda p: min(starts[p], default=0)):
        span = max(stops[phase], default=0) - min(starts[phase], default=0)
        result[phase] = {
            "tests": tests[phase],
            "test_seconds": seconds[phase],
            "wall_seconds": span,
        }
    return result


def write_phases(phases: dict, config, path: Path = PHASES_FILE) -> None:
    """The phases of this run as JSON (replacing the previous run's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "args": list(config.invocation_params.args),
        "workers": getattr(config.option, "numprocesses", None),
        "exit_status": getattr(config, "_rlcourse_exit_status", None),
        "phases": phases,
    }
    path.write_text(json.dumps(record, indent=1) + "\n")


def pytest_sessionfinish(session, exitstatus):
    session.config._rlcourse_exit_status = int(exitstatus)


def pytest_terminal_summary(terminalreporter, config):
    """Per phase: how many tests, their summed time, and first start to last stop (wall)."""
    phases = phase_times(terminalreporter.stats)
    if not phases:
        return
    terminalreporter.section("time per phase")
    for phase, times in phases.items():
        terminalreporter.write_line(
            f"phase {phase}: {times['tests']} tests, {times['test_seconds']:.0f} s of test time, "
            f"{times['wall_seconds']:.0f} s from first start to last stop"
        )
    if not hasattr(config, "workerinput"):  # (an xdist worker reports to the controller)
        try:
            write_phases(phases, config)
        except OSError as error:
            print(f"could not write {PHASES_FILE}: {error}", file=sys.stderr)


@pytest.fixture(scope="module")
def lesson(request) -> Lesson:
    """The lesson named by the test module's LESSON_ID."""
    return Lesson.load(request.module.LESSON_ID)


@pytest.fixture(scope="module")
def ns(lesson: Lesson) -> dict:
    """The lesson's namespace after running its reference notebook (built once per module)."""
    return lesson.namespace()
