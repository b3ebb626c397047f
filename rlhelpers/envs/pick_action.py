"""The one-step "pick the right action" environment of the policy-gradient lesson."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rlhelpers.envs._checks import check_action, check_int, check_real

__all__ = ["PickActionEnv"]


class PickActionEnv(gym.Env):
    """One-step episodes: the agent is rewarded for picking one particular action.

    ## Description
    Each episode is a single decision. The observation is random noise that
    carries no information: the best policy ignores it and always picks
    ``target_action``. It is the smallest problem on which REINFORCE can be
    watched learning (and failing, when the wrong actions cost nothing).

    ## Action Space
    ``Discrete(n_actions)``. Any other action raises a ValueError.

    ## Observation Space
    ``Box(-1, 1, (obs_dim,), float32)``, drawn uniformly at every reset.

    ## Starting State
    A uniformly random observation in [-1, 1]^obs_dim.

    ## Rewards
    +1.0 for ``target_action``, ``wrong_reward`` (-0.1) for any other action.

    ## Episode End
    Terminated after the one step (never truncated: the registration sets no
    ``max_episode_steps``, since a TimeLimit of 1 would flag the step as truncated too).
    The observation returned by ``step`` is the episode's observation again.

    ## Arguments
    - ``n_actions``: number of actions, an int >= 2 (default 4).
    - ``target_action``: the rewarded action, in [0, n_actions - 1] (default 2).
    - ``wrong_reward``: reward of every other action (default -0.1).
    - ``obs_dim``: size of the observation vector, >= 1 (default 2).
    - ``render_mode``: must be None (nothing to draw).
    """

    metadata = {"render_modes": [], "render_fps": 1}

    def __init__(
        self,
        n_actions: int = 4,
        target_action: int = 2,
        wrong_reward: float = -0.1,
        obs_dim: int = 2,
        render_mode: str | None = None,
    ) -> None:
        self.n_actions = check_int("PickActionEnv", "n_actions", n_actions, minimum=2)
        self.obs_dim = check_int("PickActionEnv", "obs_dim", obs_dim, minimum=1)
        self.wrong_reward = check_real("PickActionEnv", "wrong_reward", wrong_reward)
        if (
            isinstance(target_action, bool)
            or not isinstance(target_action, int | np.integer)
            or not 0 <= target_action < self.n_actions
        ):
            raise ValueError(
                f"PickActionEnv target_action must be an int in [0, {self.n_actions - 1}], "
                f"got {target_action!r}"
            )
        if render_mode is not None:
            raise ValueError(f"PickActionEnv has no render modes, got render_mode={render_mode!r}")
        self.target_action = int(target_action)
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(self.n_actions)
        self.observation_space = spaces.Box(-1.0, 1.0, (self.obs_dim,), dtype=np.float32)
        self._obs: np.ndarray | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode: a fresh uniform observation, float32 (obs_dim,)."""
        super().reset(seed=seed)
        self._obs = self.np_random.uniform(-1.0, 1.0, self.obs_dim).astype(np.float32)
        return self._obs.copy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Returns (observation, +1.0 or wrong_reward, terminated=True, False, {})."""
        action = check_action(action, self.n_actions)
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        reward = 1.0 if action == self.target_action else self.wrong_reward
        return self._obs.copy(), reward, True, False, {}
