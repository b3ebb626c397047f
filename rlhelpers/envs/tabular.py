"""Tabular MDPs: the P/R arrays, the one implementation of grid moves, and a generic env.

Conventions shared by every tabular environment in the course:

- states are ints; on a grid, ``state = row * cols + col``;
- ``P[s, a, s']`` is the probability of moving to s' after taking a in s
  (float array (S, A, S), every row sums to 1);
- ``R[s, a]`` is the expected immediate reward of taking a in s (float array (S, A));
- terminal states are absorbing with zero reward: ``P[t, a, t] = 1``, ``R[t, a] = 0``;
- grid actions are 0=up, 1=right, 2=down, 3=left; a move off the grid leaves
  the agent where it is.

The module also holds Sutton & Barto's Example 3.5 (5x5 grid with the A and B
teleports) and Example 4.1 (4x4 grid with two terminal corners).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rlhelpers.envs._checks import check_action

__all__ = [
    "GRID_ACTION_NAMES",
    "GridWorld4x4Corners",
    "GridWorld5x5AB",
    "TabularEnv",
    "TabularMDP",
    "example_3_5",
    "example_4_1",
    "grid_moves",
]

GRID_ACTION_NAMES: tuple[str, ...] = ("up", "right", "down", "left")
"""Names of the four grid actions, indexed by action."""

_GRID_MOVES: tuple[tuple[int, int], ...] = ((-1, 0), (0, 1), (1, 0), (0, -1))
"""(row, col) offset of each grid action: up, right, down, left."""


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class TabularMDP:
    """A finite MDP given by its arrays.

    Build one with :meth:`from_transitions` when the reward depends on the next
    state too; the constructor checks every invariant listed in the module docstring.
    The arrays are read-only: copy them (``mdp.P.copy()``) to experiment.
    """

    P: np.ndarray
    """float (S, A, S): transition probabilities P[s, a, s']."""
    R: np.ndarray
    """float (S, A): expected immediate reward of taking a in s."""
    terminal_states: list[int]
    """sorted terminal states (absorbing, zero reward); empty for a continuing task."""
    start_state: int | None
    """the start state, or None for "uniform over the non-terminal states"."""
    shape: tuple[int, int]
    """(rows, cols) of the grid the states are laid out on (state = row * cols + col)."""
    action_names: tuple[str, ...]
    """a name per action, e.g. ("up", "right", "down", "left")."""
    transition_rewards: np.ndarray | None = field(default=None)
    """float (S, A, S) reward r(s, a, s') of each transition, or None when the reward
    depends on (s, a) only; then R holds it exactly."""

    def __post_init__(self) -> None:
        P = _read_only(np.array(self.P, dtype=np.float64))
        R = _read_only(np.array(self.R, dtype=np.float64))
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "terminal_states", sorted(int(t) for t in self.terminal_states))
        object.__setattr__(self, "shape", tuple(int(n) for n in self.shape))
        object.__setattr__(self, "action_names", tuple(self.action_names))
        if self.transition_rewards is not None:
            rewards = _read_only(np.array(self.transition_rewards, dtype=np.float64))
            object.__setattr__(self, "transition_rewards", rewards)
        self._validate()

    def _validate(self) -> None:
        P, R = self.P, self.R
        if P.ndim != 3 or P.shape[0] != P.shape[2]:
            raise ValueError(f"P must have shape (S, A, S), got {P.shape}")
        n_states, n_actions, _ = P.shape
        if R.shape != (n_states, n_actions):
            raise ValueError(f"R must have shape {(n_states, n_actions)}, got {R.shape}")
        if (P < 0).any() or not np.allclose(P.sum(axis=2), 1.0):
            raise ValueError("every row P[s, a, :] must be a probability distribution")
        if not np.isfinite(R).all():
            raise ValueError("R must be finite")
        if len(self.action_names) != n_actions:
            raise ValueError(f"need {n_actions} action names, got {len(self.action_names)}")
        if len(self.shape) != 2 or self.shape[0] * self.shape[1] != n_states:
            raise ValueError(f"shape {self.shape} does not hold {n_states} states")
        if self.transition_rewards is not None and self.transition_rewards.shape != P.shape:
            raise ValueError(f"transition_rewards must have shape {P.shape}")
        for t in self.terminal_states:
            if not 0 <= t < n_states:
                raise ValueError(f"terminal state {t} is outside [0, {n_states - 1}]")
            if not (P[t, :, t] == 1.0).all() or (R[t] != 0.0).any():
                raise ValueError(f"terminal state {t} must be absorbing with zero reward")
        if self.start_state is not None and (
            not 0 <= self.start_state < n_states or self.start_state in self.terminal_states
        ):
            raise ValueError(f"start_state must be a non-terminal state, got {self.start_state}")

    @property
    def n_states(self) -> int:
        """S, the number of states."""
        return self.P.shape[0]

    @property
    def n_actions(self) -> int:
        """A, the number of actions."""
        return self.P.shape[1]

    @classmethod
    def from_transitions(
        cls,
        P: np.ndarray,
        transition_rewards: np.ndarray,
        terminal_states: list[int],
        start_state: int | None,
        shape: tuple[int, int],
        action_names: tuple[str, ...],
    ) -> TabularMDP:
        """Build an MDP from P and r(s, a, s'): terminals are made absorbing, R = E[r(s, a, S')].

        Args:
            P: float (S, A, S) transition probabilities (terminal rows are overwritten).
            transition_rewards: float (S, A, S) reward of each transition.
            terminal_states, start_state, shape, action_names: as the fields.
        """
        P = np.array(P, dtype=np.float64)
        rewards = np.array(transition_rewards, dtype=np.float64)
        for t in terminal_states:
            P[t] = 0.0
            P[t, :, t] = 1.0
            rewards[t] = 0.0
        R = (P * rewards).sum(axis=2)
        return cls(P, R, list(terminal_states), start_state, shape, action_names, rewards)


