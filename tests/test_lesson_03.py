"""Lesson 03 (REINFORCE): the points as announced and the lesson's claims.

Mistakes and seed sweeps: tests/mistakes/03_reinforce.py (run by test_lesson_mistakes.py).
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import torch
from lesson_runner import Lesson

LESSON_ID = "03_reinforce"


def test_announced_time_adds_up(lesson: Lesson) -> None:
    """The introduction's '3 hours' is the sum of the exercise headings' minutes."""
    headings = [
        c.source.splitlines()[0] for c in lesson.cells if c.source.startswith("## Exercise")
    ]
    minutes = sum(int(re.search(r"about (\d+) min", h).group(1)) for h in headings)
    assert minutes == 180
    assert "headings add up to 3 hours" in lesson.cells[0].source


# --------------------------------------------------------------------------- the lesson's claims


def test_reinforce_loss_gradient_is_the_score_function_estimate(ns: dict) -> None:
    """Autograd through reinforce_loss (no normalisation) = minus the mean score-function row."""
    gen = torch.Generator().manual_seed(0)
    theta = torch.randn(5, generator=gen, dtype=torch.float64)
    actions = torch.randint(0, 5, (300,), generator=gen)
    rewards = torch.randn(300, generator=gen, dtype=torch.float64)
    t = theta.clone().requires_grad_(True)
    log_probs = torch.log_softmax(t, -1)[actions]
    ns["reinforce_loss"](log_probs, rewards, normalize=False).backward()
    rows = ns["score_function_gradients"](theta, actions, rewards)
    torch.testing.assert_close(-t.grad, rows.mean(0))


def test_collect_episodes_masks(ns: dict) -> None:
    """CartPole returns equal the episode lengths given by the mask; padding has no reward."""
    import gymnasium as gym

    envs = gym.make_vec("CartPole-v1", num_envs=6, vectorization_mode="vector_entry_point")
    batch = ns["collect_episodes"](envs, ns["make_policy"](4, 2), max_steps=500, seed=3)
    lengths = batch.mask.sum(0)
    assert torch.equal(batch.rewards.sum(0), lengths.float())
    assert torch.equal(batch.dones.sum(0), torch.ones(6, dtype=torch.long))
    last = lengths - 1  # the done flag sits on the last step of each episode
    assert bool(batch.dones[last, torch.arange(6)].all())
    assert not bool(batch.rewards[~batch.mask].any())


@pytest.mark.slow
def test_pick_action_experiments(lesson: Lesson) -> None:
    """The numbers the written answers refer to: ~600 episodes to 90% at lr 1e-2, ~60x more at 1e-4,
    and wrong_reward 0.0 learns about as fast as -0.1."""
    ns = lesson.namespace_with("runs_target_2", "runs_zero", "runs_slow")
    fast = [e for e in ns["episodes_to_reach"](ns["runs_target_2"]) if e is not None]
    zero = [e for e in ns["episodes_to_reach"](ns["runs_zero"]) if e is not None]
    (slow,) = ns["episodes_to_reach"](ns["runs_slow"])
    assert len(fast) == len(zero) == ns["N_SEEDS"]
    assert 400 <= np.mean(fast) <= 900
    assert slow is not None and 20 * np.mean(fast) <= slow <= 100 * np.mean(fast)
    assert abs(np.mean(zero) - np.mean(fast)) <= 0.2 * np.mean(fast)


# --------------------------------------------------------------------------- exercise 1: float32


# Correct ways to multiply float32 probabilities other than torch.prod: a loop stops at a
# subnormal for 0.9 (5.6e-45), but every float32 product of 1000 factors 0.5 is exactly 0.
FLOAT32_PRODUCTS = {
    "python loop": """prob = torch.ones(token_probs.shape[:-1])
    for k in range(token_probs.shape[-1]):
        prob = prob * token_probs[..., k]""",
    "np.prod": "prob = torch.as_tensor(np.prod(token_probs.numpy(), axis=-1))",
    "cumprod": "prob = torch.cumprod(token_probs, dim=-1)[..., -1]",
}


@pytest.mark.parametrize("name", FLOAT32_PRODUCTS)
def test_every_float32_product_passes(lesson: Lesson, ns: dict, name: str) -> None:
    """The grade cell accepts every way of multiplying in float32 that the text allows."""
    scratch = lesson.with_mistake(
        ns,
        "sequence_prob_and_log_prob",
        "prob = torch.prod(token_probs, dim=-1)",
        FLOAT32_PRODUCTS[name],
    )
    assert lesson.run_cells(scratch, ["test_sequence_prob_and_log_prob"]) == {
        "test_sequence_prob_and_log_prob": None
    }


def test_float32_claims() -> None:
    """The prose: 0.9**1000 in float32 is 0 by torch.prod but 4 * 2**-149 by a loop; 0.5**1000
    is 0 whatever the order."""
    probs = torch.full((1000,), 0.9)
    assert torch.prod(probs).item() == 0.0
    loop = np.float32(1.0)
    for p in probs.numpy():
        loop = loop * p
    assert loop == np.float32(4 * 2.0**-149)
    halves = np.full(1000, 0.5, dtype=np.float32)
    loop = np.float32(1.0)
    for p in halves:
        loop = loop * p
    assert loop == 0.0 and np.prod(halves) == 0.0 and torch.prod(torch.from_numpy(halves)) == 0
    assert 0.5**1000 > 0.0  # float64 does not underflow yet: the float64 mistake fails


# --------------------------------------------------------------------------- exercise 4: the bias


def _normalised_expectations(pi: np.ndarray, mu: np.ndarray, batch: int) -> dict[str, np.ndarray]:
    """Exact expected gradient estimates of B one-step episodes of a bandit (by enumeration)."""
    total = {
        "mean": np.zeros(len(pi)),
        "std": np.zeros(len(pi)),
        "leave-one-out": np.zeros(len(pi)),
    }
    for actions in itertools.product(range(len(pi)), repeat=batch):
        prob = np.prod(pi[list(actions)])
        rewards = mu[list(actions)]
        scores = np.eye(len(pi))[list(actions)] - pi  # grad log pi(A_i), one row per episode
        centred = rewards - rewards.mean()
        baselines = {
            "mean": centred,
            "std": centred / (rewards.std(ddof=1) + 1e-8),
            "leave-one-out": rewards - (rewards.sum() - rewards) / (batch - 1),
        }
        for name, weights in baselines.items():
            total[name] += prob * (weights[:, None] * scores).mean(0)
    return total


def test_normalisation_bias_is_of_order_one_over_b() -> None:
    """Exercise 4's prose: the batch mean scales the expected gradient by 1 - 1/B, leave-one-out is
    unbiased, and the std division adds a bias of order 1/B that is not a pure rescaling."""
    pi, mu = np.array([0.5, 0.3, 0.2]), np.array([1.0, 0.0, 2.0])
    exact = pi * (mu - pi @ mu)
    sigma = np.sqrt(pi @ (mu - pi @ mu) ** 2)
    errors = []
    for batch in (2, 4, 8):
        got = _normalised_expectations(pi, mu, batch)
        np.testing.assert_allclose(got["mean"], (1 - 1 / batch) * exact, atol=1e-12)
        np.testing.assert_allclose(got["leave-one-out"], exact, atol=1e-12)
        ratios = got["std"] / (exact / sigma)
        assert ratios.max() - ratios.min() > 0.05, "the std bias is not a pure rescaling"
        errors.append(np.abs(ratios - 1).max())
    assert errors[0] > errors[1] > errors[2]
    assert max(e * b for e, b in zip(errors, (2, 4, 8), strict=True)) < 2.0


# --------------------------------------------------------------------------- exercise 6: debugging


def test_buggy_rollout_loss_fails_the_exercise(lesson: Lesson, ns: dict) -> None:
    """The given function (with its planted bug) fails the debugging exercise's grade cell."""
    scratch = dict(ns)
    scratch["fixed_rollout_loss"] = ns["buggy_rollout_loss"]
    error = lesson.run_cells(scratch, ["test_fixed_rollout_loss"])["test_fixed_rollout_loss"]
    assert isinstance(error, AssertionError) and "episode A" in str(error)


