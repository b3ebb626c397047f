"""What a student's feedback page shows of the grade cells' hidden tests (issue 31).

nbgrader's GenerateFeedback renders the autograded notebook whole: every grade
cell with its hidden tests, so released feedback would hand them out (to this
term's students and, through them, to the next term's). `HideHiddenTests` is
one of GenerateFeedback's preprocessors (nbgrader_config.py), so every way of
generating feedback uses it: `make feedback`, `nbgrader generate_feedback`,
the formgrader's "Generate feedback" button and the hub's course service. It
changes only the copy being rendered; the autograded notebook kept for the
instructor (grader/work/autograded/) is never written.

In `hide` mode (the course setting `course.feedback_hidden_tests()`) a grade
cell keeps its visible part, its score (nbgrader's GetGrades), its outputs
(the grading messages: what was checked, expected, got, the hint; a
PartialCredit or Quiz cell's parts) and the lines of the student's own code in
a traceback. Each hidden-test region becomes one comment line that says
whether the hidden tests ran and whether one of their checks failed, and a
traceback's frames of the grade cell lose the quoted lines that belong to a
hidden region (the failing one becomes a placeholder). `show` renders the
cells as nbgrader does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from nbformat import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from traitlets import Enum

from grader import course

BEGIN_HIDDEN = ClearHiddenTests.class_traits()["begin_test_delimeter"].default_value
END_HIDDEN = ClearHiddenTests.class_traits()["end_test_delimeter"].default_value
"""nbgrader's markers of a hidden-test region (a line that contains one opens or closes it)."""

HIDDEN_PLACEHOLDER = "(a line of the hidden tests, not shown)"
"""What a traceback shows instead of the failing line when that line is a hidden test's."""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_FRAME = re.compile(r"^Cell In\[(\d+)\], line (\d+)")
"""IPython's header of a frame in a notebook cell: 'Cell In[5], line 3[, in f(x)]'."""
_QUOTED_LINE = re.compile(r"^\s*(-+>)?\s*(\d+)(?:\s|$)")
"""A source line that a frame quotes: '      4 code' or '----> 5 code' (the failing one)."""


@dataclass(frozen=True)
class HiddenRegion:
    """Lines `first`..`last` (1-based, both markers included) of a cell's source."""

    first: int
    last: int
    indent: str

    def __contains__(self, line: int) -> bool:
        return self.first <= line <= self.last


def hidden_regions(source: str) -> list[HiddenRegion]:
    """The hidden-test regions of a cell's source, in order (an unclosed one runs to the end)."""
    regions, first, indent = [], None, ""
    lines = source.split("\n")
    for number, line in enumerate(lines, start=1):
        if first is None and BEGIN_HIDDEN in line:
            first, indent = number, line[: len(line) - len(line.lstrip())]
        elif first is not None and END_HIDDEN in line:
            regions.append(HiddenRegion(first, number, indent))
            first = None
    if first is not None:
        regions.append(HiddenRegion(first, len(lines), indent))
    return regions


def _plain(text: str) -> str:
    return _ANSI.sub("", text)


