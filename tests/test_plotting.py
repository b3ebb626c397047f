"""rlhelpers.plotting: each function draws, labels its axes and returns the Axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes

from rlhelpers.plotting import (
    animate_cartpole,
    plot_action_probs,
    plot_grid_paths,
    plot_learning_curves,
    plot_value_heatmap,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_learning_curves_mean_and_band():
    rng = np.random.default_rng(0)
    curves = {"eps=0.1": rng.normal(size=(50, 30)), "greedy": rng.normal(size=(50, 30))}
    ax = plot_learning_curves(curves, title="testbed", ylabel="average reward")
    assert isinstance(ax, Axes)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
        "episode",
        "average reward",
        "testbed",
    )
    assert len(ax.lines) == 2 and len(ax.collections) == 2  # a band per label
    np.testing.assert_allclose(ax.lines[0].get_ydata(), curves["eps=0.1"].mean(axis=0))
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.arange(1, 31))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["eps=0.1", "greedy"]


def test_learning_curves_ci95_band_width():
    runs = np.array([[0.0, 0.0], [2.0, 2.0]])
    ax = plot_learning_curves({"a": runs})
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    half = 1.96 * np.std([0.0, 2.0], ddof=1) / np.sqrt(2)
    assert band.min() == pytest.approx(1 - half) and band.max() == pytest.approx(1 + half)


def test_learning_curves_single_run_no_band_and_smoothing():
    _, ax = plt.subplots()
    returned = plot_learning_curves(
        {"one run": np.arange(10.0)}, ax=ax, smooth=3, band="std", x=np.arange(10) * 5
    )
    assert returned is ax
    assert len(ax.collections) == 0
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.arange(1.0, 9.0))
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.arange(2, 10) * 5)


def test_learning_curves_bad_input():
    with pytest.raises(ValueError, match="band"):
        plot_learning_curves({"a": np.zeros((2, 3))}, band="iqr")
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_learning_curves({})


def test_value_heatmap_with_policy_arrows():
    values = np.arange(16.0)
    policy = np.full((16, 4), 0.25)  # all actions tied: 4 arrows per cell
    ax = plot_value_heatmap(values, shape=(4, 4), policy=policy, terminal_states=[0, 15])
    assert isinstance(ax, Axes)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("column", "row", "state values")
    texts = [t.get_text() for t in ax.texts]
    assert "15.00" in texts and "0.00" in texts
    arrows = [child for child in ax.get_children() if type(child).__name__ == "Annotation"]
    assert len(arrows) == 14 * 4


def test_value_heatmap_greedy_int_policy_and_grid_input():
    ax = plot_value_heatmap(
        np.zeros((2, 3)), policy=np.array([1, 1, 2, 0, 3, 2]), title="V", annotate=False
    )
    assert ax.get_title() == "V"
    assert not [t for t in ax.texts if t.get_text()]
    arrows = [child for child in ax.get_children() if type(child).__name__ == "Annotation"]
    assert len(arrows) == 6


def test_value_heatmap_bad_shapes():
    with pytest.raises(ValueError, match="cannot lay out"):
        plot_value_heatmap(np.zeros(5), shape=(2, 2))
    with pytest.raises(ValueError, match="policy"):
        plot_value_heatmap(np.zeros(4), policy=np.zeros((4, 3)))


def test_action_probs_single_and_grouped():
    ax = plot_action_probs(np.array([0.1, 0.2, 0.7]), action_labels=["a", "b", "c"])
    assert isinstance(ax, Axes)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("action", "probability")
    assert [p.get_height() for p in ax.patches] == pytest.approx([0.1, 0.2, 0.7])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    ax = plot_action_probs({"before": [0.25] * 4, "after": [0.1, 0.1, 0.7, 0.1]}, title="pi")
    assert ax.get_title() == "pi" and len(ax.patches) == 8
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["before", "after"]
    with pytest.raises(ValueError, match="same shape"):
        plot_action_probs({"a": [0.5, 0.5], "b": [1.0]})


def test_cartpole_animation_draws_each_frame_from_its_state():
    """The cart sits at x and the pole leans by theta (positive = right) in every frame."""
    states = np.array([[0.0, 0, 0.0, 0], [1.0, 0, 0.2, 0], [-2.0, 0, -0.3, 0], [0.5, 0, 0.1, 0]])
    animation = animate_cartpole(states, stride=2)
    assert animation.frame_steps == [0, 2, 3]  # every 2nd state, and the last one
    for frame, step in enumerate(animation.frame_steps):
        animation._func(frame)
        x, theta = states[step, 0], states[step, 2]
        cart = animation.cart
        assert cart.get_x() + cart.get_width() / 2 == pytest.approx(x)
        xs, ys = animation.pole.get_data()
        assert xs[0] == pytest.approx(x) and ys[0] == pytest.approx(0.0)
        assert xs[1] - xs[0] == pytest.approx(np.sin(theta)) and ys[1] == pytest.approx(
            np.cos(theta)
        )
    html = animation.to_jshtml()
    assert "<script" in html and html.count("data:image/png;base64") == 3


def test_cartpole_animation_side_plot_and_bad_input():
    drawn = []
    animation = animate_cartpole(
        np.zeros((2, 4)), side_plot=lambda ax: drawn.append(ax.plot([1, 2]))
    )
    assert len(drawn) == 1 and len(animation._fig.axes) == 2
    assert animation.to_jshtml().count("data:image/png;base64") == 2
    with pytest.raises(ValueError, match="shape"):
        animate_cartpole(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="stride"):
        animate_cartpole(np.zeros((5, 4)), stride=0)


def test_grid_paths_one_line_per_path_over_shaded_cells():
    paths = {"edge": [36, 24, 25, 26, 38], "safe": [36, 24, 12, 13, 14, 26, 38]}
    ax = plot_grid_paths(paths, shape=(4, 12), shaded=[37, 38, 39], title="cliff")
    assert isinstance(ax, Axes)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("column", "row", "cliff")
    assert len(ax.lines) == 2 and len(ax.patches) == 3
    # state = row * cols + col: the x data are the columns, the y data the rows (offset apart)
    xs, ys = ax.lines[0].get_xdata(), ax.lines[0].get_ydata()
    np.testing.assert_allclose(xs - xs[0], [0, 0, 1, 2, 2])
    np.testing.assert_allclose(ys - ys[0], [0, -1, -1, -1, 0])
    assert ax.get_ylim() == (3.5, -0.5)  # row 0 at the top
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["edge", "safe"]


def test_grid_paths_bad_input():
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_grid_paths({}, shape=(2, 2))
    with pytest.raises(ValueError, match="leaves"):
        plot_grid_paths({"a": [0, 4]}, shape=(2, 2))
