"""Lesson 04 (actor-critic): the points as announced and the lesson's claims.

Mistakes and the seed sweep: tests/mistakes/04_actor_critic.py (run by test_lesson_mistakes.py).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from lesson_runner import Lesson

LESSON_ID = "04_actor_critic"


# --------------------------------------------------------------------------- exercises 1-2


def _nonzero_grads(module: torch.nn.Module) -> bool:
    return any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in module.parameters())


def test_actor_term_sends_no_gradient_into_the_value_head(ns: dict) -> None:
    """On the reference network: the actor's term (value_coef=0) leaves the value head's gradient
    at zero and reaches the logits head; the critic's term alone reaches the value head and not
    the logits head."""
    torch.manual_seed(0)
    model = ns["ActorCritic"](4, 2)
    obs, actions = torch.randn(64, 4), torch.randint(0, 2, (64,))
    returns = 10 * torch.rand(64)
    dist, values = model(obs)
    ns["actor_critic_loss"](dist, actions, returns, values, value_coef=0.0).backward()
    assert not _nonzero_grads(model.value_head)
    assert _nonzero_grads(model.logits_head) and _nonzero_grads(model.trunk)
    model.zero_grad()
    dist, values = model(obs)
    with_critic = ns["actor_critic_loss"](dist, actions, returns, values, value_coef=1.0)
    actor_only = ns["actor_critic_loss"](dist, actions, returns, values, value_coef=0.0)
    (with_critic - actor_only).backward()  # the critic's term alone
    assert _nonzero_grads(model.value_head)
    assert not _nonzero_grads(model.logits_head)


def test_separate_actor_critic_shares_nothing(ns: dict) -> None:
    """The two-network section: SeparateActorCritic has ActorCritic's interface, the value's
    gradient reaches only the critic and the logits' only the actor (the shared trunk gets both)."""
    torch.manual_seed(0)
    model = ns["SeparateActorCritic"](4, 2, hidden=8)
    obs = torch.randn(5, 4)
    dist, value = model(obs)
    assert dist.logits.shape == (5, 2) and value.shape == (5,)
    assert model(torch.randn(1, 4))[1].shape == (1,)
    value.sum().backward()
    assert _nonzero_grads(model.critic) and not _nonzero_grads(model.actor)
    model.zero_grad()
    model(obs)[0].logits.sum().backward()
    assert _nonzero_grads(model.actor) and not _nonzero_grads(model.critic)
    assert {s for p in model.parameters() for s in p.shape} == {8, 4, 2, 1}


def test_loss_returning_its_parts_passes(lesson: Lesson, ns: dict) -> None:
    """The text allows a tuple (total, actor, critic, entropy): the grade cell accepts it (the
    demo after the answer cell takes its first element too)."""
    scratch = lesson.with_mistake(
        ns,
        "actor_critic_loss",
        "return actor + value_coef * critic - entropy_coef * entropy",
        "return actor + value_coef * critic - entropy_coef * entropy, actor, critic, entropy",
    )
    assert lesson.run_cells(scratch, ["test_actor_critic_loss"]) == {"test_actor_critic_loss": None}


# --------------------------------------------------------------------------- exercise 3


def test_baseline_keeps_the_mean_and_the_variance_claims(ns: dict) -> None:
    """The prose: V(s) keeps the expected gradient (both means within 4 standard errors of the
    true gradient) and cuts the variance several hundred-fold; written answer A's model answer:
    a constant baseline cuts it only a few-fold; "Is V(s) the best baseline?": the optimal b*,
    estimated from the same episodes, leaves about a fifth less variance than V."""
    batches = ns["var_batches"] if "var_batches" in ns else None
    assert batches is not None, "var_batches is data, built with the definitions"
    exact = ns["exact_gradient"](ns["VAR_THETA"], ns["VAR_BASE"], ns["VAR_BONUS"])
    n = batches.scores.shape[0]
    for weights in (batches.returns, batches.returns - batches.values):
        estimates = (weights[..., None] * batches.scores).mean(1)
        stderr = estimates.std(0) / np.sqrt(n)
        assert bool(((estimates.mean(0) - exact).abs() <= 4 * stderr + 1e-6).all())
    without, with_v = ns["baseline_variance"](batches.scores, batches.returns, batches.values)
    constant = torch.full_like(batches.returns, float(batches.returns.mean()))
    _, with_constant = ns["baseline_variance"](batches.scores, batches.returns, constant)
    assert float(without) / float(with_v) > 200
    assert 1.5 < float(without) / float(with_constant) < 6
    best = ns["optimal_baseline"](batches, len(ns["VAR_BASE"]))
    _, with_best = ns["baseline_variance"](batches.scores, batches.returns, best[batches.states])
    assert 0.75 < float(with_best) / float(with_v) < 0.87


