"""How the grade cells measure a trained agent's greedy policy.

Lessons 03-06 grade a CartPole training exercise by the mean return of the
*greedy* policy (the argmax of the network's action scores) over fresh
episodes, run side by side in one vector environment; lesson 05 grades a
tabular method by the path its greedy policy walks. This module is the one
copy of each measurement; grade cells import it, so every lesson measures the
same way. Torch is imported only when a network is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["GRADING_EVAL_SEED", "evaluate_greedy_policy", "tabular_greedy_path"]

GRADING_EVAL_SEED = 54321
"""Seed of the grade cells' evaluation episodes (the lessons' demos use others)."""


def _parameter_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (the CPU for a model without any)."""
    import torch

    first = next(iter(model.parameters()), None)
    return first.device if first is not None else torch.device("cpu")


def evaluate_greedy_policy(
    model: nn.Module,
    scores: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
    n_episodes: int = 20,
    seed: int = GRADING_EVAL_SEED,
    env_id: str = "CartPole-v1",
) -> float:
    """Mean undiscounted return of the greedy policy of ``model`` over ``n_episodes``.

    ``scores(model, obs)`` turns a float32 batch of observations ``[n, obs_dim]``
    (on the model's device) into action scores ``[n, n_actions]``; the default
    is ``model(obs)`` (logits or Q-values). Lesson 04's actor-critic passes
    ``lambda m, obs: m(obs)[0].logits``. Each episode counts until it first
    ends (terminated or truncated); the vector environment's autoreset steps
    are not counted.
    """
    import torch

    score_fn = scores or (lambda m, obs: m(obs))
    device = _parameter_device(model)
    envs = gym.make_vec(env_id, num_envs=n_episodes, vectorization_mode="vector_entry_point")
    try:
        obs, _ = envs.reset(seed=seed)
        total = np.zeros(n_episodes)
        alive = np.ones(n_episodes, dtype=bool)
        with torch.no_grad():
            while alive.any():
                batch = torch.as_tensor(obs, dtype=torch.float32, device=device)
                actions: Any = score_fn(model, batch).argmax(-1).cpu().numpy()
                obs, rewards, terminated, truncated, _ = envs.step(actions)
                total += rewards * alive
                alive &= ~(terminated | truncated)
    finally:
        envs.close()
    return float(total.mean())


def tabular_greedy_path(Q: Any, env: gym.Env, max_steps: int = 100) -> list[int]:
    """The states the greedy policy of a table ``Q [S, A]`` visits from the start.

    For the course's deterministic tabular environments (``env.unwrapped`` has
    ``P``, ``start_state`` and ``terminal_states``); stops at a terminal state
    or after ``max_steps`` steps (a greedy policy may walk in circles).
    """
    model = env.unwrapped
    table = np.asarray(Q, dtype=float)
    state, path = model.start_state, [model.start_state]
    for _ in range(max_steps):
        state = int(model.P[state, int(np.argmax(table[state]))].argmax())
        path.append(state)
        if state in model.terminal_states:
            break
    return path
