"""The course's environments, registered with Gymnasium under the ``rlhelpers/`` namespace.

Lessons create them with ``gymnasium.make``::

    import gymnasium as gym
    import rlhelpers  # registers the environments

    env = gym.make("rlhelpers/GridWorld-v0", slip=0.1)
    env.unwrapped.P  # (S, A, S) transition probabilities of the tabular model

The probe environments ``rlhelpers/Probe1-v0`` ... ``rlhelpers/Probe5-v0``
(:mod:`rlhelpers.envs.probes`) are the first tool for debugging a deep RL
agent: one- or two-step problems with a float32 (1,) observation whose right
answer is known exactly (constant value; value = observation; discounting and
the terminal mask; the policy gradient's sign; a policy that depends on the
observation). ``env.unwrapped.expected_values(gamma)`` and
``expected_policy()`` say what a correct critic and actor print, e.g. V ~ 1.0
on Probe1; the first probe an agent fails points at the bug.
"""

from __future__ import annotations

from typing import Any

import gymnasium

from rlhelpers.envs.cliff_walking import CliffWalkingEnv
from rlhelpers.envs.contextual_bandit import ContextualBanditEnv
from rlhelpers.envs.gridworld import GridWorld
from rlhelpers.envs.pick_action import PickActionEnv
from rlhelpers.envs.probes import Probe1Env, Probe2Env, Probe3Env, Probe4Env, Probe5Env
from rlhelpers.envs.random_walk import RandomWalkEnv
from rlhelpers.envs.tabular import (
    GridWorld4x4Corners,
    GridWorld5x5AB,
    TabularEnv,
    TabularMDP,
    example_3_5,
    example_4_1,
)

__all__ = [
    "ENV_IDS",
    "CliffWalkingEnv",
    "ContextualBanditEnv",
    "GridWorld",
    "GridWorld4x4Corners",
    "GridWorld5x5AB",
    "PickActionEnv",
    "Probe1Env",
    "Probe2Env",
    "Probe3Env",
    "Probe4Env",
    "Probe5Env",
    "RandomWalkEnv",
    "TabularEnv",
    "TabularMDP",
    "example_3_5",
    "example_4_1",
]

_REGISTRATIONS: dict[str, dict[str, Any]] = {
    "rlhelpers/GridWorld-v0": {
        "entry_point": "rlhelpers.envs.gridworld:GridWorld",
        "max_episode_steps": 100,
        "reward_threshold": 0.95,  # the 6-step shortest path of the default 4x4 grid
    },
    "rlhelpers/PickAction-v0": {
        "entry_point": "rlhelpers.envs.pick_action:PickActionEnv",
        # No max_episode_steps: the env terminates itself after one step, and a
        # TimeLimit of 1 would also flag that step as truncated.
    },
    "rlhelpers/ContextualBandit-v0": {
        "entry_point": "rlhelpers.envs.contextual_bandit:ContextualBanditEnv",
        # No max_episode_steps: the env terminates itself after one step, and a
        # TimeLimit of 1 would also flag that step as truncated.
    },
    "rlhelpers/RandomWalk-v0": {
        "entry_point": "rlhelpers.envs.random_walk:RandomWalkEnv",
        "max_episode_steps": 1000,
    },
    "rlhelpers/CliffWalking-v0": {
        "entry_point": "rlhelpers.envs.cliff_walking:CliffWalkingEnv",
        "max_episode_steps": 500,
        "reward_threshold": -13.0,  # the 13-step path along the cliff edge
    },
    "rlhelpers/GridWorld5x5AB-v0": {
        "entry_point": "rlhelpers.envs.tabular:GridWorld5x5AB",
        "max_episode_steps": 200,  # a continuing task: episodes only end by truncation
    },
    "rlhelpers/GridWorld4x4Corners-v0": {
        "entry_point": "rlhelpers.envs.tabular:GridWorld4x4Corners",
        "max_episode_steps": 100,
    },
    # The probes end their episodes themselves (one step, or two for Probe3):
    # no max_episode_steps, so no step is ever flagged as truncated.
    "rlhelpers/Probe1-v0": {"entry_point": "rlhelpers.envs.probes:Probe1Env"},
    "rlhelpers/Probe2-v0": {"entry_point": "rlhelpers.envs.probes:Probe2Env"},
    "rlhelpers/Probe3-v0": {"entry_point": "rlhelpers.envs.probes:Probe3Env"},
    "rlhelpers/Probe4-v0": {"entry_point": "rlhelpers.envs.probes:Probe4Env"},
    "rlhelpers/Probe5-v0": {"entry_point": "rlhelpers.envs.probes:Probe5Env"},
}

ENV_IDS: tuple[str, ...] = tuple(_REGISTRATIONS)
"""Every environment id this package registers."""


def _register_all() -> None:
    """Register each id once; re-importing (e.g. importlib.reload) does not warn."""
    for env_id, spec in _REGISTRATIONS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, **spec)


_register_all()
