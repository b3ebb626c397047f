"""Lesson 02 (MDPs and the Bellman equation): mistakes are caught, the reference is robust.

The lesson is executed once per session by ``lesson_runner``; every grade cell
(hidden tests included) passing in that run is the proof that the reference
solution gets full marks. The tests below inject typical student mistakes into
one answer cell at a time and check that only that exercise's tests fail, with a
message that points at the mistake.
"""

from __future__ import annotations

import copy
import re

import gymnasium as gym
import numpy as np
import pytest
from lesson_runner import Cell, Lesson

import rlhelpers  # noqa: F401  (registers the environments)
from rlhelpers.envs.tabular import example_3_5, example_4_1

LESSON_ID = "02_mdps"

# Cheap grade cells (a few milliseconds each) that must keep passing when an
# unrelated answer is broken.
CHEAP = ["test_q_from_v", "test_greedy_path", "test_quiz"]


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
    written = [c for c in lesson.cells if c.cell_type == "markdown" and c.nbgrader.get("grade")]
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
        stub = Cell(cell.index, cell.cell_type, source, cell.nbgrader)
        error = lesson._try(stub, namespace)
        if cell.is_grade_test:
            results[cell.grade_id] = error
    assert results and all(error is not None for error in results.values()), [
        gid for gid, error in results.items() if error is None
    ]


# --------------------------------------------------------------------------- mistakes


def test_run_episode_ignores_truncated(lesson: Lesson) -> None:
    lesson.assert_mistake_caught(
        answer_id="run_episode",
        old="done = terminated or truncated",
        new="done = terminated",
        failing=["test_run_episode"],
        passing=CHEAP + ["test_policy_evaluation"],
        message_contains="truncated",
    )


def test_run_episode_keeps_last_reward_only(lesson: Lesson) -> None:
    lesson.assert_mistake_caught(
        answer_id="run_episode",
        old="total_reward += float(reward)",
        new="total_reward = float(reward)",
        failing=["test_run_episode"],
        passing=CHEAP,
        message_contains="total reward",
    )


def test_policy_evaluation_forgets_gamma(lesson: Lesson) -> None:
    lesson.assert_mistake_caught(
        answer_id="policy_evaluation",
        old="V_new = r_pi + gamma * P_pi @ V",
        new="V_new = r_pi + P_pi @ V",
        failing=["test_policy_evaluation"],
        passing=CHEAP,
        message_contains="gamma",
    )


def test_policy_evaluation_ignores_policy_in_transitions(lesson: Lesson) -> None:
    lesson.assert_mistake_caught(
        answer_id="policy_evaluation",
        old='P_pi = np.einsum("sa,sat->st", policy, P)',
        new="P_pi = P.mean(axis=1)",
        failing=["test_policy_evaluation"],
        passing=CHEAP,
        message_contains="always advance",
    )


def test_q_from_v_uses_current_state_value(lesson: Lesson) -> None:
    lesson.assert_mistake_caught(
        answer_id="q_from_v",
        old='return R + gamma * np.einsum("sat,t->sa", P, V)',
        new="return R + gamma * V[:, None]",
        failing=["test_q_from_v"],
        passing=["test_run_episode", "test_policy_evaluation", "test_greedy_path", "test_quiz"],
        message_contains="next state",
    )


def test_value_iteration_averages_instead_of_max(lesson: Lesson) -> None:
    lesson.assert_mistake_caught(
        answer_id="value_iteration",
        old="V_new = q_from_v(P, R, V, gamma).max(axis=1)",
        new="V_new = q_from_v(P, R, V, gamma).mean(axis=1)",
        failing=["test_value_iteration"],
        passing=CHEAP + ["test_policy_evaluation", "test_policy_iteration"],
        message_contains="max",
    )


def test_value_iteration_argmin_policy(lesson: Lesson) -> None:
    lesson.assert_mistake_caught(
        answer_id="value_iteration",
        old=".argmax(axis=1)",
        new=".argmin(axis=1)",
        failing=["test_value_iteration"],
        passing=CHEAP + ["test_policy_iteration"],
        message_contains="greedy policy",
    )


def test_policy_iteration_stops_after_one_improvement(lesson: Lesson) -> None:
    lesson.assert_mistake_caught(
        answer_id="policy_iteration",
        old="policy, actions = new_policy, new_actions",
        new="return V, new_policy",
        failing=["test_policy_iteration"],
        passing=CHEAP + ["test_value_iteration"],
        message_contains="until the policy no longer changes",
    )


def test_greedy_path_off_by_one(lesson: Lesson) -> None:
    lesson.assert_mistake_caught(
        answer_id="greedy_path",
        old="while len(path) - 1 < max_steps",
        new="while len(path) < max_steps",
        failing=["test_greedy_path"],
        passing=["test_q_from_v", "test_quiz", "test_value_iteration"],
        message_contains="max_steps",
    )


