"""Lesson 05 (temporal-difference learning): the points as announced and the lesson's claims.

Mistakes and seed sweeps: tests/mistakes/05_td.py (run by test_lesson_mistakes.py).
"""

from __future__ import annotations

import ast

import gymnasium as gym
import numpy as np
import pytest
from lesson_runner import Lesson

LESSON_ID = "05_td"


# --------------------------------------------------------------------------- property tests


def _random_rollout(rng: np.random.Generator, T: int, N: int, p_done: float = 0.25):
    return (
        rng.normal(size=(T, N)),
        rng.normal(size=(T, N)),
        rng.random((T, N)) < p_done,
        rng.normal(size=N),
    )


def _monte_carlo(rewards, dones, gamma, last_value):
    """The return of every step, cut at dones, bootstrapped with last_value at the array end."""
    out = np.zeros_like(rewards)
    future = np.array(last_value, dtype=float)
    for t in reversed(range(len(rewards))):
        future = rewards[t] + gamma * (1.0 - dones[t]) * future
        out[t] = future
    return out


@pytest.mark.parametrize("seed", range(20))
def test_n_step_and_gae_properties(ns: dict, seed: int) -> None:
    """n = 1 is the TD target, n >= T the Monte Carlo return; GAE lam = 0 is the TD error and
    lam = 1 the return minus V; [T, num_envs] equals column by column."""
    rng = np.random.default_rng(seed)
    T, N = int(rng.integers(1, 15)), int(rng.integers(1, 6))
    gamma = float(rng.choice([0.0, 0.5, 0.9, 0.99, 1.0]))
    rewards, values, dones, last = _random_rollout(rng, T, N)
    next_values = np.concatenate([values[1:], last[None]])
    target = ns["td_target"](rewards, next_values, dones, gamma)
    np.testing.assert_allclose(
        ns["n_step_returns"](rewards, values, dones, gamma, 1, last), target, atol=1e-9
    )
    mc = _monte_carlo(rewards, dones, gamma, last)
    for n in (T, T + 1, 3 * T):
        np.testing.assert_allclose(
            ns["n_step_returns"](rewards, values, dones, gamma, n, last), mc, atol=1e-9
        )
    np.testing.assert_allclose(
        ns["gae"](rewards, values, dones, gamma, 0.0, last), target - values, atol=1e-9
    )
    np.testing.assert_allclose(
        ns["gae"](rewards, values, dones, gamma, 1.0, last), mc - values, atol=1e-9
    )
    lam, n = float(rng.random()), int(rng.integers(1, T + 2))
    for fn, args in (
        ("n_step_returns", (gamma, n)),
        ("gae", (gamma, lam)),
        ("fixed_gae", (gamma, lam)),
    ):
        together = ns[fn](rewards, values, dones, *args, last)
        for col in range(N):
            alone = ns[fn](rewards[:, col], values[:, col], dones[:, col], *args, last[col])
            np.testing.assert_allclose(alone, together[:, col], atol=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_no_value_crosses_an_episode_boundary(ns: dict, seed: int) -> None:
    """What follows a done (rewards, values, last_value) never reaches the steps up to it."""
    rng = np.random.default_rng(100 + seed)
    T, N = 10, 3
    rewards, values, dones, last = _random_rollout(rng, T, N, p_done=0.0)
    cut = int(rng.integers(0, T - 1))
    dones[cut] = True
    changed_r, changed_v = rewards.copy(), values.copy()
    changed_r[cut + 1 :] = rng.normal(size=changed_r[cut + 1 :].shape) * 50
    changed_v[cut + 1 :] = rng.normal(size=changed_v[cut + 1 :].shape) * 50
    for fn, args in (
        ("n_step_returns", (0.9, 4)),
        ("n_step_returns", (1.0, T)),
        ("gae", (0.99, 0.95)),
    ):
        before = ns[fn](rewards, values, dones, *args, last)
        after = ns[fn](changed_r, changed_v, dones, *args, last + 99.0)
        np.testing.assert_allclose(before[: cut + 1], after[: cut + 1], atol=1e-12)


def test_buggy_gae_fails_the_exercise(lesson: Lesson, ns: dict) -> None:
    """The given GAE (with its planted bug) fails the debugging exercise's grade cell."""
    scratch = dict(ns)
    scratch["fixed_gae"] = ns["buggy_gae"]
    error = lesson.run_cells(scratch, ["test_fixed_gae"])["test_fixed_gae"]
    assert isinstance(error, AssertionError) and "demo's rollout" in str(error)


def test_buggy_gae_is_right_without_dones(ns: dict) -> None:
    """The planted bug is only in the done mask: without episode ends it equals gae."""
    rng = np.random.default_rng(7)
    rewards, values, _, last = _random_rollout(rng, 12, 3)
    no_dones = np.zeros((12, 3))
    np.testing.assert_allclose(
        ns["buggy_gae"](rewards, values, no_dones, 0.9, 0.8, last),
        ns["gae"](rewards, values, no_dones, 0.9, 0.8, last),
    )


# --------------------------------------------------------------------------- correct alternatives

# The text allows ties between greedy actions to be broken with argmax.
ARGMAX_TIES = {
    "sarsa": (
        "return int(rng.choice(np.flatnonzero(Q[state] == Q[state].max())))",
        "return int(np.argmax(Q[state]))",
    ),
    "q_learning": (
        "action = int(rng.choice(np.flatnonzero(Q[state] == Q[state].max())))",
        "action = int(np.argmax(Q[state]))",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("answer_id", ARGMAX_TIES)
def test_argmax_tie_breaking_passes(lesson: Lesson, ns: dict, answer_id: str) -> None:
    old, new = ARGMAX_TIES[answer_id]
    scratch = lesson.with_mistake(ns, answer_id, old, new)
    grade_id = f"test_{answer_id}"
    assert lesson.run_cells(scratch, [grade_id]) == {grade_id: None}


def test_mc_prediction_in_reverse_order_passes(lesson: Lesson, ns: dict) -> None:
    """Updating the episode's states backwards (with the returns) is allowed: with gamma = 1
    every return of an episode is the same, so the order of the updates does not matter there."""
    scratch = lesson.with_mistake(
        ns,
        "mc_prediction",
        "for s, g in zip(states, reversed(returns), strict=True):",
        "for s, g in zip(reversed(states), returns, strict=True):",
    )
    assert lesson.run_cells(scratch, ["test_mc_prediction"]) == {"test_mc_prediction": None}


# --------------------------------------------------------------------------- the lesson's claims


def test_random_policy_scores_about_22() -> None:
    """The text's 'a random policy gets about 22' on CartPole-v1."""
    envs = gym.make_vec("CartPole-v1", num_envs=200, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    total, alive = np.zeros(200), np.ones(200, dtype=bool)
    while alive.any():
        _, rewards, terminated, truncated, _ = envs.step(rng.integers(0, 2, 200))
        total += rewards * alive
        alive &= ~(terminated | truncated)
    assert 19 <= total.mean() <= 25


@pytest.mark.slow
def test_figure_6_2_td_beats_mc(lesson: Lesson) -> None:
    """The figure and written answer A: after 100 episodes TD(0) at alpha 0.05 and 0.1 is below
    every MC curve; TD ends at about 0.04-0.07, MC at about 0.09-0.11."""
    errors = lesson.namespace_with("random_walk_errors")["random_walk_errors"]
    final = {label: curves[:, -1].mean() for label, curves in errors.items()}
    td = [v for k, v in final.items() if k.startswith("TD")]
    mc = [v for k, v in final.items() if k.startswith("MC")]
    assert max(td[:2]) < min(mc)
    assert all(0.025 <= v <= 0.085 for v in td) and all(0.075 <= v <= 0.125 for v in mc)


@pytest.mark.slow
def test_bias_variance_plot(lesson: Lesson) -> None:
    """One transition: large bias, small variance; the whole episode: no bias, the most variance."""
    scope = lesson.namespace_with("bias_squared", "variance")
    bias, variance = scope["bias_squared"], scope["variance"]
    assert bias[0] > 10 * bias[-1] and bias[-1] < 1e-3
    assert variance[0] < variance[-1] / 2
    assert variance[-1] == pytest.approx(2 / 9, abs=0.02)  # G is 0 or 1, P(1) = 1/3 from B


@pytest.mark.slow
def test_cliff_walking_claims(lesson: Lesson) -> None:
    """Example 6.6: SARSA's online return is higher, about -25 against about -50."""
    runs = lesson.namespace_with("cliff_runs")["cliff_runs"]
    sarsa = np.stack(runs["SARSA"])[:, 300:].mean()  # once learned: episodes 301-500
    q = np.stack(runs["Q-learning"])[:, 300:].mean()
    assert sarsa > q + 15
    assert -30 <= sarsa <= -18 and -60 <= q <= -40


def test_a2c_with_lambda_1_is_lesson_04s_monte_carlo_version(ns: dict) -> None:
    """The text: lesson 04's returns over each segment, bootstrapped at its end, minus V are GAE
    with lambda = 1; the same seed gives the same run with either advantage function."""

    def monte_carlo_advantages(rewards, values, dones, gamma, lam, last_value):
        returns = ns["n_step_returns"](rewards, values, dones, gamma, len(rewards), last_value)
        return returns - values

    args = ns["A2CArgs"](seed=3, lam=1.0, total_steps=2048)
    _, steps_gae, returns_gae = ns["train_a2c"](args)
    _, steps_mc, returns_mc = ns["train_a2c"](args, advantage_fn=monte_carlo_advantages)
    assert len(returns_gae) > 10
    np.testing.assert_array_equal(steps_gae, steps_mc)
    np.testing.assert_allclose(returns_gae, returns_mc)


@pytest.mark.slow
def test_a2c_plot_compares_two_lambdas_on_the_same_seed(lesson: Lesson) -> None:
    """One plot, both curves: lesson 04's settings with lambda 1 and 0.95, each run until solved."""
    runs = lesson.namespace_with("a2c_runs")["a2c_runs"]
    assert len(runs) == 2
    for steps, returns in runs.values():
        assert len(steps) == len(returns) > 20
        assert steps[-1] < 100_000  # the stopping rule was met within the budget
        assert returns[-20:].mean() >= 100  # the rule's first condition (eval_from)


def test_dqn_on_probes_learns_the_expected_values(lesson: Lesson, ns: dict) -> None:
    """The probe demo before Exercise 9: the reference dqn_loss learns Probe 1's and Probe 3's
    values; without the terminal mask Probe 1 comes out near 1 / (1 - gamma) = 3.3, as the prose
    says; without the discount in the target Probe 1 stays right and Probe 3 goes wrong."""
    for number in (1, 3):
        learned, expected = ns["dqn_on_probe"](f"rlhelpers/Probe{number}-v0")
        assert all(abs(learned[o] - expected[o]) < 0.05 for o in expected), (learned, expected)

    def with_mistake(old: str, new: str) -> dict:
        """The namespace with dqn_loss edited, and dqn_on_probe defined again to call it."""
        scratch = lesson.with_mistake(ns, "dqn_loss", old, new)
        source = next(c.source for c in lesson.code_cells if "def dqn_on_probe" in c.source)
        tree = ast.parse(source)
        definition = [n for n in tree.body if getattr(n, "name", None) == "dqn_on_probe"]
        exec(compile(ast.Module(definition, []), "<dqn_on_probe>", "exec"), scratch)
        return scratch

    no_mask = with_mistake("gamma * (1.0 - dones) *", "gamma *")
    learned, _ = no_mask["dqn_on_probe"]("rlhelpers/Probe1-v0")
    assert abs(learned[0.0] - 1 / (1 - 0.7)) < 0.2, learned
    reads_obs = with_mistake("target_net(next_obs)", "target_net(obs)")
    learned, _ = reads_obs["dqn_on_probe"]("rlhelpers/Probe1-v0")
    assert abs(learned[0.0] - 1.0) < 0.05, learned
    learned, expected = reads_obs["dqn_on_probe"]("rlhelpers/Probe3-v0")
    assert abs(learned[0.0] - expected[0.0]) > 0.3, learned
