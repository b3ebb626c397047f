"""The course's plots: learning curves, value heat-maps, action probabilities, paths on a
grid, and an animation of CartPole.

Every plotting function draws on ``ax`` (a new figure when None), labels the axes,
and returns the Axes; none calls ``plt.show()``. :func:`animate_cartpole` returns
an animation instead. Arrays may be numpy arrays, lists or torch tensors (any
device).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

__all__ = [
    "animate_cartpole",
    "plot_action_probs",
    "plot_grid_paths",
    "plot_learning_curves",
    "plot_value_heatmap",
]

GRID_ARROWS: tuple[tuple[float, float], ...] = ((0.0, -1.0), (1.0, 0.0), (0.0, 1.0), (-1.0, 0.0))
"""(dx, dy) on an image (y points down) for the actions 0=up 1=right 2=down 3=left."""


def _as_array(values: Any) -> np.ndarray:
    """A float numpy array from a list, an array or a torch tensor on any device."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(values, torch.Tensor):
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def _new_axes(ax: Axes | None) -> Axes:
    if ax is None:
        _, ax = plt.subplots()
    return ax


def _moving_average(curves: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average along the last axis; the result is window - 1 shorter."""
    cumulative = np.cumsum(curves, axis=-1)
    cumulative = np.concatenate([np.zeros((*curves.shape[:-1], 1)), cumulative], axis=-1)
    return (cumulative[..., window:] - cumulative[..., :-window]) / window


def plot_learning_curves(
    curves: Mapping[str, Any],
    ax: Axes | None = None,
    xlabel: str = "episode",
    ylabel: str = "return",
    title: str | None = None,
    band: str | None = "ci95",
    smooth: int = 1,
    x: Any = None,
) -> Axes:
    """Mean curve and a shaded band for each labelled set of runs.

    Args:
        curves: label -> float array (runs, T) (a (T,) array counts as one run).
        ax: the Axes to draw on; a new figure when None.
        xlabel, ylabel: axis labels.
        title: the title (none when None).
        band: ``"ci95"`` (1.96 * std / sqrt(runs), a 95% confidence band for the
            mean), ``"std"`` (one standard deviation across runs) or None. A
            single run never gets a band.
        smooth: window of a trailing moving average applied to each run first
            (1 = no smoothing); the curve then starts at x[smooth - 1].
        x: float (T,) x positions; default 1, 2, ..., T (the episode or step number).

    Returns:
        the Axes.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty dict {label: array (runs, T)}")
    if band not in ("ci95", "std", None):
        raise ValueError(f'band must be "ci95", "std" or None, got {band!r}')
    if isinstance(smooth, bool) or not isinstance(smooth, int) or smooth < 1:
        raise ValueError(f"smooth must be a positive int, got {smooth!r}")
    ax = _new_axes(ax)
    for label, values in curves.items():
        runs = _as_array(values)
        if runs.ndim == 1:
            runs = runs[None, :]
        if runs.ndim != 2 or runs.shape[1] == 0:
            raise ValueError(f"curves[{label!r}] must have shape (runs, T), got {runs.shape}")
        n_runs, length = runs.shape
        xs = np.arange(1, length + 1) if x is None else _as_array(x)
        if xs.shape != (length,):
            raise ValueError(f"x must have shape ({length},) to match curves[{label!r}]")
        if smooth > length:
            raise ValueError(f"smooth={smooth} is longer than the curve ({length} points)")
        if smooth > 1:
            runs = _moving_average(runs, smooth)
            xs = xs[smooth - 1 :]
        mean = runs.mean(axis=0)
        (line,) = ax.plot(xs, mean, label=str(label))
        if band is not None and n_runs > 1:
            spread = runs.std(axis=0, ddof=1)
            if band == "ci95":
                spread = 1.96 * spread / np.sqrt(n_runs)
            ax.fill_between(xs, mean - spread, mean + spread, color=line.get_color(), alpha=0.25)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.legend()
    return ax


def _grid_values(values: Any, shape: Sequence[int] | None) -> np.ndarray:
    """Values as a (rows, cols) grid; a square number of states defaults to a square grid."""
    grid = _as_array(values)
    if grid.ndim == 2 and shape is None:
        return grid
    if grid.ndim != 1 and grid.ndim != 2:
        raise ValueError(f"values must have shape (S,) or (rows, cols), got {grid.shape}")
    if shape is None:
        side = int(round(np.sqrt(grid.size)))
        shape = (side, side) if side * side == grid.size else (1, grid.size)
    shape = tuple(int(n) for n in shape)
    if len(shape) != 2 or shape[0] * shape[1] != grid.size:
        raise ValueError(f"cannot lay out {grid.size} values on a grid of shape {shape}")
    return grid.reshape(shape)


def _greedy_actions(policy: Any, n_states: int) -> list[list[int]]:
    """For each state, the actions to draw an arrow for (all tied best ones)."""
    table = _as_array(policy)
    if table.shape == (n_states,):
        actions = table.astype(int)
        if (actions != table).any() or actions.min() < 0 or actions.max() >= len(GRID_ARROWS):
            raise ValueError("an (S,) policy must hold grid actions 0..3")
        return [[int(a)] for a in actions]
    if table.shape != (n_states, len(GRID_ARROWS)):
        raise ValueError(
            f"policy must be an (S,) array of actions or an (S, 4) array of probabilities "
            f"with S = {n_states}, got shape {table.shape}"
        )
    best = table.max(axis=1, keepdims=True)
    return [list(np.flatnonzero(row)) for row in np.isclose(table, best)]


def plot_value_heatmap(
    values: Any,
    shape: Sequence[int] | None = None,
    policy: Any = None,
    ax: Axes | None = None,
    title: str | None = None,
    terminal_states: Sequence[int] = (),
    annotate: bool = True,
) -> Axes:
    """A heat-map of state values on a grid, optionally with the greedy policy's arrows.

    Args:
        values: float (S,) with ``shape``, or (rows, cols); state = row * cols + col.
            Without ``shape``, S values form a square grid when S is a square number,
            else one row.
        shape: (rows, cols) for (S,) values.
        policy: (S, 4) action probabilities (an arrow for every action tied for the
            maximum) or (S,) int greedy actions; actions 0=up 1=right 2=down 3=left.
            Terminal states get no arrow.
        ax: the Axes to draw on; a new figure when None.
        title: the title; default "state values".
        terminal_states: states outlined in black and drawn without arrows.
        annotate: write each value in its cell.

    Returns:
        the Axes.
    """
    grid = _grid_values(values, shape)
    rows, cols = grid.shape
    ax = _new_axes(ax)
    image = ax.imshow(grid, cmap="viridis")
    ax.figure.colorbar(image, ax=ax, label="value")
    terminals = {int(t) for t in terminal_states}
    arrows = None if policy is None else _greedy_actions(policy, grid.size)
    middle = (np.nanmin(grid) + np.nanmax(grid)) / 2 if np.isfinite(grid).any() else 0.0
    for state in range(grid.size):
        row, col = divmod(state, cols)
        value = grid[row, col]
        color = "black" if value > middle else "white"
        if state in terminals:
            ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, lw=2, ec="black"))
        if annotate:
            text_y = row + 0.3 if arrows is not None else row
            fontsize = 8 if arrows is not None else 9
            ax.text(
                col,
                text_y,
                f"{value:.2f}",
                ha="center",
                va="center",
                color=color,
                fontsize=fontsize,
            )
        if arrows is not None and state not in terminals:
            centre_y = row - 0.1 if annotate else row
            for action in arrows[state]:
                dx, dy = GRID_ARROWS[action]
                ax.annotate(
                    "",
                    xy=(col + 0.3 * dx, centre_y + 0.3 * dy),
                    xytext=(col, centre_y),
                    arrowprops={"arrowstyle": "->", "color": color, "lw": 1.5},
                )
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title("state values" if title is None else title)
    return ax