def test_greedy_path_walks_past_terminal(lesson: Lesson) -> None:
    lesson.assert_mistake_caught(
        answer_id="greedy_path",
        old=" and path[-1] not in terminal",
        new="",
        failing=["test_greedy_path"],
        passing=["test_q_from_v", "test_quiz"],
        message_contains="terminal state",
    )


def test_gamma_experiment_counts_states(lesson: Lesson) -> None:
    lesson.assert_mistake_caught(
        answer_id="gamma_experiment",
        old="steps_to_goal_gamma099 = len(path_gamma099) - 1",
        new="steps_to_goal_gamma099 = len(path_gamma099)",
        failing=["test_gamma_experiment"],
        passing=CHEAP,
        message_contains="count moves",
    )


def test_gamma_experiment_wrong_gamma(lesson: Lesson) -> None:
    lesson.assert_mistake_caught(
        answer_id="gamma_experiment",
        old="Q_start_gamma0 = q_from_v(P_grid, R_grid, V_gamma0, 0.0)[START]",
        new="Q_start_gamma0 = q_from_v(P_grid, R_grid, V_gamma099, 0.99)[START]",
        failing=["test_gamma_experiment"],
        passing=CHEAP,
        message_contains="gamma = 0",
    )


def test_mc_returns_without_discount(lesson: Lesson) -> None:
    lesson.assert_mistake_caught(
        answer_id="mc_returns",
        old="discount *= gamma",
        new="discount *= 1.0",
        failing=["test_mc_returns"],
        passing=CHEAP,
        message_contains="gamma",
    )


def test_mc_returns_same_seed_for_agent_and_env(lesson: Lesson) -> None:
    """The correlated-streams trap: the visible tests pass, the hidden CI check fails."""
    lesson.assert_mistake_caught(
        answer_id="mc_returns",
        old="np.random.default_rng(seed + 1)",
        new="np.random.default_rng(seed)",
        failing=["test_mc_returns"],
        passing=CHEAP,
        message_contains="4 standard errors",
    )


def test_quiz_wrong_answers(lesson: Lesson) -> None:
    lesson.assert_mistake_caught(
        answer_id="quiz",
        old='q_llm_road = "b"',
        new='q_llm_road = "a"',
        failing=["test_quiz"],
        passing=["test_q_from_v", "test_greedy_path"],
        message_contains="q_llm_road",
    )
    lesson.assert_mistake_caught(
        answer_id="quiz",
        old="q_atari_digits = 16993",
        new="q_atari_digits = 16992",
        failing=["test_quiz"],
        message_contains="log10",
    )


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


# --------------------------------------------------------------------------- seed sweeps


def _mc_setup():
    """The graded Monte Carlo setup of test_mc_returns: slip 0.2, epsilon 0.3, gamma 0.99."""
    env = gym.make("rlhelpers/GridWorld-v0", slip=0.2)
    P, R = env.unwrapped.P, env.unwrapped.R
    v = np.zeros(16)
    for _ in range(3000):
        v = (R + 0.99 * P @ v).max(axis=1)
    policy = 0.7 * np.eye(4)[(R + 0.99 * P @ v).argmax(axis=1)] + 0.3 / 4
    P_pi = np.einsum("sa,sat->st", policy, P)
    v_pi = np.linalg.solve(np.eye(16) - 0.99 * P_pi, (policy * R).sum(axis=1))
    return env, policy, float(v_pi[0])


@pytest.mark.slow
def test_mc_estimate_within_4_se_on_10_seeds(ns: dict) -> None:
    """The reference passes the graded confidence-interval check (2000 episodes) on seeds 0..9."""
    env, policy, v_dp = _mc_setup()
    z_scores = []
    for seed in range(10):
        returns = ns["mc_returns"](env, policy, 2000, 0.99, seed=seed)
        se = returns.std(ddof=1) / np.sqrt(len(returns))
        z_scores.append((returns.mean() - v_dp) / se)
    assert np.all(np.abs(z_scores) <= 4.0), z_scores


@pytest.mark.slow
def test_random_cartpole_averages_about_22_steps(ns: dict) -> None:
    """The hidden run_episode check's band (19 to 26 steps) holds for other policy seeds too."""
    env = gym.make("CartPole-v1")
    for policy_seed in range(3):
        rng = np.random.default_rng(policy_seed)
        lengths = [
            ns["run_episode"](env, lambda obs, rng=rng: int(rng.integers(2)), seed=s)[1]
            for s in range(300)
        ]
        assert 19.0 <= np.mean(lengths) <= 26.0, np.mean(lengths)