# --------------------------------------------------------------------------- exercises 4-5


def _balancing_actions(obs: np.ndarray) -> np.ndarray:
    """Push the way the pole falls: keeps CartPole up for a long time."""
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


class _Scripted(torch.nn.Module):
    """A model with the ActorCritic interface whose policy is `_balancing_actions` or always 0."""

    def __init__(self, balance: bool):
        super().__init__()
        self.balance = balance
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, obs):
        if self.balance:
            actions = torch.as_tensor(_balancing_actions(obs.cpu().numpy()))
        else:
            actions = torch.zeros(len(obs), dtype=torch.long)
        logits = torch.where(torch.nn.functional.one_hot(actions, 2).bool(), 0.0, -1e9)
        return torch.distributions.Categorical(logits=logits.to(obs.device)), obs[:, 0] * 0 + 3.0


def test_reset_steps_of_a_real_vector_env_are_masked(ns: dict) -> None:
    """Gymnasium's next-step autoreset as the lesson describes it: the masked-out steps are exactly
    the zero-reward steps after an episode's end, and the observation stored at a reset step is the
    finished episode's final (failing) observation."""
    envs = gym.make_vec("CartPole-v1", num_envs=3, vectorization_mode="vector_entry_point")
    worker = ns["RolloutWorker"](envs, seed=0)
    for _ in range(3):  # across segment boundaries too
        rollout = worker.collect(_Scripted(balance=False), n_steps=25)
        mask = ns["learning_mask"](rollout.terminated, rollout.truncated, rollout.first_after_done)
        assert torch.equal(mask, rollout.rewards == 1.0)
        reset_obs = rollout.obs[:-1][~mask]
        assert len(reset_obs) > 0
        assert bool((reset_obs[:, 2].abs() > 0.2095).all() | (reset_obs[:, 0].abs() > 2.4).all())


def test_truncation_bootstraps_in_a_real_vector_env(ns: dict) -> None:
    """With a 12-step time limit and a balancing policy, every episode is truncated; the return of
    each truncated step is its reward plus gamma * V(final observation), and the step after is
    masked out."""
    envs = gym.make_vec(
        "CartPole-v1", num_envs=2, vectorization_mode="vector_entry_point", max_episode_steps=12
    )
    worker = ns["RolloutWorker"](envs, seed=1)
    rollout = worker.collect(_Scripted(balance=True), n_steps=30)
    assert bool(rollout.truncated[11].all()) and not bool(rollout.terminated.any())
    values = torch.arange(31 * 2, dtype=torch.float32).reshape(31, 2)  # a different V everywhere
    returns = ns["segment_returns"](
        rollout.rewards, rollout.terminated, rollout.truncated, values, 0.9
    )
    steps, copies = rollout.truncated.nonzero(as_tuple=True)
    torch.testing.assert_close(returns[steps, copies], 1.0 + 0.9 * values[steps + 1, copies])
    mask = ns["learning_mask"](rollout.terminated, rollout.truncated, rollout.first_after_done)
    assert not bool(mask[steps + 1, copies].any())


def test_buggy_segment_returns_fails_the_exercise(lesson: Lesson, ns: dict) -> None:
    """The given function (with its planted bug) fails the debugging exercise's grade cell."""
    scratch = dict(ns)
    scratch["segment_returns"] = ns["buggy_segment_returns"]
    error = lesson.run_cells(scratch, ["test_segment_returns"])["test_segment_returns"]
    assert isinstance(error, AssertionError) and "truncated" in str(error)