def plot_action_probs(
    probs: Any,
    action_labels: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """A bar chart of a policy's action probabilities; grouped bars to compare several.

    Args:
        probs: float (A,), or a dict label -> (A,) for grouped bars (e.g. before/after).
        action_labels: a name per action; default "0", "1", ...
        ax: the Axes to draw on; a new figure when None.
        title: the title; default "action probabilities".

    Returns:
        the Axes.
    """
    groups = dict(probs) if isinstance(probs, Mapping) else {None: probs}
    if not groups:
        raise ValueError("probs must be an (A,) array or a non-empty dict of them")
    arrays = {label: _as_array(p) for label, p in groups.items()}
    sizes = {a.shape for a in arrays.values()}
    if len(sizes) != 1 or next(iter(sizes)) == () or len(next(iter(sizes))) != 1:
        raise ValueError(f"every probability vector must have the same shape (A,), got {sizes}")
    n_actions = next(iter(sizes))[0]
    if action_labels is None:
        action_labels = [str(a) for a in range(n_actions)]
    if len(action_labels) != n_actions:
        raise ValueError(f"need {n_actions} action labels, got {len(action_labels)}")
    ax = _new_axes(ax)
    positions = np.arange(n_actions)
    width = 0.8 / len(arrays)
    for index, (label, values) in enumerate(arrays.items()):
        offset = (index - (len(arrays) - 1) / 2) * width
        ax.bar(positions + offset, values, width=width, label=None if label is None else str(label))
    ax.set_xticks(positions, [str(name) for name in action_labels])
    ax.set_xlabel("action")
    ax.set_ylabel("probability")
    if all(((a >= 0) & (a <= 1)).all() for a in arrays.values()):
        ax.set_ylim(0.0, 1.0)
    ax.set_title("action probabilities" if title is None else title)
    if None not in arrays:
        ax.legend()
    return ax


CARTPOLE_TRACK_HALF_WIDTH = 2.4
"""Gymnasium's CartPole ends an episode when the cart leaves [-2.4, 2.4]."""
CARTPOLE_POLE_LENGTH = 1.0
"""The pole's full length in CartPole's units (Gymnasium's `length` is half of it)."""
CART_SIZE = (0.5, 0.3)
"""(width, height) of the drawn cart, in CartPole's units."""


def _pole_tip(x: float, theta: float) -> tuple[float, float]:
    """The top of the pole for cart position x and pole angle theta (radians, 0 = upright,
    positive = leaning right, as in Gymnasium)."""
    return x + CARTPOLE_POLE_LENGTH * np.sin(theta), CARTPOLE_POLE_LENGTH * np.cos(theta)


def animate_cartpole(
    states: Any,
    stride: int = 1,
    interval: int = 40,
    title: str | None = None,
    side_plot: Callable[[Axes], Any] | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: int = 72,
) -> FuncAnimation:
    """An animation of a CartPole episode drawn from its states with matplotlib.

    No pygame and no video codec are needed: in a notebook, show it with
    ``IPython.display.HTML(animation.to_jshtml())`` (every frame becomes a PNG,
    so keep the number of frames to a few hundred at most).

    Args:
        states: float (T, 4) CartPole states (cart position, cart velocity, pole
            angle in radians, pole angular velocity), e.g. the observations of
            one episode in order.
        stride: draw every stride-th state (fewer frames: a smaller, faster
            animation); the last state is always drawn.
        interval: milliseconds between frames.
        title: the title of the cart's panel; default "CartPole".
        side_plot: None, or a function that draws a static plot (learning curves,
            say) on the Axes of a second panel, to the right of the cart. It is
            drawn again in every frame, so a plot of many points makes every
            frame slower; a lesson may show a separate image next to the
            animation instead.
        figsize: the figure size in inches; default (5, 2.6), or (10, 3) with a side plot.
        dpi: dots per inch of the frames.

    Returns:
        the FuncAnimation (its figure is closed, so a notebook does not also show
        it as a still image); ``animation.cart`` and ``animation.pole`` are the
        artists that move, ``animation.frame_steps`` the step shown in each frame.
    """
    trajectory = _as_array(states)
    if trajectory.ndim != 2 or trajectory.shape[1] != 4 or len(trajectory) == 0:
        raise ValueError(f"states must have shape (T, 4) with T >= 1, got {trajectory.shape}")
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    steps = list(range(0, len(trajectory), stride))
    if steps[-1] != len(trajectory) - 1:
        steps.append(len(trajectory) - 1)
    if figsize is None:
        figsize = (10.0, 3.0) if side_plot is not None else (5.0, 2.6)
    if side_plot is None:
        fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
    else:
        fig, (ax, side_ax) = plt.subplots(
            1, 2, figsize=figsize, dpi=dpi, gridspec_kw={"width_ratios": [1, 1.2]}
        )
        side_plot(side_ax)
    limit = CARTPOLE_TRACK_HALF_WIDTH + CART_SIZE[0]
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-CART_SIZE[1] - 0.1, CARTPOLE_POLE_LENGTH + 0.2)
    ax.set_aspect("equal")
    ax.axhline(-CART_SIZE[1] / 2, color="grey", lw=1)
    for edge in (-CARTPOLE_TRACK_HALF_WIDTH, CARTPOLE_TRACK_HALF_WIDTH):
        ax.axvline(edge, color="grey", ls=":", lw=1)
    ax.set_yticks([])
    ax.set_xlabel("cart position")
    ax.set_title("CartPole" if title is None else title)
    width, height = CART_SIZE
    cart = Rectangle((-width / 2, -height / 2), width, height, color="tab:blue")
    ax.add_patch(cart)
    (pole,) = ax.plot([], [], color="tab:orange", lw=4, solid_capstyle="round")
    label = ax.text(0.02, 0.9, "", transform=ax.transAxes, fontsize=8)
    fig.tight_layout()

    def draw(frame: int):
        step = steps[frame]
        x, _, theta, _ = trajectory[step]
        cart.set_x(x - width / 2)
        tip_x, tip_y = _pole_tip(x, theta)
        pole.set_data([x, tip_x], [0.0, tip_y])
        label.set_text(f"step {step + 1} of {len(trajectory)}")
        return cart, pole, label

    animation = FuncAnimation(fig, draw, frames=len(steps), interval=interval, blit=False)
    animation.cart, animation.pole, animation.frame_steps = cart, pole, steps
    draw(0)
    plt.close(fig)
    return animation


