"""Suite-wide pytest hooks: a timing line per phase of the suite.

`make test` runs pytest with two xdist workers and `--dist loadfile`: a test
file's tests stay together on one worker, so its module fixtures (a lab server,
a class demo, nbval's kernel for a notebook's cells) are built once.
"""

from __future__ import annotations

from collections import defaultdict

# phase: the test files (relative to the repository) that belong to it, by prefix
PHASES = {
    "browser": ("tests/browser/", "tests/test_lab.py"),
    "grading": ("tests/test_grading_", "tests/test_release.py"),
    "lessons": ("solutions/", "tests/test_lesson_"),
}


def relative_file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def phase_of(nodeid: str) -> str:
    path = relative_file(nodeid)
    for phase, prefixes in PHASES.items():
        if path.startswith(prefixes):
            return phase
    return "unit"


def pytest_terminal_summary(terminalreporter):
    """Per phase: how many tests, their summed time, and first start to last stop (wall)."""
    tests, seconds = defaultdict(int), defaultdict(float)
    starts, stops = defaultdict(list), defaultdict(list)
    for reports in terminalreporter.stats.values():
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
    if not seconds:
        return
    terminalreporter.section("time per phase")
    for phase in sorted(seconds, key=lambda p: min(starts[p], default=0)):
        span = max(stops[phase], default=0) - min(starts[phase], default=0)
        terminalreporter.write_line(
            f"phase {phase}: {tests[phase]} tests, {seconds[phase]:.0f} s of test time, "
            f"{span:.0f} s from first start to last stop"
        )
