"""The class report's parts on hand-made inputs: time on task, similarity, mistake rows."""

from __future__ import annotations

import json

import nbformat
import pytest

from grader import bundle
from grader.report import exercises, mistakes, similarity, time_on_task
from grader.report.page import figure_html

STUB = '''def discounted_sum(rewards, gamma):
    """rewards: float array [T] -> float, sum_t gamma^t r_t."""
    raise NotImplementedError()

def greedy_action(q_values):
    """q_values: float array [A] -> int, the index of the largest value."""
    raise NotImplementedError()
'''
OWN_WORDS = '''def discounted_sum(rewards, gamma):
    """rewards: float array [T] -> float, sum_t gamma^t r_t."""
    total = 0.0
    weight = 1.0
    for reward in rewards:
        total += weight * reward
        weight *= gamma
    return float(total)

def greedy_action(q_values):
    """q_values: float array [A] -> int, the index of the largest value."""
    best, best_value = 0, float("-inf")
    for action, value in enumerate(q_values):
        if value > best_value:
            best, best_value = action, value
    return best
'''
RENAMED_COPY = '''def discounted_sum(rewards, gamma):
    """rewards: float array [T] -> float, sum_t gamma^t r_t."""
    # summing it up
    s = 0.0
    w = 1.0

    for r in rewards:
        s += w * r
        w *= gamma
    return float(s)

def greedy_action(q):
    """q_values: float array [A] -> int, the index of the largest value."""
    i, v = 0, float("-inf")
    for k, x in enumerate(q):
        if x > v:
            i, v = k, x
    return i
'''
REFERENCE = '''def discounted_sum(rewards, gamma):
    """rewards: float array [T] -> float, sum_t gamma^t r_t."""
    rewards = np.asarray(rewards, dtype=float)
    return float(np.sum(rewards * gamma ** np.arange(len(rewards))))

def greedy_action(q_values):
    """q_values: float array [A] -> int, the index of the largest value."""
    return int(np.argmax(q_values))
'''