def test_buggy_segment_returns_is_right_without_truncations(ns: dict) -> None:
    """The planted bug is only the truncation: on rollouts without one, both functions agree."""
    gen = torch.Generator().manual_seed(3)
    rewards = torch.randn(20, 4, generator=gen)
    terminated = torch.rand(20, 4, generator=gen) < 0.2
    truncated = torch.zeros(20, 4, dtype=torch.bool)
    values = torch.randn(21, 4, generator=gen)
    args = (rewards, terminated, truncated, values, 0.95)
    torch.testing.assert_close(ns["buggy_segment_returns"](*args), ns["segment_returns"](*args))


# --------------------------------------------------------------------------- exercise 6: probes


def test_a2c_update_loss_is_train_a2cs_update(ns: dict) -> None:
    """The prose: a2c_update_loss with the A2CArgs' reward_scale and coefficients is the loss
    train_a2c minimises (its update written out, on a real CartPole segment)."""
    torch.manual_seed(0)
    envs = gym.make_vec("CartPole-v1", num_envs=4, vectorization_mode="vector_entry_point")
    worker = ns["RolloutWorker"](envs, seed=0)
    model = ns["ActorCritic"](4, 2)
    args = ns["A2CArgs"](entropy_coef=0.01)
    for _ in range(3):  # segments with episode ends in them
        rollout = worker.collect(model, 16)
        with torch.no_grad():
            _, all_values = model(rollout.obs.reshape(-1, 4))
        returns = ns["segment_returns"](
            args.reward_scale * rollout.rewards,
            rollout.terminated,
            rollout.truncated,
            all_values.reshape(17, 4),
            args.gamma,
        )
        mask = ns["learning_mask"](rollout.terminated, rollout.truncated, rollout.first_after_done)
        dist, values = model(rollout.obs[:-1][mask])
        inline = ns["actor_critic_loss"](
            dist, rollout.actions[mask], returns[mask], values, args.value_coef, args.entropy_coef
        )
        given = ns["a2c_update_loss"](
            model, rollout, args.gamma, args.reward_scale, args.value_coef, args.entropy_coef
        )
        torch.testing.assert_close(given, inline)
    envs.close()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mystery_losses_fail_the_probes_the_answers_name(ns: dict, seed: int) -> None:
    """Exercise 6's answers hold on other seeds too: each mystery loss passes the probes before
    the one the answer names and fails that one; the explanations' numbers (Probe 1: V near
    1 / (1 - 0.7^2) = 1.96 without the terminal mask; Probe 2: V near 0 with [B, 1] targets;
    Probe 4: the policy on action 0 with the arguments swapped); a2c_update_loss passes all five."""
    train = ns["train_on_probe"]
    answers = {"mystery_loss_1": 4, "mystery_loss_2": 1, "mystery_loss_3": 2}
    for name, first in answers.items():
        for number in range(1, first + 1):
            passed, values, probs = train(f"rlhelpers/Probe{number}-v0", ns[name], seed=seed)
            assert passed == (number < first), (name, number, values, probs)
        if first == 1:
            assert 1.7 < values[0.0] < 2.2, values
        elif first == 2:
            assert all(abs(v) < 0.2 for v in values.values()), values
        else:
            assert probs[0.0][0] > 0.9, probs
    for number in range(1, 6):
        passed, values, probs = train(
            f"rlhelpers/Probe{number}-v0", ns["a2c_update_loss"], seed=seed
        )
        assert passed, (number, values, probs)


def test_localised_bugs_give_partial_credit(lesson: Lesson, ns: dict, capsys) -> None:
    """Each of the six answers is worth a third of a point; a wrong one's explanation is never
    printed."""
    from lesson_runner import cell_result

    def score(old=None, new=None):
        scratch = lesson.with_mistake(ns, "localised_bugs", old, new) if old else dict(ns)
        return cell_result(lesson.cell("test_localised_bugs").source, scratch)

    assert score() == 2.0
    capsys.readouterr()
    assert score("first_failure_2 = 1", "first_failure_2 = 3") == pytest.approx(2 * 5 / 6, abs=1e-5)
    out = capsys.readouterr().out
    assert "first_failure_2: not right." in out and "1.96" not in out
    assert "broken_part_2: right." in out