def grid_moves(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Where each grid action leads: the one implementation of grid moves in rlhelpers.

    Args:
        shape: (rows, cols) of the grid; state = row * cols + col.

    Returns:
        next_state: int (S, 4), the cell reached by each action 0=up 1=right 2=down
            3=left; a move off the grid stays in place.
        off_grid: bool (S, 4), True where the move would have left the grid.
    """
    rows, cols = shape
    next_state = np.empty((rows * cols, len(_GRID_MOVES)), dtype=np.int64)
    off_grid = np.zeros_like(next_state, dtype=bool)
    for state in range(rows * cols):
        row, col = divmod(state, cols)
        for action, (d_row, d_col) in enumerate(_GRID_MOVES):
            new_row, new_col = row + d_row, col + d_col
            if 0 <= new_row < rows and 0 <= new_col < cols:
                next_state[state, action] = new_row * cols + new_col
            else:
                next_state[state, action] = state
                off_grid[state, action] = True
    return next_state, off_grid


def deterministic_kernel(next_state: np.ndarray, n_states: int) -> np.ndarray:
    """One-hot transition array from a table of next states.

    Args:
        next_state: int (S, A), the state each action leads to.
        n_states: S.

    Returns:
        P: float (S, A, S) with P[s, a, next_state[s, a]] = 1.
    """
    P = np.zeros((*next_state.shape, n_states))
    states, actions = np.indices(next_state.shape)
    P[states, actions, next_state] = 1.0
    return P


def example_3_5() -> TabularMDP:
    """Sutton & Barto Example 3.5 (Figure 3.2): the 5x5 gridworld with teleports A and B.

    From A = (0, 1) every action moves to A' = (4, 1) with reward +10; from
    B = (0, 3) every action moves to B' = (2, 3) with reward +5; a move off the
    grid gives -1 and leaves the agent in place; every other move gives 0. A
    continuing task: no terminal states. ``start_state`` is 0 (top-left).

    Returns:
        the MDP, shape (5, 5), 25 states, 4 actions.
    """
    shape = (5, 5)
    n_states = 25
    next_state, off_grid = grid_moves(shape)
    rewards = np.where(off_grid, -1.0, 0.0)
    a, a_prime, b, b_prime = 0 * 5 + 1, 4 * 5 + 1, 0 * 5 + 3, 2 * 5 + 3
    next_state[a], rewards[a] = a_prime, 10.0
    next_state[b], rewards[b] = b_prime, 5.0
    P = deterministic_kernel(next_state, n_states)
    return TabularMDP(P, rewards, [], 0, shape, GRID_ACTION_NAMES)


def example_4_1() -> TabularMDP:
    """Sutton & Barto Example 4.1: the 4x4 gridworld with two terminal corners.

    States 0 and 15 are terminal; every move from a non-terminal state gives -1;
    a move off the grid leaves the agent in place. ``start_state`` is None
    (episodes start in a uniformly random non-terminal state).

    Returns:
        the MDP, shape (4, 4), 16 states, 4 actions.
    """
    shape = (4, 4)
    next_state, _ = grid_moves(shape)
    P = deterministic_kernel(next_state, 16)
    rewards = np.full(P.shape, -1.0)
    return TabularMDP.from_transitions(P, rewards, [0, 15], None, shape, GRID_ACTION_NAMES)


class TabularEnv(gym.Env):
    """A Gymnasium environment that samples from a :class:`TabularMDP`.

    ## Description
    The agent moves between the MDP's states: after action a in state s the next
    state is drawn from ``P[s, a]``. The arrays are exposed for planning as
    ``env.P``, ``env.R``, ``env.terminal_states``, ``env.start_state`` and ``env.shape``.

    ## Action Space
    ``Discrete(A)``; the MDP's ``action_names`` say what each action means. An
    action outside the space raises a ValueError.

    ## Observation Space
    ``Discrete(S)``: the current state as an int (on a grid, ``row * cols + col``).

    ## Starting State
    ``start_state`` (the argument, else the MDP's); when both are None, a state
    drawn uniformly from the non-terminal states. ``reset(options={"start_state": s})``
    starts one episode in s.

    ## Rewards
    ``transition_rewards[s, a, s']`` when the MDP has them, else ``R[s, a]``.

    ## Episode End
    Terminated on entering a terminal state; continuing MDPs (no terminals) are
    only truncated, by the ``max_episode_steps`` given at registration.

    ## Arguments
    - ``mdp``: the :class:`TabularMDP`.
    - ``start_state``: overrides the MDP's start state.
    - ``render_mode``: None or ``"ansi"`` (a text picture of the grid).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self, mdp: TabularMDP, start_state: int | None = None, render_mode: str | None = None
    ) -> None:
        if not isinstance(mdp, TabularMDP):
            raise TypeError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, "
                f"got {render_mode!r}"
            )
        self.mdp = mdp
        self.P = mdp.P
        self.R = mdp.R
        self.terminal_states = list(mdp.terminal_states)
        self.shape = mdp.shape
        self.action_names = mdp.action_names
        self.start_state = mdp.start_state if start_state is None else start_state
        if self.start_state is not None:
            self._check_start_state(self.start_state)
        self.render_mode = render_mode
        self.observation_space = spaces.Discrete(mdp.n_states)
        self.action_space = spaces.Discrete(mdp.n_actions)

        cdf = np.cumsum(mdp.P, axis=2)
        self._cdf = cdf / cdf[..., -1:]  # ends at exactly 1.0
        self._is_terminal = np.zeros(mdp.n_states, dtype=bool)
        self._is_terminal[self.terminal_states] = True
        self._non_terminal = np.flatnonzero(~self._is_terminal)
        self._state: int | None = None

    @property
    def n_states(self) -> int:
        """S, the number of states."""
        return self.mdp.n_states

    @property
    def n_actions(self) -> int:
        """A, the number of actions."""
        return self.mdp.n_actions

    @property
    def state(self) -> int | None:
        """The current state (None before the first reset)."""
        return self._state

    def as_mdp(self) -> TabularMDP:
        """The MDP this environment samples from."""
        return self.mdp

    def _check_start_state(self, state: Any) -> int:
        if isinstance(state, bool) or not isinstance(state, int | np.integer):
            raise ValueError(f"start_state must be an int state, got {state!r}")
        if not 0 <= state < self.mdp.n_states or state in self.terminal_states:
            raise ValueError(
                f"start_state must be a non-terminal state in [0, {self.mdp.n_states - 1}], "
                f"got {state}"
            )
        return int(state)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Start an episode; ``options={"start_state": s}`` starts it in s."""
        super().reset(seed=seed)
        requested = (options or {}).get("start_state")
        if requested is not None:
            self._state = self._check_start_state(requested)
        elif self.start_state is not None:
            self._state = int(self.start_state)
        else:
            self._state = int(self.np_random.choice(self._non_terminal))
        return self._state, {}

    def step(self, action: Any) -> tuple[int, float, bool, bool, dict[str, Any]]:
        """Take an action; returns (next_state, reward, terminated, truncated, {"prob": p})."""
        action = check_action(action, self.mdp.n_actions, self.action_names)
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        state = self._state
        u = self.np_random.random()
        next_state = int(np.searchsorted(self._cdf[state, action], u, side="right"))
        if self.mdp.transition_rewards is not None:
            reward = float(self.mdp.transition_rewards[state, action, next_state])
        else:
            reward = float(self.mdp.R[state, action])
        self._state = next_state
        terminated = bool(self._is_terminal[next_state])
        info = {"prob": float(self.P[state, action, next_state])}
        return next_state, reward, terminated, False, info

    def _cell_labels(self) -> list[str]:
        """One character per state for the text picture; subclasses name special cells."""
        labels = ["."] * self.mdp.n_states
        for t in self.terminal_states:
            labels[t] = "T"
        if self.start_state is not None:
            labels[self.start_state] = "S"
        return labels

    def render(self) -> str | None:
        """A text picture of the grid with the agent as ``@`` (render_mode="ansi")."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() was called without a render_mode; "
                'create the env with gym.make(id, render_mode="ansi")'
            )
            return None
        labels = self._cell_labels()
        if self._state is not None:
            labels[self._state] = "@"
        rows, cols = self.shape
        return "\n".join(" ".join(labels[r * cols : (r + 1) * cols]) for r in range(rows)) + "\n"


