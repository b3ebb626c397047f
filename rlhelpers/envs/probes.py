"""Probe environments: tiny problems whose right answer is known exactly, for debugging RL code.

Following Andy Jones' "Debugging RL, Without the Agonizing Pain" (and ARENA's
chapter 2), each probe isolates one part of a learner. Run the agent on the
probes in order; the first one it fails points at the bug:

1. :class:`Probe1Env`: one action, constant observation, reward +1. V = 1.
   Fails: the value loss or its scale, or a target that bootstraps past the end
   of the episode (no terminal mask: V drifts towards 1 / (1 - gamma)).
2. :class:`Probe2Env`: one action, observation +1 or -1, reward = observation.
   V(obs) = obs. Fails: the critic ignores its input (batching, shapes).
3. :class:`Probe3Env`: one action, two steps, reward +1 at the end.
   V(0) = gamma, V(1) = 1. Fails: discounting, or bootstrapping from the wrong
   state (a learner without its terminal mask has usually failed Probe 1 already).
4. :class:`Probe4Env`: two actions, constant observation, reward +1 / -1.
   Policy -> action 1. Fails: the policy gradient's sign or the actor's loss.
5. :class:`Probe5Env`: two actions, observation +1 or -1, reward +1 for matching it.
   Policy -> action 1 on +1, action 0 on -1. Fails: the actor ignores its input.

Every probe's observation is a float32 Box of shape (1,), so the same MLP that
takes CartPole's vector takes it unchanged. Each class has
``expected_values(gamma)`` (what a correct critic converges to, observation ->
value) and ``expected_policy()`` (observation -> optimal action probabilities).
Stepping a probe after its episode has ended, before ``reset``, raises a
RuntimeError: a learner that forgets to reset is told so at once.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rlhelpers.envs._checks import check_action, check_probability

__all__ = ["Probe1Env", "Probe2Env", "Probe3Env", "Probe4Env", "Probe5Env"]


class _ProbeEnv(gym.Env):
    """What the five probes share: spaces, argument checks, the one-step episode."""

    metadata = {"render_modes": [], "render_fps": 1}
    n_actions: int = 1
    """Size of the Discrete action space."""

    def __init__(self, render_mode: str | None = None) -> None:
        if render_mode is not None:
            raise ValueError(
                f"{type(self).__name__} has no render modes, got render_mode={render_mode!r}"
            )
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(self.n_actions)
        self.observation_space = spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
        self._obs = 0.0
        self._running = False  # True between reset() and the step that ends the episode

    def _observation(self) -> np.ndarray:
        return np.array([self._obs], dtype=np.float32)

    def _first_observation(self) -> float:
        """The observation an episode starts with; the random probes draw it."""
        return 0.0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; returns (float32 (1,) observation, {})."""
        super().reset(seed=seed)
        self._obs = self._first_observation()
        self._running = True
        return self._observation(), {}

    def _reward(self, action: int) -> float:
        raise NotImplementedError

    def _check_step(self, action: Any) -> int:
        """The action as an int; raises if it is invalid or no episode is running."""
        action = check_action(action, self.n_actions)
        if not self._running:
            # A probe is a debugging tool: stepping past the end is a bug worth a loud error.
            raise RuntimeError("call reset() before step(): no episode is running")
        return action

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Returns (the episode's observation again, reward, terminated=True, False, {})."""
        action = self._check_step(action)
        self._running = False
        return self._observation(), self._reward(action), True, False, {}

    def expected_values(self, gamma: float = 0.99) -> dict[float, float]:
        """What a correct critic converges to, under the optimal policy.

        Args:
            gamma: the discount factor, in [0, 1] (only Probe3's values depend on it).

        Returns:
            ``{observation: value}`` for every observation an episode can be in
            before it ends, e.g. ``{-1.0: -1.0, 1.0: 1.0}`` for Probe2.
        """
        check_probability(type(self).__name__, "gamma", gamma)
        return self._expected_values(float(gamma))

    def _expected_values(self, gamma: float) -> dict[float, float]:
        raise NotImplementedError

    def expected_policy(self) -> dict[float, np.ndarray]:
        """What a correct actor converges to.

        Returns:
            ``{observation: probabilities}``, float64 (n_actions,) for each
            observation: all mass on the optimal action (``[1.0]`` when there is
            only one action).
        """
        return {obs: np.ones(1) for obs in self._expected_values(1.0)}


class Probe1Env(_ProbeEnv):
    """Probe 1: one action, observation always 0, reward +1, one step. V = 1.

    ## Description
    The smallest possible problem: every episode is a single step worth +1.
    A critic trained on it must output 1.0 for the observation [0.0] within a
    few hundred updates. If it does not, the value loss is wrong (sign,
    missing square, wrong target) or its scale is off.

    ## Action Space
    ``Discrete(1)``: action 0 only. Any other action raises a ValueError.

    ## Observation Space
    ``Box(-1, 1, (1,), float32)``; always ``[0.0]``.

    ## Starting State
    ``[0.0]``.

    ## Rewards
    +1.0 for the one step.

    ## Episode End
    Terminated after one step (never truncated: the registration sets no
    ``max_episode_steps``). The observation returned by ``step`` is ``[0.0]`` again.
    Stepping again before ``reset`` raises a RuntimeError (as in every probe).

    ## Arguments
    - ``render_mode``: must be None (nothing to draw).

    ``expected_values(gamma)`` is ``{0.0: 1.0}``.
    """

    def _reward(self, action: int) -> float:
        return 1.0

    def _expected_values(self, gamma: float) -> dict[float, float]:
        return {0.0: 1.0}


class Probe2Env(_ProbeEnv):
    """Probe 2: one action, observation +1 or -1 at random, reward = the observation, one step.

    ## Description
    The reward is the observation, so V(obs) = obs. A critic that learns the
    average (0) instead of the two values is not using its input: the
    observation is lost on the way (a reshape, a broadcast, a batch
    dimension), or the network cannot see it.

    ## Action Space
    ``Discrete(1)``: action 0 only. Any other action raises a ValueError.

    ## Observation Space
    ``Box(-1, 1, (1,), float32)``; ``[1.0]`` or ``[-1.0]``.

    ## Starting State
    ``[1.0]`` or ``[-1.0]`` with probability 1/2 each, drawn from ``np_random``.

    ## Rewards
    The observation: +1.0 or -1.0.

    ## Episode End
    Terminated after one step (never truncated). The observation returned by
    ``step`` is the episode's observation again.

    ## Arguments
    - ``render_mode``: must be None (nothing to draw).

    ``expected_values(gamma)`` is ``{-1.0: -1.0, 1.0: 1.0}``.
    """

    def _first_observation(self) -> float:
        return 1.0 if self.np_random.integers(2) else -1.0

    def _reward(self, action: int) -> float:
        return float(self._obs)

    def _expected_values(self, gamma: float) -> dict[float, float]:
        return {-1.0: -1.0, 1.0: 1.0}


class Probe3Env(_ProbeEnv):
    """Probe 3: one action, two steps, observation 0 then 1, reward 0 then +1.

    ## Description
    The only reward comes at the end of the second step, so V(1) = 1 and
    V(0) = gamma * V(1) = gamma. A critic that gets V(0) wrong has a bug in
    discounting or bootstrapping; one whose V(1) climbs above 1 bootstraps
    past the end of the episode (the terminal mask is missing: with the final
    observation [1.0] it learns V(1) = 1 + gamma * V(1), i.e. 1 / (1 - gamma),
    and V(0) = gamma / (1 - gamma)).

    ## Action Space
    ``Discrete(1)``: action 0 only. Any other action raises a ValueError.

    ## Observation Space
    ``Box(-1, 1, (1,), float32)``; ``[0.0]`` at the first step, ``[1.0]`` at the second.

    ## Starting State
    ``[0.0]``.

    ## Rewards
    0.0 for the first step, +1.0 for the second.

    ## Episode End
    Terminated after the second step (never truncated: the registration sets
    no ``max_episode_steps``). The first step returns ``[1.0]``, not
    terminated; the second returns ``[1.0]`` again, terminated. Stepping
    again before ``reset`` raises a RuntimeError.

    ## Arguments
    - ``render_mode``: must be None (nothing to draw).

    ``expected_values(gamma)`` is ``{0.0: gamma, 1.0: 1.0}``.
    """

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """First step: ([1.0], 0.0, False, False, {}); second: ([1.0], 1.0, True, False, {})."""
        self._check_step(action)
        if self._obs == 0.0:
            self._obs = 1.0
            return self._observation(), 0.0, False, False, {}
        self._running = False
        return self._observation(), 1.0, True, False, {}

    def _expected_values(self, gamma: float) -> dict[float, float]:
        return {0.0: gamma, 1.0: 1.0}


class Probe4Env(_ProbeEnv):
    """Probe 4: two actions, observation always 0, reward +1 for action 1 and -1 for action 0.

    ## Description
    One step, one observation, one right answer: the actor must learn to pick
    action 1 (and the critic, following it, V -> 1). An actor that drifts to
    action 0 has the policy gradient's sign flipped (gradient ascent on a
    loss, a missing minus) or pushes the wrong log-probabilities.

    ## Action Space
    ``Discrete(2)``. Any other action raises a ValueError.

    ## Observation Space
    ``Box(-1, 1, (1,), float32)``; always ``[0.0]``.

    ## Starting State
    ``[0.0]``.

    ## Rewards
    +1.0 for action 1, -1.0 for action 0.

    ## Episode End
    Terminated after one step (never truncated). The observation returned by
    ``step`` is ``[0.0]`` again.

    ## Arguments
    - ``render_mode``: must be None (nothing to draw).

    ``expected_values(gamma)`` is ``{0.0: 1.0}``; ``expected_policy()`` is
    ``{0.0: [0.0, 1.0]}``.
    """

    n_actions = 2

    def _reward(self, action: int) -> float:
        return 1.0 if action == 1 else -1.0

    def _expected_values(self, gamma: float) -> dict[float, float]:
        return {0.0: 1.0}

    def expected_policy(self) -> dict[float, np.ndarray]:
        """``{0.0: [0.0, 1.0]}``: always action 1."""
        return {0.0: np.array([0.0, 1.0])}


class Probe5Env(_ProbeEnv):
    """Probe 5: two actions, observation +1 or -1, reward +1 for the action matching its sign.

    ## Description
    The right action depends on the observation: action 1 on [1.0], action 0
    on [-1.0]. An actor stuck near 50/50 (average reward ~0) is not using its
    input; one that learns the opposite mapping has a sign or indexing bug
    between actions and log-probabilities. A correct critic reaches V = 1 for
    both observations.

    ## Action Space
    ``Discrete(2)``. Any other action raises a ValueError.

    ## Observation Space
    ``Box(-1, 1, (1,), float32)``; ``[1.0]`` or ``[-1.0]``.

    ## Starting State
    ``[1.0]`` or ``[-1.0]`` with probability 1/2 each, drawn from ``np_random``.

    ## Rewards
    +1.0 for action 1 on [1.0] or action 0 on [-1.0]; -1.0 otherwise.

    ## Episode End
    Terminated after one step (never truncated). The observation returned by
    ``step`` is the episode's observation again.

    ## Arguments
    - ``render_mode``: must be None (nothing to draw).

    ``expected_values(gamma)`` is ``{-1.0: 1.0, 1.0: 1.0}``; ``expected_policy()``
    is ``{-1.0: [1.0, 0.0], 1.0: [0.0, 1.0]}``.
    """

    n_actions = 2

    def _first_observation(self) -> float:
        return 1.0 if self.np_random.integers(2) else -1.0

    def _reward(self, action: int) -> float:
        matches = action == (1 if self._obs > 0 else 0)
        return 1.0 if matches else -1.0

    def _expected_values(self, gamma: float) -> dict[float, float]:
        return {-1.0: 1.0, 1.0: 1.0}

    def expected_policy(self) -> dict[float, np.ndarray]:
        """``{-1.0: [1.0, 0.0], 1.0: [0.0, 1.0]}``: the action matches the sign."""
        return {-1.0: np.array([1.0, 0.0]), 1.0: np.array([0.0, 1.0])}