def test_done_masks_matter_in_the_debugging_rollouts(ns: dict) -> None:
    """In the demo's rollout the dones change the returns of masked steps."""
    rewards = torch.tensor([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    dones = torch.tensor(
        [[False, False], [True, False], [False, False], [False, True], [False, False]]
    )
    mask = torch.tensor([[True, True], [True, True], [False, True], [False, True], [False, False]])
    with_dones = ns["discounted_returns"](rewards, 0.5, dones)[mask]
    without = ns["discounted_returns"](rewards, 0.5)[mask]
    assert not torch.allclose(with_dones, without)


def test_dones_change_nothing_in_collect_episodes(ns: dict) -> None:
    """The prose of 'Collecting a batch': one episode per column and zero padding rewards, so the
    returns of the masked steps are the same with and without the dones."""
    import gymnasium as gym

    envs = gym.make_vec("rlhelpers/GridWorld-v0", num_envs=5, vectorization_mode="sync")
    batch = ns["collect_episodes"](envs, torch.nn.Embedding(16, 4), max_steps=100, seed=1)
    with_dones = ns["discounted_returns"](batch.rewards, 0.99, batch.dones)[batch.mask]
    without = ns["discounted_returns"](batch.rewards, 0.99)[batch.mask]
    torch.testing.assert_close(with_dones, without)


# --------------------------------------------------------------------------- exercise 10: quiz


def test_quiz_gives_partial_credit(lesson: Lesson, ns: dict, capsys) -> None:
    """Each right answer is worth half a point; a wrong one's explanation is never printed."""
    assert lesson.quiz_score(ns) == 2.0
    capsys.readouterr()
    assert lesson.quiz_score(ns, "answer_q1 = 1075", "answer_q1 = 1074") == 1.5
    out = capsys.readouterr().out
    assert "answer_q1: not right." in out and "2**-1074" not in out
    assert "answer_q2: right." in out
    wrong = 'answer_q2 = "b"\nanswer_q3 = "a"\nanswer_q4 = "c"'
    assert lesson.quiz_score(ns, 'answer_q2 = "a"\nanswer_q3 = "c"\nanswer_q4 = "b"', wrong) == 0.5


def test_quiz_stub_is_placeholders(lesson: Lesson) -> None:
    """The release shows `answer_qN = None` placeholders, not a bare raise."""
    visible = lesson.cell("quiz").source.split("### BEGIN SOLUTION")[0]
    for n in range(1, 5):
        assert f"answer_q{n} = None" in visible


# --------------------------------------------------------------------------- correct alternatives


def test_discounted_returns_with_scipy_lfilter_passes(lesson: Lesson, ns: dict) -> None:
    """SciPy's lfilter, the standard discounted cumulative sum, is a correct answer where no
    episode ends inside the array (the environment has scipy for it)."""
    scratch = lesson.with_mistake(
        ns,
        "discounted_returns",
        "    returns = torch.zeros_like(rewards)\n",
        "    if dones is None and rewards.shape[0] > 0:\n"
        "        from scipy.signal import lfilter\n"
        "\n"
        "        backwards = rewards.detach().cpu().double().numpy()[::-1]\n"
        "        filtered = lfilter([1.0], [1.0, -gamma], backwards, axis=0)[::-1].copy()\n"
        "        return torch.as_tensor(filtered, dtype=rewards.dtype, device=rewards.device)\n"
        "    returns = torch.zeros_like(rewards)\n",
    )
    grade = "test_discounted_returns"
    assert lesson.run_cells(scratch, [grade]) == {grade: None}
