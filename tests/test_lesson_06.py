"""Lesson 06 (PPO, KL estimators, GRPO and DPO): the points as announced and the lesson's claims.

Mistakes and seed sweeps: tests/mistakes/06_ppo_rlhf.py (run by test_lesson_mistakes.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lesson_runner import Lesson

LESSON_ID = "06_ppo_rlhf"


# --------------------------------------------------------------------------- correct alternatives


def test_ppo_clip_loss_with_torch_where_passes(lesson: Lesson, ns: dict) -> None:
    """The text allows the min and the clip written case by case with torch.where."""
    scratch = lesson.with_mistake(
        ns,
        "ppo_clip_loss",
        "return -torch.min(ratio * advantages, clipped * advantages).mean()",
        "clip_active = ((advantages > 0) & (ratio > 1.0 + clip_eps))"
        " | ((advantages < 0) & (ratio < 1.0 - clip_eps))\n"
        "    return -torch.where(clip_active, clipped * advantages, ratio * advantages).mean()",
    )
    assert lesson.run_cells(scratch, ["test_ppo_clip_loss"]) == {"test_ppo_clip_loss": None}


# --------------------------------------------------------------------------- the debugging exercise


def test_buggy_sequence_log_probs_fails_the_exercise(lesson: Lesson, ns: dict) -> None:
    """The given function (with its planted bug) fails the debugging exercise's grade cell."""
    scratch = dict(ns)
    scratch["sequence_log_probs"] = ns["buggy_sequence_log_probs"]
    error = lesson.run_cells(scratch, ["test_sequence_log_probs"])["test_sequence_log_probs"]
    assert isinstance(error, AssertionError) and "SUM of the real tokens" in str(error)


# --------------------------------------------------------------------------- the lesson's claims


@pytest.mark.parametrize("seed", range(10))
def test_ppo_clip_loss_gradient_vanishes_only_where_clipped(ns: dict, seed: int) -> None:
    """The text: clipping removes a sample's gradient exactly when r > 1 + eps with A > 0 or
    r < 1 - eps with A < 0; every other sample keeps the unclipped gradient -r A / N."""
    rng = np.random.default_rng(seed)
    new = torch.tensor(rng.normal(0, 0.5, 64), requires_grad=True)
    old = torch.tensor(rng.normal(0, 0.5, 64))
    adv = torch.tensor(rng.normal(size=64))
    ns["ppo_clip_loss"](new, old, adv, 0.2).backward()
    ratio = np.exp(new.detach().numpy() - old.numpy())
    a = adv.numpy()
    clipped = (a > 0) & (ratio > 1.2) | (a < 0) & (ratio < 0.8)
    np.testing.assert_allclose(new.grad.numpy()[clipped], 0.0)
    np.testing.assert_allclose(new.grad.numpy()[~clipped], -(ratio * a)[~clipped] / 64)


def test_kl_demo_unbiased_and_k3_less_noisy(lesson: Lesson) -> None:
    """The plot and the section after it: k1's and k3's means match the exact KL; k3's std is
    far below k1's at small KL and above it at the largest (0.77 nats: 2.4 and 1.6 times the
    KL); k2's std is about the lower of the two everywhere, its mean about 1.0 at 0.77."""
    rows = lesson.namespace_with("kl_rows")["kl_rows"]
    for exact, mean_k1, _, mean_k3, std_k1, std_k2, std_k3 in rows.values():
        assert mean_k1 == pytest.approx(exact, abs=4 * std_k1 / np.sqrt(20_000))
        assert mean_k3 == pytest.approx(exact, abs=4 * std_k3 / np.sqrt(20_000))
        assert std_k2 <= 1.01 * min(std_k1, std_k3)
    smallest = rows[min(rows)]
    assert smallest[6] < smallest[4] / 5  # k3 at least 5 times less noisy when the KL is small
    exact, _, mean_k2, _, std_k1, _, std_k3 = rows[max(rows)]
    assert exact == pytest.approx(0.77, abs=0.005) and mean_k2 == pytest.approx(1.0, abs=0.05)
    assert std_k3 / exact == pytest.approx(2.4, abs=0.1) and std_k1 / exact == pytest.approx(
        1.6, abs=0.1
    )


