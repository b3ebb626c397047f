"""Sutton & Barto's random walk (Example 6.2): a Markov reward process for TD vs MC."""

from __future__ import annotations

import string

import numpy as np

from rlhelpers.envs._checks import check_int
from rlhelpers.envs.tabular import TabularEnv, TabularMDP

__all__ = ["RandomWalkEnv", "random_walk_mdp"]


def random_walk_mdp(n_states: int = 5) -> TabularMDP:
    """The random walk's MDP: states 0..n_states + 1, both ends terminal, one action.

    Args:
        n_states: number of non-terminal states, >= 1.

    Returns:
        the MDP: shape (1, n_states + 2), start state (n_states + 1) // 2.
    """
    n_states = check_int("RandomWalkEnv", "n_states", n_states, minimum=1)
    total = n_states + 2
    right_end = total - 1
    P = np.zeros((total, 1, total))
    for state in range(1, right_end):
        P[state, 0, state - 1] += 0.5
        P[state, 0, state + 1] += 0.5
    rewards = np.zeros(P.shape)
    rewards[:, 0, right_end] = 1.0
    start = (n_states + 1) // 2
    return TabularMDP.from_transitions(P, rewards, [0, right_end], start, (1, total), ("walk",))


class RandomWalkEnv(TabularEnv):
    """Sutton & Barto Example 6.2: a walk that drifts left or right until it falls off an end.

    ## Description
    States 0 .. n_states + 1 lie on a line; 0 and n_states + 1 are terminal and
    the others are named A, B, C, ... from the left. Each step moves one state
    left or right with probability 1/2 each: there are no decisions, so the
    task is to predict values, not to control. With a discount of 1 the value
    of non-terminal state i is the probability of finishing on the right,
    i / (n_states + 1): ``env.true_values`` = [0, 1/6, 2/6, 3/6, 4/6, 5/6, 0]
    for the default 5 states. ``env.P`` (S, 1, S) and ``env.R`` (S, 1) hold the model.

    ## Action Space
    ``Discrete(1)``: action 0 ("walk"), the only one; it does not change the dynamics.

    ## Observation Space
    ``Discrete(n_states + 2)``: the position on the line.

    ## Starting State
    The centre, state ``(n_states + 1) // 2`` (state 3 = C for the default 5 states).

    ## Rewards
    +1 on the step that enters the right end, 0 on every other step.

    ## Episode End
    Terminated when the walk enters state 0 or state n_states + 1; truncated
    after 1000 steps by the registration (practically never reached).

    ## Arguments
    - ``n_states``: number of non-terminal states, an int >= 1 (default 5).
    - ``render_mode``: None or ``"ansi"`` (T ends, A, B, ... states, @ the walker).
    """

    def __init__(self, n_states: int = 5, render_mode: str | None = None) -> None:
        super().__init__(random_walk_mdp(n_states), render_mode=render_mode)
        self.n_nonterminal = int(n_states)
        values = np.arange(n_states + 2) / (n_states + 1)
        values[[0, -1]] = 0.0
        self.true_values = values
        """float (n_states + 2,): the true state values at gamma = 1 (0 at the terminals)."""
        self.true_values.setflags(write=False)

    def _cell_labels(self) -> list[str]:
        labels = super()._cell_labels()
        for state in range(1, self.n_nonterminal + 1):
            labels[state] = string.ascii_uppercase[state - 1] if self.n_nonterminal <= 26 else "."
        return labels