def plot_grid_paths(
    paths: Mapping[str, Sequence[int]],
    shape: Sequence[int],
    shaded: Sequence[int] = (),
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Paths through a grid world, one line per label, over the grid's cells.

    Args:
        paths: label -> the states visited, in order (state = row * cols + col).
        shape: (rows, cols) of the grid.
        shaded: states drawn grey (e.g. the cliff of cliff walking).
        ax: the Axes to draw on; a new figure when None.
        title: the title; default "paths".

    Returns:
        the Axes; row 0 is drawn at the top, as in the environments' text pictures.
    """
    if not isinstance(paths, Mapping) or not paths:
        raise ValueError("paths must be a non-empty dict {label: sequence of states}")
    rows, cols = (int(n) for n in shape)
    ax = _new_axes(ax)
    for state in shaded:
        row, col = divmod(int(state), cols)
        ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, color="0.75"))
    for index, (label, states) in enumerate(paths.items()):
        states = np.asarray(states, dtype=int)
        if states.ndim != 1 or states.size == 0:
            raise ValueError(f"paths[{label!r}] must be a non-empty sequence of states")
        if states.min() < 0 or states.max() >= rows * cols:
            raise ValueError(f"paths[{label!r}] leaves the {rows} x {cols} grid")
        offset = 0.08 * (index - (len(paths) - 1) / 2)  # overlapping paths stay visible
        path_rows, path_cols = np.divmod(states, cols)
        ax.plot(path_cols + offset, path_rows + offset, "o-", ms=4, label=str(label))
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.set_aspect("equal")
    ax.grid(True, color="0.9")
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title("paths" if title is None else title)
    ax.legend()
    return ax
