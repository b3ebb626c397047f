"""The course's GridWorld: an n x n grid, start top-left, goal bottom-right."""

from __future__ import annotations

import numpy as np

from rlhelpers.envs._checks import check_int, check_probability, check_real
from rlhelpers.envs.tabular import (
    GRID_ACTION_NAMES,
    TabularEnv,
    TabularMDP,
    deterministic_kernel,
    grid_moves,
)

__all__ = ["GridWorld", "gridworld_mdp"]


def gridworld_mdp(
    size: int = 4, slip: float = 0.0, step_reward: float = -0.01, goal_reward: float = 1.0
) -> TabularMDP:
    """The GridWorld's MDP (see :class:`GridWorld` for the rules).

    Args:
        size: the grid is size x size, size >= 2.
        slip: probability that the chosen action is replaced by a uniformly random one.
        step_reward: reward of every step that does not enter the goal.
        goal_reward: reward of the step that enters the goal.

    Returns:
        the MDP: S = size * size states, 4 actions, terminal state S - 1, start state 0.
    """
    size = check_int("GridWorld", "size", size, minimum=2)
    slip = check_probability("GridWorld", "slip", slip)
    step_reward = check_real("GridWorld", "step_reward", step_reward)
    goal_reward = check_real("GridWorld", "goal_reward", goal_reward)
    n_states = size * size
    goal = n_states - 1
    next_state, _ = grid_moves((size, size))
    intended = deterministic_kernel(next_state, n_states)  # (S, A, S)
    # With probability `slip` the action is replaced by one of the 4 drawn uniformly
    # (possibly the same one), so each action contributes slip / 4.
    random_action = intended.mean(axis=1, keepdims=True)
    P = (1.0 - slip) * intended + slip * random_action
    rewards = np.full(P.shape, step_reward)
    rewards[:, :, goal] = goal_reward
    return TabularMDP.from_transitions(P, rewards, [goal], 0, (size, size), GRID_ACTION_NAMES)


class GridWorld(TabularEnv):
    """A size x size grid: walk from the top-left corner to the goal in the bottom-right.

    ## Description
    The agent starts in the top-left cell and must reach the bottom-right cell
    (the goal). Moves that would leave the grid leave the agent where it is
    ("walls clamp"). With ``slip > 0`` the floor is slippery: with probability
    ``slip`` the chosen action is replaced by one drawn uniformly from all four
    actions (so the intended move still happens with probability
    ``1 - slip + slip / 4``). The tabular model is exposed for planning:
    ``env.P`` (S, A, S), ``env.R`` (S, A), ``env.terminal_states``,
    ``env.start_state``, ``env.shape`` and ``env.as_mdp()``. With the default
    4x4 grid and no slip, the shortest path takes 6 steps and earns
    ``1 - 5 * 0.01 = 0.95``.

    ## Action Space
    ``Discrete(4)``: 0=up, 1=right, 2=down, 3=left. Any other action raises a ValueError.

    ## Observation Space
    ``Discrete(size * size)``: the agent's cell as ``row * size + col``.

    ## Starting State
    State 0, the top-left cell.

    ## Rewards
    ``goal_reward`` (+1.0) on the step that enters the goal, ``step_reward``
    (-0.01) on every other step. ``R[s, a]`` is the expected reward (it mixes
    the two when slipping can reach the goal).

    ## Episode End
    Terminated when the agent enters the goal (state ``size * size - 1``);
    truncated after 100 steps by the registration (``rlhelpers/GridWorld-v0``).

    ## Arguments
    - ``size``: side of the grid, an int >= 2 (default 4).
    - ``slip``: probability in [0, 1] of a random action replacing the chosen one (default 0).
    - ``step_reward``: reward of a step that does not reach the goal (default -0.01).
    - ``goal_reward``: reward of the step that reaches the goal (default 1.0).
    - ``render_mode``: None or ``"ansi"`` (S start, G goal, @ agent).
    """

    def __init__(
        self,
        size: int = 4,
        slip: float = 0.0,
        step_reward: float = -0.01,
        goal_reward: float = 1.0,
        render_mode: str | None = None,
    ) -> None:
        mdp = gridworld_mdp(size, slip, step_reward, goal_reward)
        super().__init__(mdp, render_mode=render_mode)
        self.size = int(size)
        self.slip = float(slip)
        self.step_reward = float(step_reward)
        self.goal_reward = float(goal_reward)
        self.goal_state = self.size * self.size - 1

    def _cell_labels(self) -> list[str]:
        labels = super()._cell_labels()
        labels[self.goal_state] = "G"
        return labels