def test_localised_bugs_stub_is_placeholders(lesson: Lesson) -> None:
    """The release shows `name = None` placeholders, not a bare raise."""
    visible = lesson.cell("localised_bugs").source.split("### BEGIN SOLUTION")[0]
    for n in range(1, 4):
        assert f"first_failure_{n} = None" in visible and f"broken_part_{n} = None" in visible


# --------------------------------------------------------------------------- exercise 7


def test_quiz_q4_counts_the_updates(lesson: Lesson, ns: dict) -> None:
    """Quiz question 4's rule, ceil(total_steps / (num_envs * n_steps)) updates when never solved,
    on a small budget."""
    scratch = dict(ns)
    collected = []

    class CountingWorker(ns["RolloutWorker"]):
        def collect(self, model, n_steps):
            collected.append(n_steps)
            return super().collect(model, n_steps)

    scratch["RolloutWorker"] = CountingWorker
    exec(compile(lesson.cell("train_a2c").source, "<train_a2c>", "exec"), scratch)
    args = ns["A2CArgs"](total_steps=1000, solved_return=1e9)
    scratch["train_a2c"](num_envs=8, seed=0, args=args)
    assert len(collected) == -(-1000 // (8 * 16)) == 8
    assert -(-100_000 // (8 * 16)) == 782


def test_train_a2c_trains_two_networks(ns: dict) -> None:
    """Exercise 7's step 1: the reference builds the given SeparateActorCritic (two networks)."""
    args = ns["A2CArgs"](total_steps=256)
    model, _, _ = ns["train_a2c"](num_envs=4, seed=0, args=args)
    assert isinstance(model, ns["SeparateActorCritic"])


def test_train_a2c_steps_with_rmsprop(ns: dict, monkeypatch) -> None:
    """Exercise 7's step 1: the reference's optimizer is RMSprop with args.lr, alpha 0.99 and
    eps 1e-5 (Stable-Baselines3's A2C settings, the table's last lesson row)."""
    made = []

    class RecordingRMSprop(torch.optim.RMSprop):
        def __init__(self, params, **kwargs):
            made.append(kwargs)
            super().__init__(params, **kwargs)

    monkeypatch.setattr(torch.optim, "RMSprop", RecordingRMSprop)
    ns["train_a2c"](num_envs=4, seed=0, args=ns["A2CArgs"](total_steps=256, lr=2e-3))
    assert made == [{"lr": 2e-3, "alpha": 0.99, "eps": 1e-5}]


@pytest.mark.slow
def test_a2c_beats_the_sb3_figures(ns: dict) -> None:
    """The closing note: on seeds 0-2 every run meets its stopping rule well inside the budget,
    its greedy policy then averages >= 475 on 20 fresh episodes, and the median number of steps
    (12,512 when measured, two networks and RMSprop) is well below the shared trunk's 46,080."""
    ends, greedy = [], []
    for seed in range(3):
        model, steps, _ = ns["train_a2c"](seed=seed)
        ends.append(steps[-1])
        greedy.append(ns["greedy_mean_return"](model, 20, seed=54321 + seed))
    assert min(greedy) >= 475, greedy
    assert max(ends) < 100_000 - 8 * 16, ends
    assert np.median(ends) < 30_000, ends


# --------------------------------------------------------------------------- exercise 8: quiz


def test_quiz_gives_partial_credit(lesson: Lesson, ns: dict, capsys) -> None:
    """Each right answer is worth half a point; a wrong one's explanation is never printed."""
    assert lesson.quiz_score(ns) == 2.0
    capsys.readouterr()
    assert lesson.quiz_score(ns, "answer_q4 = 782", "answer_q4 = 781") == 1.5
    out = capsys.readouterr().out
    assert "answer_q4: not right." in out and "ceil(" not in out
    assert "answer_q1: right." in out
    wrong = 'answer_q1 = "c"\nanswer_q2 = "b"\nanswer_q3 = "c"'
    assert lesson.quiz_score(ns, 'answer_q1 = "b"\nanswer_q2 = "a"\nanswer_q3 = "a"', wrong) == 0.5


def test_quiz_stub_is_placeholders(lesson: Lesson) -> None:
    """The release shows `answer_qN = None` placeholders, not a bare raise."""
    visible = lesson.cell("quiz").source.split("### BEGIN SOLUTION")[0]
    for n in range(1, 5):
        assert f"answer_q{n} = None" in visible