class GridWorld5x5AB(TabularEnv):
    """Sutton & Barto Example 3.5 (Figure 3.2) as an environment: ``rlhelpers/GridWorld5x5AB-v0``.

    ## Description
    A 5x5 grid. From A = (0, 1) every action teleports the agent to A' = (4, 1)
    with reward +10; from B = (0, 3) every action teleports it to B' = (2, 3)
    with reward +5. The MDP is ``example_3_5()``; it is exposed as ``env.P``, ``env.R``.

    ## Action Space
    ``Discrete(4)``: 0=up, 1=right, 2=down, 3=left.

    ## Observation Space
    ``Discrete(25)``: ``row * 5 + col``.

    ## Starting State
    State 0 (top-left).

    ## Rewards
    +10 leaving A, +5 leaving B, -1 for a move off the grid (the agent stays), 0 otherwise.

    ## Episode End
    A continuing task: never terminated; truncated after 200 steps by the registration.

    ## Arguments
    - ``render_mode``: None or ``"ansi"`` (A, B, a = A', b = B', agent @).
    """

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(example_3_5(), render_mode=render_mode)

    def _cell_labels(self) -> list[str]:
        labels = super()._cell_labels()
        labels[1], labels[21], labels[3], labels[13] = "A", "a", "B", "b"
        return labels


class GridWorld4x4Corners(TabularEnv):
    """Sutton & Barto Example 4.1 as an environment: ``rlhelpers/GridWorld4x4Corners-v0``.

    ## Description
    A 4x4 grid whose top-left (state 0) and bottom-right (state 15) corners are
    terminal. The MDP is ``example_4_1()``; it is exposed as ``env.P``, ``env.R``.

    ## Action Space
    ``Discrete(4)``: 0=up, 1=right, 2=down, 3=left.

    ## Observation Space
    ``Discrete(16)``: ``row * 4 + col``.

    ## Starting State
    Uniformly random among the 14 non-terminal states (``env.start_state`` is None).

    ## Rewards
    -1 on every step; a move off the grid leaves the agent in place.

    ## Episode End
    Terminated on entering a corner; truncated after 100 steps by the registration.

    ## Arguments
    - ``render_mode``: None or ``"ansi"`` (terminals T, agent @).
    """

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(example_4_1(), render_mode=render_mode)