def test_ppo_diagnostics_leave_the_run_unchanged(lesson: Lesson, ns: dict) -> None:
    """The recorder of the demo run: the same run as without it, the functions restored after
    it, and (the diagnostics' text) an explained variance above 0.9 in the last three batches."""
    demo = lesson.namespace_with("ppo_records")
    _, steps, returns = ns["train_ppo"](seed=demo["DEMO_SEED"])
    assert np.array_equal(steps, demo["ppo_steps"]) and np.array_equal(returns, demo["ppo_returns"])
    assert demo["ppo_clip_loss"].__name__ == "ppo_clip_loss" and demo["gae"].__name__ == "gae"
    records = demo["ppo_records"]
    assert len(records["log_probs"]) == len(records["clip_fraction"]) > 0
    assert min(records["explained_variance"][-3:]) > 0.9


def test_ppo_on_the_policy_probes(lesson: Lesson) -> None:
    """The probe demo: train_ppo, unchanged, learns Probes 4 and 5 with 1,024 steps (seed 0): the
    reference ends above 0.99 on the right action for every observation, as the text says."""
    results = lesson.namespace_with("probe_results")["probe_results"]
    assert sorted(results) == [(4, 0.0), (5, -1.0), (5, 1.0)]
    for learned, expected in results.values():
        assert learned[np.argmax(expected)] > 0.99, (learned, expected)


def test_early_stopping_on_the_demo_run(lesson: Lesson) -> None:
    """The early-stopping section: the threshold is 1.5 x 0.01 (Spinning Up); with CleanRL's rule
    more than half of the demo run's batches stop before their last epoch, most after their
    second or third; every minibatch of the recorder is tied to a batch, 6 x 2 per batch."""
    demo = lesson.namespace_with("ppo_records", "early_stops")
    assert demo["KL_LIMIT"] == pytest.approx(0.015)
    records, stops = demo["ppo_records"], demo["early_stops"]
    batches = len(records["explained_variance"])
    assert np.array_equal(np.bincount(records["batch"]), np.full(batches, 12))
    assert len(stops) == batches
    stopped = [epoch for epoch in stops if epoch is not None]
    assert len(stopped) > batches / 2
    assert sum(epoch in (2, 3) for epoch in stopped) > len(stopped) / 2
    assert all(1 <= epoch < 6 for epoch in stopped)


@pytest.mark.parametrize("anneal", [True, False])
def test_train_ppo_trains_two_networks_with_a_decaying_learning_rate(
    ns: dict, monkeypatch, anneal: bool
) -> None:
    """Exercise 2's steps 1-2: the reference trains the given SeparateActorCritic, and with
    anneal_lr every gradient step of batch number u uses lr * (1 - u / n_updates)."""
    rates = []

    class RecordingAdam(torch.optim.Adam):
        def step(self, *args, **kwargs):
            rates.append(self.param_groups[0]["lr"])
            return super().step(*args, **kwargs)

    monkeypatch.setattr(torch.optim, "Adam", RecordingAdam)
    args = ns["PPOArgs"](total_steps=512, n_envs=4, lr=1e-3, anneal_lr=anneal)
    model, _, _ = ns["train_ppo"](seed=0, args=args)
    assert isinstance(model, ns["SeparateActorCritic"])
    n_updates, per_batch = 512 // (4 * 16), args.epochs * args.minibatches
    expected = [1e-3 * ((1 - u / n_updates) if anneal else 1) for u in range(n_updates)]
    assert len(rates) == n_updates * per_batch
    assert np.allclose(rates, np.repeat(expected, per_batch))


SB3_PPO_MEDIAN_STEPS = 14_336
"""SB3's PPO with the zoo's CartPole settings, median of seeds 0-2 (make bench, row 3)"""


@pytest.mark.slow
def test_ppo_needs_fewer_steps_than_sb3(ns: dict) -> None:
    """The closing note: over seeds 0-2, the lesson's PPO meets its stopping rule in fewer
    environment steps than SB3's PPO needs (steps, not seconds: `make bench` times them)."""
    steps = [ns["train_ppo"](seed=seed)[1][-1] for seed in range(3)]
    assert np.median(steps) < SB3_PPO_MEDIAN_STEPS, steps
