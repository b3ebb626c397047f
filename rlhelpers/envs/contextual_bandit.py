"""A linear contextual bandit: the best arm depends on the context."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rlhelpers.envs._checks import check_action, check_int, check_real

__all__ = ["ContextualBanditEnv"]


class ContextualBanditEnv(gym.Env):
    """One-step episodes: see a context, pull an arm, get a noisy linear reward.

    ## Description
    A fixed problem, the weight matrix ``weights`` (n_arms, context_dim) with
    N(0, 1) entries drawn from ``problem_seed``, stays the same across resets
    and episode seeds. Each episode shows a context x ~ N(0, I); arm a pays
    ``weights[a] @ x`` plus Gaussian noise. Averaged over contexts every arm
    pays 0, so a learner that ignores the context cannot beat random choice by
    much, while one that learns Q(x, a) can: :meth:`expected_rewards` and
    :meth:`optimal_action` give the truth for measuring regret.

    ## Action Space
    ``Discrete(n_arms)``. Any other action raises a ValueError.

    ## Observation Space
    ``Box(-inf, inf, (context_dim,), float32)``: the context, N(0, I).

    ## Starting State
    A fresh context x ~ N(0, I) at every reset.

    ## Rewards
    ``weights[a] @ x + noise``, noise ~ N(0, noise_std**2).

    ## Episode End
    Terminated after the one step (never truncated: the registration sets no
    ``max_episode_steps``, since a TimeLimit of 1 would flag the step as truncated too).
    The observation returned by ``step`` is the episode's context again.

    ## Arguments
    - ``n_arms``: number of arms, an int >= 2 (default 4).
    - ``context_dim``: size of the context, >= 1 (default 4).
    - ``noise_std``: standard deviation of the reward noise, >= 0 (default 0.5).
    - ``problem_seed``: seed of the weight matrix (default 0).
    - ``render_mode``: must be None (nothing to draw).
    """

    metadata = {"render_modes": [], "render_fps": 1}

    def __init__(
        self,
        n_arms: int = 4,
        context_dim: int = 4,
        noise_std: float = 0.5,
        problem_seed: int = 0,
        render_mode: str | None = None,
    ) -> None:
        self.n_arms = check_int("ContextualBanditEnv", "n_arms", n_arms, minimum=2)
        self.context_dim = check_int("ContextualBanditEnv", "context_dim", context_dim, minimum=1)
        self.noise_std = check_real("ContextualBanditEnv", "noise_std", noise_std)
        if self.noise_std < 0:
            raise ValueError(f"ContextualBanditEnv noise_std must be >= 0, got {noise_std!r}")
        self.problem_seed = check_int("ContextualBanditEnv", "problem_seed", problem_seed, 0)
        if render_mode is not None:
            raise ValueError(
                f"ContextualBanditEnv has no render modes, got render_mode={render_mode!r}"
            )
        self.render_mode = render_mode
        problem_rng = np.random.default_rng(self.problem_seed)
        self.weights = problem_rng.standard_normal((self.n_arms, self.context_dim))
        self.weights.setflags(write=False)
        self.action_space = spaces.Discrete(self.n_arms)
        self.observation_space = spaces.Box(-np.inf, np.inf, (self.context_dim,), np.float32)
        self._context: np.ndarray | None = None

    def expected_rewards(self, context: Any) -> np.ndarray:
        """The mean reward of every arm for a context (or a batch of contexts).

        Args:
            context: float (context_dim,) or (B, context_dim); numpy or anything array-like.

        Returns:
            float (n_arms,) or (B, n_arms): ``context @ weights.T``.
        """
        context = np.asarray(context, dtype=np.float64)
        if context.ndim not in (1, 2) or context.shape[-1] != self.context_dim:
            raise ValueError(
                f"context must have shape ({self.context_dim},) or (B, {self.context_dim}), "
                f"got {context.shape}"
            )
        return context @ self.weights.T

    def optimal_action(self, context: Any) -> int | np.ndarray:
        """The arm with the highest mean reward: an int, or int (B,) for a batch of contexts."""
        best = np.argmax(self.expected_rewards(context), axis=-1)
        return int(best) if best.ndim == 0 else best

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode: a fresh context, float32 (context_dim,)."""
        super().reset(seed=seed)
        self._context = self.np_random.standard_normal(self.context_dim).astype(np.float32)
        return self._context.copy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Returns (context, noisy reward, terminated=True, False, {})."""
        action = check_action(action, self.n_arms)
        if self._context is None:
            raise RuntimeError("call reset() before step()")
        mean = float(self.weights[action] @ self._context.astype(np.float64))
        reward = mean + self.noise_std * float(self.np_random.standard_normal())
        return self._context.copy(), reward, True, False, {}