class _TextOfPage(HTMLParser):
    """Collects the text of an HTML page, without its styles and scripts."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        self._hidden += tag in ("style", "script")
        if tag in ("div", "p", "br", "li", "pre", "tr", "h1", "h2", "h3", "h4"):
            self.parts.append("\n")

    def handle_endtag(self, tag):
        self._hidden -= tag in ("style", "script")

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def page_text(page: str) -> str:
    """What a reader of an HTML feedback page sees, as text (for checks and reports)."""
    parser = _TextOfPage()
    parser.feed(page)
    return re.sub(r"\n\s*\n+", "\n", "".join(parser.parts)).strip() + "\n"


def frame_of(entry: str) -> tuple[int, int] | None:
    """(execution count, line) of a traceback entry that is a frame of a notebook cell, else None.

    IPython names a cell's frame after the cell's execution count: `Cell In[5], line 3`.
    """
    match = _CELL_FRAME.match(_plain(entry))
    return (int(match.group(1)), int(match.group(2))) if match else None


def failing_line(cell: NotebookNode) -> int | None:
    """The line of `cell` where its error was raised, from its tracebacks (None if unknown).

    The first frame of a traceback named after the cell's execution count is the
    cell's own top level.
    """
    count = cell.get("execution_count")
    for output in _errors(cell):
        for entry in output.get("traceback", []):
            frame = frame_of(entry)
            if frame is not None and count is not None and frame[0] == count:
                return frame[1]
    return None


def _errors(cell: NotebookNode) -> list[NotebookNode]:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def hidden_tests_status(cell: NotebookNode, region: HiddenRegion) -> str:
    """Did the hidden tests of `region` run, and did one of their checks fail? (a phrase)

    A grade cell is all or nothing: it stops at its first failed check, so the
    checks after it never ran, and the page says so. PartialCredit and Quiz cells
    name their wrong parts in their output instead.
    """
    errors = _errors(cell)
    if cell.get("execution_count") is None:  # never started (the kernel had died, ...)
        return "not run (the error below)" if errors else "not run"
    if not errors:
        grade = cell.metadata.get("nbgrader", {})
        score, points = grade.get("score"), grade.get("points")
        if score is None or points is None:
            return "ran to the end"
        if float(score) < float(points):
            return "ran; not every part was right (the output below names them)"
        return "ran and passed"
    line = failing_line(cell)
    if line is None:
        name = errors[-1].get("ename", "an error")
        return f"the cell did not run to its end ({name}, below), so they may not have run"
    if line < region.first:
        return "not run: the cell stopped before them, at the error below"
    if line in region:
        return (
            "ran, and one of their checks failed (the error below); a cell stops at its "
            "first failure, so the hidden checks after that one did not run"
        )
    return "ran and passed; the cell failed after them (the error below)"


def hide_source(cell: NotebookNode) -> str:
    """The cell's source with each hidden-test region replaced by one comment line."""
    lines = cell.source.split("\n")
    kept, regions = [], hidden_regions(cell.source)
    for number, line in enumerate(lines, start=1):
        region = next((r for r in regions if number in r), None)
        if region is None:
            kept.append(line)
        elif number == region.first:
            status = hidden_tests_status(cell, region)
            kept.append(f"{region.indent}# Hidden tests (not shown): {status}")
    return "\n".join(kept)


def hide_frame(entry: str, regions: list[HiddenRegion]) -> str:
    """A traceback entry (one frame of the cell) without the quoted lines of hidden regions."""
    kept = []
    for line in entry.split("\n"):
        quoted = _QUOTED_LINE.match(_plain(line))
        if quoted is None or not any(int(quoted.group(2)) in r for r in regions):
            kept.append(line)
        elif quoted.group(1):  # the failing line itself
            kept.append(f"{quoted.group(1)} {HIDDEN_PLACEHOLDER}")
    return "\n".join(kept)


def hide_tracebacks(cell: NotebookNode, hidden: dict[int, list[HiddenRegion]]) -> None:
    """The frames in `cell`'s error outputs lose the quoted lines of hidden regions.

    `hidden` maps the execution count of each cell that has hidden regions to them:
    a frame of any such cell is cut (a hidden helper that a later cell calls too).
    """
    for output in _errors(cell):
        frames = []
        for entry in output.get("traceback", []):
            frame = frame_of(entry)
            regions = hidden.get(frame[0]) if frame is not None else None
            frames.append(hide_frame(entry, regions) if regions else entry)
        output["traceback"] = frames


class HideHiddenTests(NbGraderPreprocessor):
    """GenerateFeedback's step that keeps the hidden tests off the feedback pages.

    It runs after nbgrader's GetGrades (which puts each grade cell's score in its
    metadata) on the notebook being rendered, never on the autograded file.
    """

    hidden_tests = Enum(
        list(course.FEEDBACK_HIDDEN_TESTS),
        default_value=course.FEEDBACK_HIDDEN_TESTS[0],
        help=course.FEEDBACK_HIDDEN_TESTS_HELP,
    ).tag(config=True)

    def preprocess(self, nb, resources):
        if self.hidden_tests == "show":
            return nb, resources
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        hidden = {
            cell.execution_count: hidden_regions(cell.source)
            for cell in code
            if cell.get("execution_count") is not None and hidden_regions(cell.source)
        }
        for cell in code:
            if hidden_regions(cell.source):
                cell.source = hide_source(cell)  # first: it reads where the tracebacks failed
            hide_tracebacks(cell, hidden)
        return nb, resources
