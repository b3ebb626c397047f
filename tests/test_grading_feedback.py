"""grader.kernel.feedback: the hidden tests stay off the feedback pages, the messages stay on them.

The fixture lesson's grade cells are run once, in a plain kernel, with two
wrong answers that pass the visible checks and fail the hidden ones: one check
fails in the grade cell's hidden region, the other answer raises in the
student's own code when a hidden test calls it. The class demo
(tests/test_grading_class.py) checks the pages nbgrader writes for the corpus.
"""

from __future__ import annotations

import copy
import re

import jupytext
import nbformat
import pytest
from course_tools import FIXTURE_COURSE, REGION
from nbclient import NotebookClient
from traitlets import TraitError

from grader import autograde, course
from grader.course import load_config
from grader.kernel import feedback

LESSON = "00_fixture"
WRONG_ANSWERS = {
    # right on every non-empty episode: only the hidden empty-episode check fails
    "discounted_sum": (
        "def discounted_sum(rewards, gamma):\n"
        "    rewards = np.asarray(rewards, dtype=float)\n"
        "    if len(rewards) == 0:\n"
        "        return 1.0\n"
        "    return float(np.sum(rewards * gamma ** np.arange(len(rewards))))"
    ),
    # raises in the student's code when the hidden test passes negative values
    "greedy_action": (
        "def greedy_action(q_values):\n"
        "    if max(q_values) < 0:\n"
        '        raise ValueError("my answer takes positive values only")\n'
        "    return int(np.argmax(q_values))"
    ),
}
STUDENT_LINE = 'raise ValueError("my answer takes positive values only")'
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> nbformat.NotebookNode:
    """The fixture lesson with WRONG_ANSWERS, executed, with the scores GetGrades would add."""
    notebook = jupytext.read(course.source_path(FIXTURE_COURSE, LESSON))
    for cell in notebook.cells:
        if course.grade_id(cell) in WRONG_ANSWERS:
            cell.source = WRONG_ANSWERS[course.grade_id(cell)]
    folder = tmp_path_factory.mktemp("feedback")
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()
    for cell in notebook.cells:
        if course.is_graded(cell):
            cell.metadata.nbgrader["score"] = 0.0
    return notebook


def hidden_lines(source_text: str, visible_text: str) -> set[str]:
    """Non-blank lines of the hidden-test regions that are not also a line of the visible part."""
    hidden = {
        line.strip()
        for kind, region in REGION.findall(source_text)
        if kind == "HIDDEN TESTS"
        for line in region.splitlines()
    }
    visible = {line.strip() for line in visible_text.splitlines()}
    return {line for line in hidden if line and line not in visible}


def shown_text(notebook: nbformat.NotebookNode) -> str:
    """Everything a feedback page renders of a notebook: sources and outputs, as text."""
    parts = []
    for cell in notebook.cells:
        parts.append(cell.source)
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(str(output.get("data", {}).get("text/plain", "")))
            parts.extend(ANSI.sub("", entry) for entry in output.get("traceback", []))
    return "\n".join(parts)


def grade_cell(notebook, cell_id):
    (cell,) = [c for c in notebook.cells if course.grade_id(c) == cell_id]
    return cell


def hide(notebook, mode="hide"):
    processed, _ = feedback.HideHiddenTests(hidden_tests=mode).preprocess(
        copy.deepcopy(notebook), {}
    )
    return processed


def test_no_hidden_line_reaches_the_page(graded):
    source = course.source_path(FIXTURE_COURSE, LESSON).read_text()
    visible = REGION.sub("", source)
    secret = hidden_lines(source, visible)
    assert len(secret) >= 8, secret
    assert [line for line in secret if line in shown_text(graded)], "nothing to hide"
    leaked = [line for line in secret if line in shown_text(hide(graded))]
    assert not leaked, leaked
    for marker in (feedback.BEGIN_HIDDEN, feedback.END_HIDDEN):
        assert marker not in shown_text(hide(graded))


def test_a_hidden_check_that_fails_says_so_and_keeps_its_message(graded):
    cell = grade_cell(hide(graded), "test_discounted_sum")
    assert "check_close(\n    discounted_sum([1.0, 1.0, 1.0], 0.5)," in cell.source, "visible part"
    (status,) = [line for line in cell.source.splitlines() if "Hidden tests" in line]
    assert status == (
        "# Hidden tests (not shown): ran, and one of their checks failed (the error below); "
        "a cell stops at its first failure, so the hidden checks after that one did not run"
    )
    (error,) = [o for o in cell.outputs if o.output_type == "error"]
    assert error.evalue.startswith("discounted_sum of an empty episode is not right.")
    text = ANSI.sub("", "\n".join(error.traceback))
    assert re.search(rf"-+> {re.escape(feedback.HIDDEN_PLACEHOLDER)}", text), text
    assert "discounted_sum of an empty episode is not right.\n  expected: 0.0\n  got:      1.0" in (
        text
    ), "the grading message (what, expected, got) is kept"
    assert "Cell In[" in text


