"""rlhelpers: device choice, seeding, the import itself, and the bandit testbed."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest
import torch

import rlhelpers
from rlhelpers.bandits import Testbed

# --------------------------------------------------------------------------- device


def test_device_env_var_cpu(monkeypatch):
    monkeypatch.setenv("RLHELPERS_DEVICE", "cpu")
    assert rlhelpers.device() == torch.device("cpu")


@pytest.mark.parametrize("name", ["bogus", "cuda:99", "tpu"])
def test_device_env_var_unknown_or_unavailable(monkeypatch, name):
    monkeypatch.setenv("RLHELPERS_DEVICE", name)
    with pytest.raises(ValueError, match=r"RLHELPERS_DEVICE=.*available: cpu"):
        rlhelpers.device()


def test_device_default_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv("RLHELPERS_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert rlhelpers.device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert rlhelpers.device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert rlhelpers.device() == torch.device("cuda")


def test_device_gives_torch_one_thread():
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        rlhelpers.device()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_device_is_usable():
    device = rlhelpers.device()
    x = torch.ones(2, device=device)
    assert x.device.type == device.type
    assert (x + x).sum().item() == 4.0


# --------------------------------------------------------------------------- seeding


def _draws(seed: int) -> tuple:
    rng = rlhelpers.seed_everything(seed)
    return (
        random.random(),
        np.random.rand(),  # noqa: NPY002  (the global generator is what is seeded)
        torch.rand(3).tolist(),
        torch.nn.Linear(2, 1).weight.tolist(),
        rng.random(),
    )


def test_seed_everything_is_reproducible():
    assert _draws(0) == _draws(0)
    assert _draws(0) != _draws(1)


def test_seed_everything_returns_a_fresh_generator():
    rng = rlhelpers.seed_everything(5)
    assert isinstance(rng, np.random.Generator)
    assert rng.random() == np.random.default_rng(5).random()


@pytest.mark.parametrize("seed", [-1, 1.5, "3", None, True, 2**32])
def test_seed_everything_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed must be"):
        rlhelpers.seed_everything(seed)


def test_seed_everything_accepts_numpy_ints():
    assert _draws(np.int64(3)) == _draws(3), "a numpy int seeds as the same Python int"


# --------------------------------------------------------------------------- import


def test_import_is_light_and_registers_envs():
    code = (
        "import sys, gymnasium, rlhelpers; "
        "assert 'torch' not in sys.modules, 'import rlhelpers must not import torch'; "
        "assert 'rlhelpers/GridWorld-v0' in gymnasium.registry"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- testbed


def test_testbed_shapes_and_statistics():
    testbed = Testbed(runs=20000, k=10, rng=np.random.default_rng(0))
    assert testbed.q_star.shape == (20000, 10)
    assert testbed.optimal_action.shape == (20000,)
    np.testing.assert_array_equal(testbed.optimal_action, testbed.q_star.argmax(axis=1))
    assert abs(testbed.q_star.mean()) < 0.02 and abs(testbed.q_star.std() - 1) < 0.02
    actions = np.arange(20000) % 10
    rewards = testbed.pull(actions)
    assert rewards.shape == (20000,) and rewards.dtype == np.float64
    noise = rewards - testbed.q_star[np.arange(20000), actions]
    assert abs(noise.mean()) < 0.05 and abs(noise.std() - 1) < 0.05
    # The best arm is worth about 1.54 on average (Sutton & Barto, Figure 2.2).
    assert testbed.pull(testbed.optimal_action).mean() == pytest.approx(1.54, abs=0.05)


def test_testbed_is_reproducible():
    a = Testbed(5, rng=np.random.default_rng(3))
    b = Testbed(5, 10, np.random.default_rng(3))
    np.testing.assert_array_equal(a.q_star, b.q_star)
    np.testing.assert_array_equal(a.pull(np.zeros(5, int)), b.pull(np.zeros(5, int)))


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (np.zeros(4, int), r"shape \(runs,\) = \(5,\)"),
        (np.zeros((5, 1), int), "shape"),
        (np.full(5, 10), r"in \[0, 9\]"),
        (np.full(5, -1), r"in \[0, 9\]"),
        (np.zeros(5), "integers"),
    ],
)
def test_testbed_rejects_bad_actions(actions, message):
    testbed = Testbed(5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=message):
        testbed.pull(actions)


def test_testbed_needs_an_rng_and_sizes():
    with pytest.raises(ValueError, match="rng"):
        Testbed(5)
    with pytest.raises(ValueError, match="runs must be a positive integer"):
        Testbed(0, rng=np.random.default_rng(0))


class _ConstantPolicy(torch.nn.Module):
    """Always prefers one action; returns its scores the way lesson 04's model does when asked."""

    def __init__(self, action: int):
        super().__init__()
        one_hot = torch.nn.functional.one_hot(torch.tensor(action), 2).float()
        self.scores = torch.nn.Parameter(one_hot)

    def forward(self, obs):
        return self.scores.expand(len(obs), 2)


def _episode_lengths_one_by_one(action: int, n_episodes: int, seed: int) -> list[int]:
    """Episode lengths of a constant action from the vector env's start states, one env each."""
    import gymnasium as gym

    starts, _ = gym.make_vec(
        "CartPole-v1", num_envs=n_episodes, vectorization_mode="vector_entry_point"
    ).reset(seed=seed)
    lengths = []
    for start in starts:
        env = gym.make("CartPole-v1")
        env.reset(seed=seed)
        env.unwrapped.state = start.astype(np.float64)
        steps, done = 0, False
        while not done:
            _, _, terminated, truncated, _ = env.step(action)
            steps, done = steps + 1, terminated or truncated
        lengths.append(steps)
    return lengths


@pytest.mark.parametrize("action", [0, 1])
def test_evaluate_greedy_policy_counts_each_first_episode(action):
    from rlhelpers.evaluation import evaluate_greedy_policy

    expected = np.mean(_episode_lengths_one_by_one(action, n_episodes=5, seed=7))
    got = evaluate_greedy_policy(_ConstantPolicy(action), n_episodes=5, seed=7)
    assert got == pytest.approx(expected)
    assert 5 <= got <= 15  # a constant push topples the pole within a few steps


def test_evaluate_greedy_policy_takes_a_scores_function():
    from rlhelpers.evaluation import evaluate_greedy_policy

    policy = _ConstantPolicy(0)
    flipped = evaluate_greedy_policy(
        policy, scores=lambda model, obs: -model(obs), n_episodes=5, seed=7
    )
    assert flipped == pytest.approx(np.mean(_episode_lengths_one_by_one(1, n_episodes=5, seed=7)))
