"""Row 5: `make test`'s time per phase, as the suite's last run wrote it.

tests/conftest.py writes build/test-phases.json at the end of every pytest run
(the phases of its own PHASES: browser, grading, lessons, unit). The bench
never runs the suite itself (it takes tens of minutes and binds ports); it
reports the latest file, when it was written and by which command line, so a
partial run (one test file) is not mistaken for the suite.
"""

from __future__ import annotations

import json
from pathlib import Path

from grader.course import REPO

PHASES_FILE = REPO / "build" / "test-phases.json"
WHOLE_SUITE = ("tests", "solutions")
"""the paths `make test` hands pytest"""


def load_phases(path: Path = PHASES_FILE) -> dict | None:
    """The last run's record, or None when the suite has not run in this checkout."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def is_whole_suite(record: dict) -> bool:
    """Did the run collect the whole suite (tests/ and solutions/, no -k, no single file)?"""
    args = [a.rstrip("/") for a in record.get("args", [])]
    paths = [a for a in args if not a.startswith("-")]
    return all(p in paths for p in WHOLE_SUITE) and "-k" not in args


def phase_rows(record: dict | None) -> list[tuple[str, str, str, str]]:
    """(item, measured, compared with, verdict) per phase."""
    if record is None:
        return [
            ("make test, per phase", "not measured", "", f"no {PHASES_FILE.name}: run make test")
        ]
    scope = (
        "the whole suite"
        if is_whole_suite(record)
        else "a PARTIAL run: " + " ".join(record.get("args", []))
    )
    when = f"run of {record.get('finished', '?')}, {scope}, exit status {record.get('exit_status')}"
    rows = []
    for phase, times in record.get("phases", {}).items():
        rows.append(
            (
                f"make test phase `{phase}`",
                f"{times['wall_seconds']:.0f} s wall ({times['tests']} tests, "
                f"{times['test_seconds']:.0f} s of test time)",
                when,
                "",
            )
        )
    return rows