def test_the_students_own_failing_line_is_kept(graded):
    cell = grade_cell(hide(graded), "test_greedy_action")
    (error,) = [o for o in cell.outputs if o.output_type == "error"]
    text = ANSI.sub("", "\n".join(error.traceback))
    assert re.search(rf"-+> 3 +{re.escape(STUDENT_LINE)}", text), text
    assert "in greedy_action(q_values)" in text
    assert re.search(rf"-+> {re.escape(feedback.HIDDEN_PLACEHOLDER)}", text), text
    assert "ValueError: my answer takes positive values only" in text
    assert "one of their checks failed" in cell.source


def test_show_renders_the_notebook_as_nbgrader_does(graded):
    assert hide(graded, "show") == graded


def test_the_autograded_notebook_is_not_changed(graded):
    kept = copy.deepcopy(graded)
    feedback.HideHiddenTests().preprocess(copy.deepcopy(graded), {})
    assert graded == kept


@pytest.mark.parametrize(
    ("outputs", "score", "status"),
    [
        ([], None, "not run"),
        ([nbformat.v4.new_output("stream", name="stdout", text="ok\n")], 2.0, "ran and passed"),
        (
            [nbformat.v4.new_output("stream", name="stdout", text="part b: not right\n")],
            1.0,
            "ran; not every part was right (the output below names them)",
        ),
        (
            [nbformat.v4.new_output("error", ename="KernelDied", evalue="x", traceback=["x"])],
            0.0,
            "the cell did not run to its end (KernelDied, below), so they may not have run",
        ),
    ],
)
def test_status_without_a_failing_line(outputs, score, status):
    cell = nbformat.v4.new_code_cell("a = 1\n### BEGIN HIDDEN TESTS\nb = 2\n### END HIDDEN TESTS")
    cell.metadata["nbgrader"] = {"grade": True, "points": 2.0, "score": score}
    cell.outputs = outputs
    cell.execution_count = 3 if outputs else None
    (region,) = feedback.hidden_regions(cell.source)
    assert (region.first, region.last) == (2, 4)
    assert feedback.hidden_tests_status(cell, region) == status


def test_a_cell_the_dead_kernel_never_ran():
    cell = nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nb = 2\n### END HIDDEN TESTS")
    cell.outputs = [nbformat.v4.new_output("error", ename="KernelDied", evalue="not run")]
    (region,) = feedback.hidden_regions(cell.source)
    assert feedback.hidden_tests_status(cell, region) == "not run (the error below)"
    assert feedback.hide_source(cell) == "# Hidden tests (not shown): not run (the error below)"


def test_every_path_to_feedback_reads_the_setting(monkeypatch):
    config = load_config(course.REPO)
    names = list(config.GenerateFeedback.preprocessors)
    assert names.index("grader.kernel.feedback.HideHiddenTests") == 1 + names.index(
        "nbgrader.preprocessors.GetGrades"
    )
    assert config.HideHiddenTests.hidden_tests == "hide"
    monkeypatch.setenv(course.FEEDBACK_HIDDEN_TESTS_VARIABLE, "Show")
    assert load_config(course.REPO).HideHiddenTests.hidden_tests == "show"


def test_a_wrong_setting_stops_feedback_but_never_grading(monkeypatch, tmp_path):
    monkeypatch.setenv(course.FEEDBACK_HIDDEN_TESTS_VARIABLE, "hidden")
    config = load_config(course.REPO)  # the config still loads: the sandbox stays configured
    assert "grader.kernel.guard.GuardedExecute" in config.Autograde.autograde_preprocessors
    with pytest.raises(TraitError):
        feedback.HideHiddenTests(config=config)
    with pytest.raises(ValueError, match="RLCOURSE_FEEDBACK_HIDDEN_TESTS='hidden'"):
        autograde.feedback(tmp_path)


def test_a_hidden_helper_that_a_later_cell_calls_is_cut_there_too():
    first = nbformat.v4.new_code_cell(
        "x = 1\n### BEGIN HIDDEN TESTS\ndef _hidden_helper():\n    raise ValueError('no')\n"
        "### END HIDDEN TESTS",
        execution_count=3,
    )
    later = nbformat.v4.new_code_cell("_hidden_helper()", execution_count=4)
    later.outputs = [
        nbformat.v4.new_output(
            "error",
            ename="ValueError",
            evalue="no",
            traceback=[
                "Cell In[4], line 1\n----> 1 _hidden_helper()\n",
                "Cell In[3], line 4, in _hidden_helper()\n"
                "      3 def _hidden_helper():\n----> 4     raise ValueError('no')\n",
                "ValueError: no",
            ],
        )
    ]
    notebook = nbformat.v4.new_notebook(cells=[first, later])
    shown = shown_text(hide(notebook))
    assert "raise ValueError('no')" not in shown and "def _hidden_helper" not in shown
    assert "----> 1 _hidden_helper()" in shown
    assert f"----> {feedback.HIDDEN_PLACEHOLDER}" in shown


def test_the_hub_passes_the_setting_on_to_its_servers(monkeypatch):
    """The hub's course service (which runs `grader.autograde feedback`) sees the setting."""
    from types import SimpleNamespace

    from grader.hub import layout

    monkeypatch.setenv(course.FEEDBACK_HIDDEN_TESTS_VARIABLE, "show")
    site = SimpleNamespace(venv="/venv", exchange="/exchange", db_url=None)
    assert layout.course_environment(site)[course.FEEDBACK_HIDDEN_TESTS_VARIABLE] == "show"
