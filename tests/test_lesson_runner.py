"""The machinery lesson tests rely on, proven on the fixture assignment."""

from __future__ import annotations

import pytest
from course_tools import FIXTURE_COURSE
from lesson_runner import CellFailed, Lesson

FIXTURE = FIXTURE_COURSE / "solutions" / "00_fixture" / "00_fixture.py"


@pytest.fixture(scope="module")
def lesson():
    return Lesson.from_path(FIXTURE)


def test_runs_every_cell_once_and_keeps_the_names(lesson):
    namespace = lesson.namespace()
    assert namespace["discounted_sum"]([1.0, 1.0], 0.5) == 1.5
    assert lesson.namespace() is namespace, "the lesson should run once and be reused"
    assert lesson.grade_test_ids == ["test_discounted_sum", "test_greedy_action"]


def test_reference_passes_its_tests(lesson):
    results = lesson.run_cells(lesson.namespace(), lesson.grade_test_ids)
    assert results == {"test_discounted_sum": None, "test_greedy_action": None}


def test_a_mistake_fails_its_own_tests_only(lesson):
    lesson.assert_mistake_caught(
        "discounted_sum",
        old="gamma ** np.arange(len(rewards))",
        new="gamma ** np.arange(1, len(rewards) + 1)",
        failing=["test_discounted_sum"],
        passing=["test_greedy_action"],
        message_contains="gamma ** t",
    )
    assert lesson.namespace()["discounted_sum"]([1.0, 1.0], 0.5) == 1.5, "the mistake leaked"


def test_an_uncaught_mistake_is_reported(lesson):
    with pytest.raises(AssertionError, match="passed although"):
        lesson.assert_mistake_caught(
            "greedy_action",
            old="int(np.argmax(q_values))",
            new="int(np.argmax(q_values)) + 0",
            failing=["test_greedy_action"],
        )


def test_a_mistake_the_visible_lines_catch_is_run_once_for_both_errors(lesson):
    full, visible = lesson.mistake_errors(
        "discounted_sum",
        "gamma ** np.arange(len(rewards))",
        "gamma ** np.arange(1, len(rewards) + 1)",
        "test_discounted_sum",
    )
    assert isinstance(full, AssertionError) and "discounted_sum([1, 1, 1], 0.5)" in str(full)
    assert visible is full, "the lines before the hidden tests failed: one run answers for both"


def test_a_mistake_only_the_hidden_tests_catch_fails_the_cell_not_its_visible_part(lesson):
    full, visible = lesson.mistake_errors(
        "discounted_sum",
        "gamma ** np.arange(len(rewards))",
        "gamma ** (np.arange(len(rewards)) % 3)",  # right for the visible case's 3 rewards only
        "test_discounted_sum",
    )
    assert isinstance(full, AssertionError) and "random rewards" in str(full)
    assert visible is None


def test_a_stale_mistake_is_an_error(lesson):
    with pytest.raises(ValueError, match="stale"):
        lesson.with_mistake(lesson.namespace(), "greedy_action", old="no such text", new="x")


def test_a_failing_cell_names_itself(tmp_path):
    broken = tmp_path / "99_broken.py"
    broken.write_text("# %%\nx = 1\n\n# %%\nraise ValueError('boom')\n")
    with pytest.raises(CellFailed, match="boom"):
        Lesson.from_path(broken).namespace()


def test_a_demo_and_its_bare_pyplot_calls_are_left_out():
    from lesson_runner import split_demo

    source = (
        "import matplotlib.pyplot as plt\n"
        "rows = train(3)\n"
        "size = 4\n"
        "fig = plt.figure(figsize=(size, size))\n"
        "plt.plot(rows, label='run')\n"
        "plt.xlabel('step')\n"
        "plt.legend()\n"
    )
    kept, student = split_demo(source, {"train"}, set())
    assert kept.splitlines() == [
        "import matplotlib.pyplot as plt",
        "size = 4",
        "fig = plt.figure(figsize=(size, size))",
    ]
    assert "rows" in student
