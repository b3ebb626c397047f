"""Lesson 01 (bandits): the solution passes its own tests, typical mistakes are caught,
the reference clears the training threshold on 10 seeds, and the book's numbers hold."""

from __future__ import annotations

import numpy as np
import pytest
from lesson_runner import Lesson

LESSON_ID = "01_bandits"

# Cheap test cells (well under a second each) that must keep passing when a mistake
# is injected into another exercise.
CHEAP = ["test_incremental_update", "test_epsilon_greedy", "test_softmax_probs", "test_ucb_action"]


@pytest.fixture(scope="module")
def lesson() -> Lesson:
    return Lesson.load(LESSON_ID)


@pytest.fixture(scope="module")
def ns(lesson: Lesson) -> dict:
    """Every cell of the solution, test cells with their hidden tests included, runs clean."""
    return lesson.namespace()


def _others(*exclude: str) -> list[str]:
    return [gid for gid in CHEAP if gid not in exclude]


def test_structure(lesson: Lesson) -> None:
    """Points as announced (22 + 3); the generic checks are in test_lesson_structure.py."""
    tests = [c for c in lesson.cells if c.is_grade_test]
    written = [c for c in lesson.cells if c.cell_type == "markdown" and c.nbgrader.get("grade")]
    autograded = sum(c.nbgrader["points"] for c in tests)
    manual = sum(c.nbgrader["points"] for c in written)
    assert (autograded, manual) == (22, 3)
    intro = lesson.cells[0].source
    assert "Points: 25" in intro and "hidden tests" in intro and "Validate" in intro


def test_solution_passes_every_test_cell(lesson: Lesson, ns: dict) -> None:
    failures = lesson.run_cells(ns, ["test_incremental_update", "test_quiz"])
    assert failures == {"test_incremental_update": None, "test_quiz": None}


def test_incremental_mean_equals_batch_mean(ns: dict) -> None:
    """Step size 1/n reproduces the batch mean to rounding error, on long random sequences."""
    rng = np.random.default_rng(0)
    rewards = rng.normal(3.0, 2.0, size=5000)
    estimate = 0.0
    for n, reward in enumerate(rewards, start=1):
        estimate = ns["incremental_update"](estimate, reward, 1.0 / n)
    assert abs(estimate - rewards.mean()) < 1e-10


# --------------------------------------------------------------------------- mistakes


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # the error sign flipped: moves away from the target
        (
            "step_size * (target - estimate)",
            "step_size * (estimate - target)",
            "incremental_update",
        ),
        # forgot the old estimate: returns only the step
        ("return estimate + step_size", "return step_size", "incremental_update"),
    ],
)
def test_mistake_incremental_update(lesson: Lesson, old: str, new: str, message: str) -> None:
    lesson.assert_mistake_caught(
        answer_id="incremental_update",
        old=old,
        new=new,
        failing=["test_incremental_update"],
        passing=_others("test_incremental_update"),
        message_contains=message,
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # np.argmax: ties always go to the first arm
        (
            "greedy = np.argmax(np.where(is_max, rng.random((runs, k)), -1.0), axis=1)",
            "greedy = np.argmax(q, axis=1)",
            "tied",
        ),
        # explores with probability 1 - eps instead of eps
        ("explore = rng.random(runs) < epsilon", "explore = rng.random(runs) > epsilon", "epsilon"),
        # explores only among the non-greedy arms: greedy with probability 1 - eps
        (
            "random_arms = rng.integers(0, k, size=runs)",
            "random_arms = (greedy + rng.integers(1, k, size=runs)) % k",
            "greedy arm",
        ),
    ],
)
def test_mistake_epsilon_greedy(lesson: Lesson, old: str, new: str, message: str) -> None:
    lesson.assert_mistake_caught(
        answer_id="epsilon_greedy",
        old=old,
        new=new,
        failing=["test_epsilon_greedy"],
        passing=_others("test_epsilon_greedy"),
        message_contains=message,
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # no max subtraction: exp(1000) overflows to nan
        ("z = z - z.max(axis=-1, keepdims=True)", "z = z", "1000"),
        # multiplies by the temperature
        ("/ temperature", "* temperature", "temperature"),
        # normalises over the whole array instead of each row
        ("weights.sum(axis=-1, keepdims=True)", "weights.sum()", "(2, 2)"),
    ],
)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the mistake
def test_mistake_softmax_probs(lesson: Lesson, old: str, new: str, message: str) -> None:
    lesson.assert_mistake_caught(
        answer_id="softmax_probs",
        old=old,
        new=new,
        failing=["test_softmax_probs"],
        passing=_others("test_softmax_probs"),
        message_contains=message,
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # "optimal" measured against the agent's own estimates instead of q_star
        (
            "np.mean(actions == bandit.optimal_action)",
            "np.mean(actions == q.argmax(axis=1))",
            "optimal",
        ),
        # the global step counter as the sample-average step size
        (
            "1.0 / n[rows, actions])\n        avg_reward[t] =",
            "1.0 / (t + 1))\n        avg_reward[t] =",
            "Figure 2.2",
        ),
        # optimistic start Q = 5 instead of 0 changes the greedy curve completely
        ("q = np.zeros((runs, k))  # Q(a)", "q = np.full((runs, k), 5.0)  # Q(a)", "Figure 2.2"),
        # a Python loop over runs: one pull per run instead of one per step
        (
            "rewards = bandit.pull(actions)",
            "rewards = np.array([bandit.pull(np.full(runs, a))[i] for i, a in enumerate(actions)])",
            "loop only over the steps",
        ),
    ],
)
def test_mistake_run_testbed(lesson: Lesson, old: str, new: str, message: str) -> None:
    lesson.assert_mistake_caught(
        answer_id="run_testbed",
        old=old,
        new=new,
        failing=["test_run_testbed"],
        passing=_others(),
        message_contains=message,
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # forgot the square root
        ("np.sqrt(np.log(t) / n)", "(np.log(t) / n)", "ucb"),
        # the bonus grows with the count instead of shrinking
        ("np.sqrt(np.log(t) / n)", "np.sqrt(np.log(t) * n)", "ucb"),
    ],
)
def test_mistake_ucb_action(lesson: Lesson, old: str, new: str, message: str) -> None:
    lesson.assert_mistake_caught(
        answer_id="ucb_action",
        old=old,
        new=new,
        failing=["test_ucb_action"],
        passing=_others("test_ucb_action"),
        message_contains=message,
    )