def timed_cell(start: str, end: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("x = 1")
    cell.metadata["execution"] = {
        "iopub.execute_input": f"2026-03-02T{start}:00.000Z",
        "shell.execute_reply": f"2026-03-02T{end}:00.000Z",
    }
    return cell


def timed_notebook() -> nbformat.NotebookNode:
    """Exercise 1: runs from 10:00 to 10:12. Exercise 2: 10:20-10:25, a 45-minute break,
    11:10-11:12. A section between them, run at 13:00, belongs to no exercise."""
    md = nbformat.v4.new_markdown_cell
    return nbformat.v4.new_notebook(
        cells=[
            md("# Lesson"),
            md("## Exercise 1: a sum (2 points, about 10 min, easy)"),
            timed_cell("10:00", "10:01"),
            timed_cell("10:05", "10:06"),
            nbformat.v4.new_code_cell("never run"),
            timed_cell("10:11", "10:12"),
            md("## 3. Reading"),
            timed_cell("13:00", "13:01"),
            md("Some text\n\n## Exercise 2: greedy (3 points, about 20 min, medium)"),
            timed_cell("10:20", "10:25"),
            timed_cell("11:10", "11:12"),
        ]
    )


def test_time_on_task_cuts_breaks_and_skips_other_sections():
    minutes = time_on_task.minutes_per_exercise(timed_notebook())
    assert minutes == {
        "Exercise 1: a sum": pytest.approx(12),
        "Exercise 2: greedy": pytest.approx(7),
    }


def test_time_on_task_is_empty_without_recorded_timing():
    notebook = timed_notebook()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    assert time_on_task.minutes_per_exercise(notebook) == {}


def test_the_students_lab_records_timing():
    """make lab, the bundle and the hub write JupyterLab's recordTiming override."""
    for config in (bundle.STUDENT_LAB_CONFIG, bundle.SOLO_LAB_CONFIG):
        overrides = config[f"{bundle.TIMING_SETTINGS}/overrides.json"]
        assert overrides["@jupyterlab/notebook-extension:tracker"]["recordTiming"] is True
    assert "--LabApp.app_settings_dir=$(CURDIR)/{lab_config}/{timing_settings}" in (
        bundle.STUDENT_MAKEFILE
    ), "the bundle's make lab reads the overrides"
    assert "Recording timing" in bundle.STUDENT_README, "students are told, and how to turn it off"


def test_placed_lab_config_points_jupyterlab_at_the_overrides(tmp_path):
    bundle.write_lab_config(tmp_path, bundle.STUDENT_LAB_CONFIG)
    config = json.loads((tmp_path / "jupyter_server_config.json").read_text())
    settings = config["LabApp"]["app_settings_dir"]
    assert (tmp_path / bundle.TIMING_SETTINGS / "overrides.json").exists()
    assert settings == str(tmp_path.resolve() / bundle.TIMING_SETTINGS)


def test_a_renamed_copy_is_flagged_and_an_honest_pair_is_not():
    answers = {"ana": OWN_WORDS, "cas": RENAMED_COPY, "ref": REFERENCE}
    pairs = similarity.similar_pairs("00_fixture", answers, STUB)
    assert [(p.first, p.second) for p in pairs] == [("ana", "cas")]
    assert min(pairs[0].similarity) >= similarity.THRESHOLD


def test_untouched_stubs_are_never_a_pair():
    pairs = similarity.similar_pairs("00_fixture", {"a": STUB, "b": STUB}, STUB)
    assert pairs == []


def test_mistake_rows_carry_their_comment():
    rows = mistakes.mistake_rows(mistakes.Path(__file__).parent.parent, "02_mdps")
    forgets_gamma = [r for r in rows if r.answer_id == "policy_evaluation" and r.words == "gamma"]
    assert forgets_gamma and forgets_gamma[0].comment == "forgets the discount"


def test_failures_group_by_message_with_numbers_blanked_and_match_rows():
    row = mistakes.MistakeRow("discounted_sum", "gamma ** t", "forgets the discount")
    failures = {
        "a": {"test_discounted_sum": "AssertionError: got 3.0, expected 1.75: gamma ** t ..."},
        "b": {"test_discounted_sum": "AssertionError: got 2.5, expected 1.75: gamma ** t ..."},
        "c": {"test_greedy_action": "AssertionError: returned the value, not the index"},
    }
    answers_of = {
        "test_discounted_sum": ("discounted_sum",),
        "test_greedy_action": ("greedy_action",),
    }
    groups = mistakes.group_failures(failures, answers_of, [row])
    assert [(g.grade_id, g.students, g.rows) for g in groups] == [
        ("test_discounted_sum", ("a", "b"), (row,)),
        ("test_greedy_action", ("c",), ()),
    ]


def test_exercises_are_read_from_the_headings():
    notebook = timed_notebook()
    test = nbformat.v4.new_code_cell("check()")
    test.metadata["nbgrader"] = {
        "grade": True,
        "solution": False,
        "grade_id": "test_sum",
        "points": 2,
    }
    notebook.cells.insert(3, test)
    (item,) = exercises.lesson_items("01_x", notebook)
    assert (item.title, item.grade_ids, item.estimate_minutes) == (
        "Exercise 1: a sum",
        ("test_sum",),
        10,
    )


def test_every_plot_names_its_axes():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    ax.set_xlabel("minutes")
    ax.set_ylabel("students")
    html = figure_html(fig, "a plot")
    assert 'data-xlabel="minutes"' in html and 'data-ylabel="students"' in html
    assert "data:image/png;base64," in html


def test_make_report_falls_back_to_the_kept_class_demo(tmp_path, capsys):
    from grader import course
    from grader.demo import classroom
    from grader.report import build

    kept = tmp_path / classroom.KEPT_CLASS / "course"
    (course.work(kept)).mkdir(parents=True)
    (course.work(kept) / "outcomes.csv").write_text("student,lesson\n")
    assert build.course_to_report(tmp_path) == kept
    assert "class demo" in capsys.readouterr().out
    course.work(tmp_path).mkdir(parents=True, exist_ok=True)
    (course.work(tmp_path) / "outcomes.csv").write_text("student,lesson\n")
    assert build.course_to_report(tmp_path) == tmp_path, "a course's own grading comes first"


def test_unattempted_answers_and_rows_that_only_name_the_function_match_no_row():
    vague = mistakes.MistakeRow("discounted_sum", "discounted_sum", "any bug")
    specific = mistakes.MistakeRow("discounted_sum", "gamma ** t", "forgets the discount")
    failures = {
        "a": {"test_discounted_sum": "GradingError: discounted_sum([1], 0.5) is not right."},
        "b": {"test_discounted_sum": "NameError: name 'discounted_sum' is not defined"},
    }
    groups = mistakes.group_failures(
        failures, {"test_discounted_sum": ("discounted_sum",)}, [vague, specific]
    )
    assert all(group.rows == () for group in groups)


def test_alike_pairs_are_shown_as_groups():
    from grader.report.page import alike_groups

    pairs = [
        similarity.Pair("01_x", "a", "b", (1.0, 1.0)),
        similarity.Pair("01_x", "b", "c", (0.7, 0.9)),
        similarity.Pair("01_x", "d", "e", (0.8, 0.8)),
    ]
    assert alike_groups(pairs) == [(["a", "b", "c"], 0.7, 1.0), (["d", "e"], 0.8, 0.8)]
