"""Lesson 02 (MDPs and the Bellman equation): mistakes are caught, the reference is robust.

Mistakes and seed sweeps: tests/mistakes/02_mdps.py (run by test_lesson_mistakes.py).
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
from lesson_runner import Lesson

import rlhelpers  # noqa: F401  (registers the environments)
from rlhelpers.envs.tabular import example_3_5, example_4_1

LESSON_ID = "02_mdps"


@pytest.fixture(scope="module")
def lesson() -> Lesson:
    return Lesson.load(LESSON_ID)


@pytest.fixture(scope="module")
def ns(lesson: Lesson) -> dict:
    return lesson.namespace()


# --------------------------------------------------------------------------- structure


def test_structure_points_and_exercises(lesson: Lesson) -> None:
    """The points the introduction states; the generic checks are in test_lesson_structure.py."""
    graded = [c for c in lesson.code_cells if c.is_grade_test]
    written = [c for c in lesson.cells if c.is_written_answer]
    auto = sum(c.nbgrader["points"] for c in graded)
    manual = sum(c.nbgrader["points"] for c in written)
    assert (auto, manual) == (27, 6)
    intro = lesson.cells[0].source
    assert "33 in all" in intro and "27 autograded" in intro
    # every exercise heading states its points
    headings = [
        line
        for c in lesson.cells
        for line in c.source.splitlines()
        if line.startswith("## Exercise")
    ]
    assert len(headings) == 8
    assert all(re.search(r"\(\d+( \+ \d+)? points?\)$", h) for h in headings), headings


def test_release_stubs_score_zero(lesson: Lesson) -> None:
    """With every solution replaced by nbgrader's stub, every grade cell fails."""
    pattern = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION\n?", re.M | re.S)
    namespace: dict = {"__name__": "__main__"}
    results = {}
    for cell in lesson.code_cells:
        source = pattern.sub(lambda m: f"{m.group(1)}raise NotImplementedError()\n", cell.source)
        error = lesson._try(cell.with_source(source), namespace)
        if cell.is_grade_test:
            results[cell.grade_id] = error
    assert results and all(error is not None for error in results.values()), [
        gid for gid, error in results.items() if error is None
    ]


# --------------------------------------------------------------------------- mistakes
# (the table of typical mistakes: tests/mistakes/02_mdps.py)


def test_quiz_bad_format_caught_by_visible_part(lesson: Lesson) -> None:
    visible_only = lesson.cell("test_quiz").source.split("### BEGIN HIDDEN TESTS")[0]
    scratch = lesson.with_mistake(
        lesson.namespace(), "quiz", 'q_slippery = "b"', 'q_slippery = "stochastic"'
    )
    with pytest.raises(AssertionError, match="q_slippery"):
        exec(compile(visible_only, "<visible test_quiz>", "exec"), copy.copy(scratch))


# --------------------------------------------------------------------------- reference numbers


def test_reference_numbers(ns: dict) -> None:
    """Sutton & Barto's figures and the GridWorld facts, straight from the lesson's functions."""
    mdp = example_4_1()
    v = ns["policy_evaluation"](mdp.P, mdp.R, np.full(mdp.R.shape, 0.25), 1.0)
    np.testing.assert_allclose(v[:4], [0, -14, -20, -22], atol=1e-3)
    mdp = example_3_5()
    v = ns["policy_evaluation"](mdp.P, mdp.R, np.full(mdp.R.shape, 0.25), 0.9)
    np.testing.assert_allclose(np.round(v[:5], 1), [3.3, 8.8, 4.4, 5.3, 1.5])
    v_star, _ = ns["value_iteration"](mdp.P, mdp.R, 0.9)
    v_pi, _ = ns["policy_iteration"](mdp.P, mdp.R, 0.9)
    np.testing.assert_allclose(np.round(v_star[:5], 1), [22.0, 24.4, 22.0, 19.4, 17.5])
    np.testing.assert_allclose(v_pi, v_star, atol=1e-6)
    assert ns["steps_to_goal_gamma099"] == 6
    np.testing.assert_allclose(ns["Q_start_gamma0"], [-0.01] * 4)


def test_policy_iteration_random_mdps_terminates(ns: dict) -> None:
    """No flip-flopping on ties: MDPs with many exactly tied actions still finish."""
    rng = np.random.default_rng(0)
    for _ in range(5):
        P = rng.dirichlet(np.ones(6), size=(6, 2))
        P = np.repeat(P, 2, axis=1)  # every action has an exact twin
        R = np.repeat(rng.normal(size=(6, 2)), 2, axis=1)
        v_pi, policy = ns["policy_iteration"](P, R, 0.9)
        v_star, _ = ns["value_iteration"](P, R, 0.9)
        np.testing.assert_allclose(v_pi, v_star, atol=1e-6)