def test_mistake_run_ucb_testbed(lesson: Lesson) -> None:
    # forgot to count the pull: every arm stays "untried" and the step size stays 1
    lesson.assert_mistake_caught(
        answer_id="run_ucb_testbed",
        old=(
            "        n[rows, actions] += 1\n"
            "        q[rows, actions] = incremental_update(q[rows, actions], rewards, "
            "1.0 / n[rows, actions])\n"
            "        avg_reward[t - 1]"
        ),
        new=(
            "        q[rows, actions] = incremental_update(q[rows, actions], rewards, "
            "1.0 / (n[rows, actions] + 1))\n"
            "        avg_reward[t - 1]"
        ),
        failing=["test_run_ucb_testbed"],
        passing=_others(),
        message_contains="optimal",
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # regresses every arm on the reward of the chosen one
        (
            "loss = (q_x[arm] - float(reward)) ** 2",
            "loss = ((q_x - float(reward)) ** 2).mean()",
            "train_contextual_q",
        ),
        # the network never sees the context
        (
            "q_x = model(x_t)",
            "q_x = model(torch.zeros_like(x_t))",
            "train_contextual_q",
        ),
    ],
)
def test_mistake_train_contextual_q(lesson: Lesson, old: str, new: str, message: str) -> None:
    lesson.assert_mistake_caught(
        answer_id="train_contextual_q",
        old=old,
        new=new,
        failing=["test_train_contextual_q"],
        passing=_others(),
        message_contains=message,
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('answer_q1 = "b"', 'answer_q1 = "a"', "answer_q1"),
        ("answer_q2 = 0.91", "answer_q2 = 0.9", "answer_q2"),
        ('answer_q3 = "b"', 'answer_q3 = "a"', "answer_q3"),
        ("answer_q4 = 2", "answer_q4 = 0.01", "answer_q4"),
    ],
)
def test_mistake_quiz(lesson: Lesson, old: str, new: str, message: str) -> None:
    lesson.assert_mistake_caught(
        answer_id="quiz",
        old=old,
        new=new,
        failing=["test_quiz"],
        passing=_others(),
        message_contains=message,
    )


# --------------------------------------------------------------------------- seeds


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10))
def test_contextual_reference_passes_on_10_seeds(ns: dict, seed: int) -> None:
    """The graded criteria of test_train_contextual_q hold for seeds 0..9 (1000 steps)."""
    import gymnasium as gym
    import torch

    args = ns["ContextualArgs"](steps=1000, epsilon=0.1, lr=0.05, seed=seed)
    regret, model = ns["train_contextual_q"](args)
    baseline = ns["run_context_free"](args)
    assert regret.sum() <= 0.5 * baseline.sum(), (seed, regret.sum(), baseline.sum())
    env = gym.make(args.env_id)
    contexts = np.random.default_rng(99).normal(size=(1000, 4)).astype(np.float32)
    best = np.argmax(env.unwrapped.expected_rewards(contexts), axis=1)
    with torch.no_grad():
        device = next(model.parameters()).device
        greedy = model(torch.as_tensor(contexts, device=device)).cpu().numpy().argmax(axis=1)
    assert np.mean(greedy == best) >= 0.8, (seed, np.mean(greedy == best))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_figure_2_2_and_2_4_on_other_seeds(ns: dict, seed: int) -> None:
    """The hidden tests' bands (last 50 steps) hold on other seeds too; UCB beats eps=0.1."""
    bounds = {
        0.1: ((1.29, 1.45), (0.75, 0.85)),
        0.01: ((1.22, 1.40), (0.53, 0.66)),
        0.0: ((0.95, 1.11), (0.30, 0.42)),
    }
    eps_rewards = {}
    for eps, ((r_lo, r_hi), (o_lo, o_hi)) in bounds.items():
        reward, optimal = ns["run_testbed"](eps, seed=seed)
        eps_rewards[eps] = reward
        assert r_lo <= reward[-50:].mean() <= r_hi, (eps, reward[-50:].mean())
        assert o_lo <= optimal[-50:].mean() <= o_hi, (eps, optimal[-50:].mean())
    ucb_reward, _ = ns["run_ucb_testbed"](2.0, seed=seed)
    assert 1.40 <= ucb_reward[300:].mean() <= 1.56
    assert ucb_reward[300:].mean() > eps_rewards[0.1][300:].mean() + 0.04
