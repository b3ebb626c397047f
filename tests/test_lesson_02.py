"""Lesson 02 (MDPs and the Bellman equation): mistakes are caught, the reference is robust.

Mistakes and seed sweeps: tests/mistakes/02_mdps.py (run by test_lesson_mistakes.py).
"""

from __future__ import annotations

import contextlib
import copy
import io
import re

import numpy as np
import pytest
from lesson_runner import Lesson, cell_result, visible_part

import rlhelpers  # noqa: F401  (registers the environments)
from rlhelpers.envs.tabular import example_3_5, example_4_1

LESSON_ID = "02_mdps"


# --------------------------------------------------------------------------- structure


def test_notation_box_follows_the_introduction(lesson: Lesson) -> None:
    assert lesson.cells[1].cell_type == "markdown"
    assert lesson.cells[1].source.startswith("> **Notation.**")


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


def run_like_nbgrader(source: str, namespace: dict) -> tuple[object, str]:
    """Run a grade cell; (the value of its last expression, what it printed), as nbgrader
    sees them: a number as the cell's result is its score."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        value = cell_result(source, namespace)
    return value, printed.getvalue()


def test_quiz_bad_format_caught_by_visible_part(lesson: Lesson) -> None:
    scratch = lesson.with_mistake(
        lesson.namespace(), "quiz", 'answer_q1 = "b"', 'answer_q1 = "truncated"'
    )
    with pytest.raises(AssertionError, match="answer_q1"):
        run_like_nbgrader(visible_part(lesson.cell("test_quiz").source), copy.copy(scratch))


def test_quiz_reference_scores_3_and_validate_gives_no_number(lesson: Lesson) -> None:
    score, printed = run_like_nbgrader(
        lesson.cell("test_quiz").source, copy.copy(lesson.namespace())
    )
    assert score == 3.0, printed
    assert printed.count(": right.") == 6 and "not right" not in printed, printed
    # in the student's copy (no hidden part) the cell ends with None: Validate checks the form only
    score, printed = run_like_nbgrader(
        visible_part(lesson.cell("test_quiz").source), copy.copy(lesson.namespace())
    )
    assert score is None and printed.startswith("quiz: 6 visible checks passed; hidden tests")


QUIZ_WRONG = [
    ('answer_q1 = "b"', 'answer_q1 = "a"'),
    ("answer_q2 = 0.9", "answer_q2 = 0.85"),  # the intended move's probability, not the corner's
    # the question that replaced the digit count of 256^7056 (the cost of a sweep)
    ('answer_q3 = "b"', 'answer_q3 = "a"'),
    ('answer_q3 = "b"', 'answer_q3 = "c"'),
    ('answer_q4 = "c"', 'answer_q4 = "a"'),
    ("answer_q5 = 0.89", "answer_q5 = 0.801"),  # the +1 weighted gamma^2: the off-by-one
    ("answer_q5 = 0.89", "answer_q5 = 0.9"),  # the step cost forgotten
    ('answer_q6 = "b"', 'answer_q6 = "a"'),
]


@pytest.mark.parametrize(("old", "new"), QUIZ_WRONG, ids=[new for _, new in QUIZ_WRONG])
def test_quiz_wrong_answer_costs_half_a_point_and_is_not_explained(lesson, old, new) -> None:
    scratch = lesson.with_mistake(lesson.namespace(), "quiz", old, new)
    score, printed = run_like_nbgrader(lesson.cell("test_quiz").source, copy.copy(scratch))
    name = new.split(" = ")[0]
    assert score == 2.5, printed
    assert f"{name}: not right." in printed, printed
    # nothing about the wrong question but "not right": its explanation is not given away
    assert [line for line in printed.splitlines() if name in line] == [
        f"{name}: not right.",
        f"5 of 6 parts right; not right: {name}",
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('answer_q1 = "b"', 'answer_q1 = " B "'),
        ("answer_q2 = 0.9", "answer_q2 = 9 / 10"),
        ("answer_q5 = 0.89", "answer_q5 = np.float64(0.891)"),
    ],
)
def test_quiz_accepts_other_spellings_of_a_right_answer(lesson, old, new) -> None:
    scratch = lesson.with_mistake(lesson.namespace(), "quiz", old, new)
    score, printed = run_like_nbgrader(lesson.cell("test_quiz").source, copy.copy(scratch))
    assert score == 3.0, printed


def test_quiz_answers_follow_from_the_lesson(ns: dict) -> None:
    """The numbers behind the quiz: P_slip[3, right, 3], V*(10), and the sweep's cost."""
    import gymnasium as gym

    P = gym.make("rlhelpers/GridWorld-v0", slip=0.2).unwrapped.P
    assert P[3, 1, 3] == pytest.approx(0.9)
    grid = gym.make("rlhelpers/GridWorld-v0").unwrapped
    v_star, _ = ns["value_iteration"](grid.P, grid.R, 0.9)
    assert v_star[11] == pytest.approx(1.0) and v_star[10] == pytest.approx(0.89)
    n = 7
    assert ns["fixed_gridworld_model"](size=n)[0].size == 4 * n**4


# --------------------------------------------------------------------------- Monte Carlo seeding


