"""Lesson 03 (REINFORCE): the points as announced and the lesson's claims.

Mistakes and seed sweeps: tests/mistakes/03_reinforce.py (run by test_lesson_mistakes.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lesson_runner import Lesson

LESSON_ID = "03_reinforce"


@pytest.fixture(scope="module")
def lesson() -> Lesson:
    return Lesson.load(LESSON_ID)


@pytest.fixture(scope="module")
def ns(lesson: Lesson) -> dict:
    return lesson.namespace()


def test_structure(lesson: Lesson) -> None:
    """9 autograded exercises, three written answers, points as announced (26 + 6)."""
    tests = [c for c in lesson.cells if c.is_grade_test]
    written = [c for c in lesson.cells if c.is_written_answer]
    assert len(tests) >= 6
    assert len(written) == 3
    autograded = sum(c.nbgrader["points"] for c in tests)
    manual = sum(c.nbgrader["points"] for c in written)
    assert (autograded, manual) == (26, 6)
    intro = lesson.cells[0].source
    assert "Points: 32" in intro and "hidden tests" in intro and "Validate" in intro
    for cell in tests:
        assert "### BEGIN HIDDEN TESTS" in cell.source, cell.grade_id
    headings = [c.source for c in lesson.cells if c.source.startswith("## Exercise")]
    announced = sum(int(h.split("(")[1].split(" point")[0]) for h in headings)
    assert announced == autograded, "the exercise headings' points add up to the autograded total"


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
