"""The environment side of the k-armed testbed (Sutton & Barto, section 2.3), vectorised over runs.

The agent's side (estimates, action selection) is the student's work; this
module only draws the true action values and the rewards::

    rng = np.random.default_rng(0)
    testbed = Testbed(runs=2000, k=10, rng=rng)
    actions = rng.integers(0, 10, size=2000)   # one action per run
    rewards = testbed.pull(actions)            # float (2000,)
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

__all__ = ["Testbed"]


class Testbed:
    """``runs`` independent k-armed bandit problems that are pulled all at once.

    Each run has its own true action values q*(a) ~ N(0, 1); pulling arm a in a
    run pays a reward ~ N(q*(a), 1).

    Attributes:
        runs: number of independent problems.
        k: number of arms of each problem.
        q_star: float (runs, k), the true action values.
        optimal_action: int (runs,), the best arm of each run (argmax of q_star).
        rng: the generator the rewards are drawn from.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, runs: int, k: int = 10, rng: np.random.Generator | None = None) -> None:
        """Draw the true action values.

        Args:
            runs: number of independent problems, >= 1.
            k: number of arms, >= 1 (default 10).
            rng: a ``numpy.random.Generator`` (required); q_star and every reward come from it.
        """
        for name, value in (("runs", runs), ("k", k)):
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(f"Testbed {name} must be a positive integer, got {value!r}")
        if not isinstance(rng, np.random.Generator):
            raise ValueError(
                "Testbed needs rng=a numpy.random.Generator, e.g. np.random.default_rng(0); "
                f"got {rng!r}"
            )
        self.runs = int(runs)
        self.k = int(k)
        self.rng = rng
        self.q_star = rng.standard_normal((self.runs, self.k))
        self.optimal_action = np.argmax(self.q_star, axis=1)

    def pull(self, actions: np.ndarray) -> np.ndarray:
        """Pull one arm in every run.

        Args:
            actions: int (runs,), the arm chosen in each run, each in [0, k - 1].

        Returns:
            rewards: float (runs,), reward[i] ~ N(q_star[i, actions[i]], 1).
        """
        actions = np.asarray(actions)
        if actions.shape != (self.runs,):
            raise ValueError(
                f"actions must have shape (runs,) = ({self.runs},), one arm per run; "
                f"got shape {actions.shape}"
            )
        if actions.dtype.kind not in "iu":
            raise ValueError(f"actions must be integers, got dtype {actions.dtype}")
        if actions.size and (actions.min() < 0 or actions.max() >= self.k):
            raise ValueError(
                f"actions must be in [0, {self.k - 1}], got values from {actions.min()} "
                f"to {actions.max()}"
            )
        means = self.q_star[np.arange(self.runs), actions]
        return means + self.rng.standard_normal(self.runs)