def test_mc_seeding_trap_fails_the_visible_part(lesson: Lesson) -> None:
    """Seeding the agent with the environment's seed is caught by Validate, not only by the
    hidden 2000-episode check."""
    scratch = lesson.with_mistake(
        lesson.namespace(),
        "mc_returns",
        "np.random.default_rng(seed + 1)",
        "np.random.default_rng(seed)",
    )
    with pytest.raises(AssertionError, match="4 standard errors") as caught:
        run_like_nbgrader(visible_part(lesson.cell("test_mc_returns").source), copy.copy(scratch))
    assert "200 episodes" in str(caught.value)


@pytest.mark.slow
def test_mc_seeding_trap_biases_upwards_on_every_seed(ns: dict) -> None:
    """The prose: with the same seed the estimate comes out too high, far outside the band
    (200 episodes, seeds 0 to 9, so the visible check catches it whatever the seed)."""
    import gymnasium as gym

    scratch = copy.copy(ns)
    lesson = Lesson.load(LESSON_ID)
    scratch = lesson.with_mistake(
        scratch, "mc_returns", "np.random.default_rng(seed + 1)", "np.random.default_rng(seed)"
    )
    env = gym.make("rlhelpers/GridWorld-v0", slip=0.2)
    P, R = env.unwrapped.P, env.unwrapped.R
    _, greedy = ns["value_iteration"](P, R, 0.99)
    policy = 0.7 * greedy + 0.3 / 4
    v = ns["policy_evaluation"](P, R, policy, 0.99)[0]
    for seed in range(10):
        G = scratch["mc_returns"](env, policy, 200, 0.99, seed=seed)
        se = G.std(ddof=1) / np.sqrt(len(G))
        assert G.mean() > v + 6 * se, (seed, G.mean(), v, se)


def test_mc_other_valid_seeding_passes(lesson: Lesson) -> None:
    """An agent stream that is independent of the environment's in another way also passes."""
    scratch = lesson.with_mistake(
        lesson.namespace(),
        "mc_returns",
        "np.random.default_rng(seed + 1)",
        "np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])",
    )
    assert lesson.run_cells(scratch, ["test_mc_returns"]) == {"test_mc_returns": None}


# --------------------------------------------------------------------------- debugging exercise


def test_given_model_fails_the_grade_cell_and_has_one_bug(lesson: Lesson, ns: dict) -> None:
    """The given gridworld_model fails test_fixed_gridworld_model (Validate catches it); it
    differs from the fixed model in the goal's rows only; its rows are distributions."""
    scratch = copy.copy(ns)
    scratch["fixed_gridworld_model"] = ns["gridworld_model"]
    with pytest.raises(AssertionError, match="absorbing"):
        run_like_nbgrader(visible_part(lesson.cell("test_fixed_gridworld_model").source), scratch)
    for size, slip in [(2, 0.0), (4, 0.2), (5, 0.7)]:
        P_bug, R_bug = ns["gridworld_model"](size=size, slip=slip)
        P_fix, R_fix = ns["fixed_gridworld_model"](size=size, slip=slip)
        np.testing.assert_allclose(P_bug.sum(axis=2), 1.0)
        goal = size * size - 1
        np.testing.assert_array_equal(P_bug[:goal], P_fix[:goal])
        np.testing.assert_array_equal(R_bug[:goal], R_fix[:goal])
        assert not np.array_equal(P_bug[goal], P_fix[goal])


def test_debugging_demo_shows_an_impossible_value(lesson: Lesson) -> None:
    """The demo's symptom: the buggy model gives the goal a value no return can have (> 1)."""
    scratch = lesson.namespace_with("V_model", "v_start_by_hand")
    assert scratch["V_model"][15] > 1.0 and scratch["V_model"][0] > 5 * scratch["v_start_by_hand"]
    assert scratch["v_start_by_hand"] == pytest.approx(0.5495, abs=1e-4)


def test_vectorised_fixed_model_passes(lesson: Lesson) -> None:
    """Another correct fix: build the model without loops and make the goal absorbing."""
    vectorised = """
def fixed_gridworld_model(size=4, slip=0.0, step_reward=-0.01, goal_reward=1.0):
    S = size * size
    rows, cols = np.divmod(np.arange(S), size)
    moves = np.array([(-1, 0), (0, 1), (1, 0), (0, -1)])
    new_rows = np.clip(rows[:, None] + moves[None, :, 0], 0, size - 1)
    new_cols = np.clip(cols[:, None] + moves[None, :, 1], 0, size - 1)
    intended = np.eye(S)[new_rows * size + new_cols]
    P = (1 - slip) * intended + slip * intended.mean(axis=1, keepdims=True)
    P[S - 1] = np.eye(S)[S - 1]
    rewards = np.where(np.arange(S) == S - 1, goal_reward, step_reward)
    R = P @ rewards
    R[S - 1] = 0.0
    return P, R
"""
    scratch = copy.copy(lesson.namespace())
    exec(vectorised, scratch)
    assert lesson.run_cells(scratch, ["test_fixed_gridworld_model"]) == {
        "test_fixed_gridworld_model": None
    }


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
