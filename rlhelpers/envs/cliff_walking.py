"""Sutton & Barto's cliff walking (Example 6.6): SARSA's safe path vs Q-learning's edge."""

from __future__ import annotations

import numpy as np

from rlhelpers.envs.tabular import (
    GRID_ACTION_NAMES,
    TabularEnv,
    TabularMDP,
    deterministic_kernel,
    grid_moves,
)

__all__ = ["CliffWalkingEnv", "cliff_walking_mdp"]

CLIFF_SHAPE = (4, 12)
CLIFF_START = 3 * 12 + 0
CLIFF_GOAL = 3 * 12 + 11
CLIFF_STATES = tuple(range(CLIFF_START + 1, CLIFF_GOAL))
"""The bottom row between start and goal."""


def cliff_walking_mdp() -> TabularMDP:
    """The cliff-walking MDP: 4x12 grid, 48 states, 4 actions, goal 47 terminal, start 36."""
    n_states = CLIFF_SHAPE[0] * CLIFF_SHAPE[1]
    next_state, _ = grid_moves(CLIFF_SHAPE)
    into_cliff = np.isin(next_state, CLIFF_STATES)
    rewards = np.where(into_cliff, -100.0, -1.0)
    next_state = np.where(into_cliff, CLIFF_START, next_state)
    P = deterministic_kernel(next_state, n_states)
    mdp = TabularMDP.from_transitions(
        P,
        np.repeat(rewards[:, :, None], n_states, axis=2),
        [CLIFF_GOAL],
        CLIFF_START,
        CLIFF_SHAPE,
        GRID_ACTION_NAMES,
    )
    return mdp


class CliffWalkingEnv(TabularEnv):
    """Sutton & Barto Example 6.6: walk along a cliff edge from start to goal.

    ## Description
    A 4x12 grid. The agent starts in the bottom-left cell and must reach the
    bottom-right cell; the cells between them on the bottom row are the cliff.
    Stepping into the cliff costs -100 and sends the agent back to the start
    (the episode goes on). Moves off the grid leave the agent in place. The
    shortest path runs along the edge (13 steps, return -13); with
    epsilon-greedy exploration SARSA learns a safer path further up while
    Q-learning learns the edge. ``env.P`` (48, 4, 48) and ``env.R`` (48, 4)
    hold the model; ``env.cliff_states`` lists the cliff cells.

    ## Action Space
    ``Discrete(4)``: 0=up, 1=right, 2=down, 3=left. Any other action raises a ValueError.

    ## Observation Space
    ``Discrete(48)``: ``row * 12 + col``; start 36, goal 47, cliff 37..46.

    ## Starting State
    State 36, the bottom-left cell.

    ## Rewards
    -100 for a step into the cliff (the agent returns to the start), -1 for every other step.

    ## Episode End
    Terminated on entering the goal (state 47). Truncated after 500 steps by the
    registration: enough for the long first episodes of an epsilon-greedy
    learner, short enough that a policy that never finds the goal cannot stall
    a lesson.

    ## Arguments
    - ``render_mode``: None or ``"ansi"`` (S start, G goal, C cliff, @ agent).
    """

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(cliff_walking_mdp(), render_mode=render_mode)
        self.cliff_states = list(CLIFF_STATES)
        self.goal_state = CLIFF_GOAL

    def _cell_labels(self) -> list[str]:
        labels = super()._cell_labels()
        for state in CLIFF_STATES:
            labels[state] = "C"
        labels[CLIFF_GOAL] = "G"
        return labels
