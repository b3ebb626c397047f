"""rlhelpers.rlhf: lesson 07's engine (reward model, PPO, DPO, GRPO, evaluation, experiments).

The contracts (shapes, determinism per seed, the student's functions really
called: a wrong one changes the result, a spy counts the calls, a malformed
output is refused with a message) and the measured properties the lesson states,
with reference implementations of the student's functions written here (the
engine holds none: they are the answers of lessons 05-07).

The properties (thresholds below, each with what was measured on seeds 0-9 when
it was set):
- PPO with the reference functions raises the true utility above the SFT
  policy's on 10/10 seeds;
- over-optimisation: with a weaker KL penalty the reward-model score is higher
  and the KL larger, while the true utility of the least penalised run falls
  below that of a moderately penalised one (Gao et al. 2022's shape);
- the case study: the prompt-only state never finishes an answer; the fix
  (full state, gamma 0.99) beats the full state with gamma 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import rlhelpers
from rlhelpers import labellers, rlhf, tinylm
from rlhelpers.tinytask import END_ID, PAD_ID, sample_prompts

# --------------------------------------------------------------------------- reference answers


def bradley_terry_loss(chosen, rejected):
    return -nn.functional.logsigmoid(chosen - rejected).mean()


def train_reward_model(data, loss_fn, seed=0, steps=300, batch_size=32, lr=1e-3):
    """Lesson 07's reward-model exercise, for reference: Adam on a scalar head of the SFT trunk."""
    reward_model = tinylm.with_scalar_head(tinylm.pretrained_policy(0), seed)
    optimizer = torch.optim.Adam(reward_model.parameters(), lr=lr)
    rows = np.random.default_rng(seed).integers(len(data), size=(steps, batch_size))
    for batch in torch.as_tensor(rows, device=data.prompts.device):
        scores = reward_model.score(
            data.prompts[batch].repeat(2, 1), torch.cat([data.chosen[batch], data.rejected[batch]])
        )
        loss = loss_fn(scores[:batch_size], scores[batch_size:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return reward_model.eval().requires_grad_(False)


def build_state(prompts, generated):
    return torch.cat([prompts, generated], dim=1)


def kl_penalized_rewards(scores, log_probs, ref_log_probs, beta, mask):
    real = mask.to(log_probs.dtype)
    rewards = -beta * (log_probs - ref_log_probs) * real
    last = mask.long().sum(dim=1) - 1
    rewards[torch.arange(len(scores)), last] += scores.to(rewards.dtype)
    return rewards


def response_log_probs(logits, sequences, prompt_length):
    log_probs = torch.log_softmax(logits[:, prompt_length - 1 : -1], dim=-1)
    return log_probs.gather(-1, sequences[:, prompt_length:, None]).squeeze(-1)


def buggy_response_log_probs(logits, sequences, prompt_length):
    """Lesson 07's debugging exercise: the logits of the token itself, not of the one before."""
    log_probs = torch.log_softmax(logits[:, prompt_length:], dim=-1)
    return log_probs.gather(-1, sequences[:, prompt_length:, None]).squeeze(-1)


def ppo_clip_loss(new_log_probs, old_log_probs, advantages, clip_eps=0.2):
    ratio = torch.exp(new_log_probs - old_log_probs)
    clipped = torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps)
    return -torch.min(ratio * advantages, clipped * advantages).mean()


def gae(rewards, values, dones, gamma, lam, last_value):
    not_done = 1.0 - np.asarray(dones, dtype=np.float64)
    next_values = np.concatenate([values[1:], np.asarray(last_value)[None]])
    deltas = rewards + gamma * next_values * not_done - values
    advantages, running = np.zeros_like(rewards), np.zeros(rewards.shape[1:])
    for t in reversed(range(len(rewards))):
        running = deltas[t] + gamma * lam * not_done[t] * running
        advantages[t] = running
    return advantages


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return -nn.functional.logsigmoid(beta * margin).mean()


def group_relative_advantages(rewards, group_size):
    groups = rewards.reshape(-1, group_size)
    centred = groups - groups.mean(dim=1, keepdim=True)
    return (centred / (groups.std(dim=1, keepdim=True) + 1e-4)).reshape(-1)


PPO_FUNCTIONS = {
    "build_state": build_state,
    "kl_penalized_rewards": kl_penalized_rewards,
    "response_log_probs": response_log_probs,
    "ppo_clip_loss": ppo_clip_loss,
    "gae": gae,
}
DPO_FUNCTIONS = {"dpo_loss": dpo_loss, "response_log_probs": response_log_probs}
GRPO_FUNCTIONS = {
    "group_relative_advantages": group_relative_advantages,
    "ppo_clip_loss": ppo_clip_loss,
    "response_log_probs": response_log_probs,
}

TINY_PPO = rlhf.PPOConfig(iterations=3, batch_size=16, eval_size=32)
TINY_DPO = rlhf.DPOConfig(steps=5, batch_size=16, eval_size=32)
TINY_GRPO = rlhf.GRPOConfig(iterations=3, prompts=4, eval_size=32)

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def policy() -> tinylm.TinyTransformer:
    rlhelpers.device()
    return tinylm.pretrained_policy(0)


@pytest.fixture(scope="module")
def pairs(policy):
    return labellers.preference_pairs(policy, 2000, seed=0).split(0.25)


@pytest.fixture(scope="module")
def reward_model(pairs):
    return train_reward_model(pairs[0], bradley_terry_loss, seed=0)


# --------------------------------------------------------------------------- reward model


def test_preference_accuracy_of_a_learned_and_of_a_wrongly_trained_reward_model(
    pairs, reward_model
):
    train, test = pairs
    assert rlhf.preference_accuracy(reward_model, test) > 0.66  # 0.72 on seed 0
    flipped = train_reward_model(train, lambda c, r: bradley_terry_loss(r, c), seed=0, steps=40)
    assert rlhf.preference_accuracy(flipped, test) < 0.45


def test_rlhelpers_holds_none_of_the_lessons_answers():
    """The exercises of lessons 05-07 are the student's: no function of theirs is in rlhelpers."""
    forbidden = (
        "build_state",
        "kl_penalized_rewards",
        "ppo_clip_loss",
        "gae",
        "kl_estimates",
        "dpo_loss",
        "group_relative_advantages",
        "response_log_probs",
        "bradley_terry_loss",
        "train_reward_model",
    )
    package = Path(rlhelpers.__file__).parent
    for source in package.rglob("*.py"):
        text = source.read_text()
        for name in forbidden:
            assert f"def {name}(" not in text, f"{source.name} defines {name}"
    assert not any(hasattr(rlhf, name) for name in forbidden)


# --------------------------------------------------------------------------- states and layout


def _prompts_and_responses(policy, n=6, seed=0):
    generator = torch.Generator(rlhelpers.device()).manual_seed(seed)
    prompts = sample_prompts(n, generator)
    return prompts, rlhf._sample(policy, prompts, build_state, 16, generator)


def test_the_layout_puts_each_states_output_where_the_full_sequence_would(policy):
    prompts, responses = _prompts_and_responses(policy)
    full = rlhf._Layout(prompts, responses, build_state)
    assert full.is_prefix
    assert torch.equal(full.outputs(policy), policy(torch.cat([prompts, responses], 1)))

    def window(p, generated):  # the last 3 tokens only: the stacked path
        return torch.cat([p, generated], 1)[:, -3:]

    laid = rlhf._Layout(prompts, responses, window).outputs(policy)
    for t in range(responses.shape[1]):
        state = window(prompts, responses[:, :t])
        torch.testing.assert_close(laid[:, prompts.shape[1] - 1 + t], policy(state)[:, -1])
    shared = rlhf._Layout(prompts, responses, rlhf.prompt_only_state)
    assert shared.is_shared
    expected = policy(prompts)[:, -1:].expand(-1, responses.shape[1], -1)
    torch.testing.assert_close(shared.outputs(policy)[:, 1:-1], expected)


def test_a_malformed_state_or_log_prob_is_refused_with_a_message(reward_model):
    with pytest.raises(ValueError, match="build_state must return"):
        rlhf.train_ppo(reward_model, TINY_PPO, **{**PPO_FUNCTIONS, "build_state": lambda p, g: g})
    short = {
        **PPO_FUNCTIONS,
        "response_log_probs": lambda lg, s, p: response_log_probs(lg, s, p)[:, 1:],
    }
    with pytest.raises(ValueError, match="response_log_probs must return"):
        rlhf.train_ppo(reward_model, TINY_PPO, **short)
    one_column = {**PPO_FUNCTIONS, "kl_penalized_rewards": lambda s, *rest: s[:, None]}
    with pytest.raises(ValueError, match="kl_penalized_rewards must return"):
        rlhf.train_ppo(reward_model, TINY_PPO, **one_column)


# --------------------------------------------------------------------------- evaluation


def test_the_sft_policy_against_itself(policy, reward_model):
    evaluation = rlhf.evaluate(policy, reward_model, n=256)
    assert evaluation.kl == pytest.approx(0.0, abs=1e-5)
    assert 0.4 < evaluation.win_rate < 0.6  # two independent samples of one policy
    assert evaluation.unfinished == 0.0 and 0.5 < evaluation.distinct <= 1.0
    assert 0.3 < evaluation.true_utility < 0.9  # 0.61 measured
    assert len(evaluation.examples) == 4 and " -> " in evaluation.examples[0]


def test_the_eos_trick_charges_a_cut_response():
    responses = torch.tensor([[5, 6, END_ID, PAD_ID], [5, 6, 7, 8]])
    scores = rlhf._penalised_scores(torch.tensor([1.0, 1.0]), lambda s: s, responses, 1.0)
    torch.testing.assert_close(scores, torch.tensor([1.0, 0.0]))
    unchanged = rlhf._penalised_scores(torch.tensor([1.0, 1.0]), lambda s: s, responses, None)
    torch.testing.assert_close(unchanged, torch.tensor([1.0, 1.0]))


def test_the_gae_episode_ends_on_the_last_real_token():
    seen = {}

    def spy(rewards, values, dones, gamma, lam, last_value):
        seen["dones"] = dones
        return gae(rewards, values, dones, gamma, lam, last_value)

    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    rewards = torch.tensor([[0.0, 0.0, 1.0], [2.0, 0.0, 0.0]])
    advantages = rlhf._gae_on_tokens(spy, rewards, torch.zeros(2, 3), mask, 1.0, 1.0)
    np.testing.assert_array_equal(seen["dones"], [[0, 1], [0, 0], [1, 0]])  # time first
    torch.testing.assert_close(advantages, torch.tensor([[1.0, 1.0, 1.0], [2.0, 0.0, 0.0]]))


# ------------------------------------------------------------------ PPO, DPO, GRPO contracts


def _history(result):
    return [tuple(row.values()) for row in result.history]


def test_ppo_is_deterministic_per_seed_and_calls_every_function(reward_model):
    counts = dict.fromkeys(PPO_FUNCTIONS, 0)

    def counted(name):
        def call(*args):
            counts[name] += 1
            return PPO_FUNCTIONS[name](*args)

        return call

    spied = {name: counted(name) for name in PPO_FUNCTIONS}
    first = rlhf.train_ppo(reward_model, TINY_PPO, **spied)
    assert counts["kl_penalized_rewards"] == counts["gae"] == 3
    assert counts["ppo_clip_loss"] == 3 * TINY_PPO.epochs
    assert counts["response_log_probs"] == 3 * (2 + TINY_PPO.epochs)  # old, reference, epochs
    assert counts["build_state"] > 3 * 2
    again = rlhf.train_ppo(reward_model, TINY_PPO, **PPO_FUNCTIONS)
    other = rlhf.train_ppo(
        reward_model, rlhf.PPOConfig(**{**TINY_PPO.__dict__, "seed": 1}), **PPO_FUNCTIONS
    )
    assert _history(first) == _history(again) and first.final == again.final
    assert _history(first) != _history(other)
    assert len(first.history) == 3 and set(first.history[0]) == {
        "score",
        "true_utility",
        "kl",
        "distinct",
        "beta",
    }
    assert (
        first.reward_model_calls == 4 * 16 + 3 * 16
    )  # the normalisation batch, then one per answer
    assert first.wall_seconds > 0 and first.cpu_seconds > 0


CUT_PPO = rlhf.PPOConfig(**{**TINY_PPO.__dict__, "max_length": 4})
"""TINY_PPO with answers cut at 4 tokens, so that the missing-EOS penalty has work to do."""


@pytest.fixture(scope="module")
def cut_run(reward_model):
    return rlhf.train_ppo(reward_model, CUT_PPO, **PPO_FUNCTIONS)


@pytest.mark.parametrize(
    "switch",
    [
        {"whiten_advantages": False},
        {"missing_eos_penalty": None},
        {"normalize_reward": False},
        {"temperature": 0.7},
        {"target_kl": 0.05},
    ],
)
def test_each_implementation_detail_switch_changes_the_run(reward_model, cut_run, switch):
    changed = rlhf.PPOConfig(**{**CUT_PPO.__dict__, **switch})
    assert _history(cut_run) != _history(rlhf.train_ppo(reward_model, changed, **PPO_FUNCTIONS))


def test_the_adaptive_kl_coefficient_moves_towards_its_target(reward_model):
    run = rlhf.train_ppo(
        reward_model, rlhf.PPOConfig(**{**TINY_PPO.__dict__, "target_kl": 0.05}), **PPO_FUNCTIONS
    )
    betas, kls = [row["beta"] for row in run.history], [row["kl"] for row in run.history]
    assert betas[0] == TINY_PPO.beta
    for before, after, kl in zip(betas, betas[1:], kls, strict=False):
        assert (after > before) == (kl > 0.05), (betas, kls)  # KL 0 at first: beta falls
        assert abs(after / before - 1) <= 0.2 * 16 / 640 + 1e-9


def test_a_wrong_log_prob_function_changes_ppo_dpo_and_grpo(reward_model, pairs):
    wrong = {"response_log_probs": buggy_response_log_probs}
    runs = [
        lambda f: rlhf.train_ppo(reward_model, TINY_PPO, **{**PPO_FUNCTIONS, **f}),
        lambda f: rlhf.train_dpo(pairs[0], TINY_DPO, **{**DPO_FUNCTIONS, **f}),
        lambda f: rlhf.train_grpo(reward_model, TINY_GRPO, **{**GRPO_FUNCTIONS, **f}),
    ]
    for run in runs:
        assert _history(run({})) != _history(run(wrong))


def test_dpo_and_grpo_contracts(reward_model, pairs):
    dpo = rlhf.train_dpo(pairs[0], TINY_DPO, reward_model=reward_model, **DPO_FUNCTIONS)
    assert len(dpo.history) == 5 and dpo.reward_model_calls == 0
    assert dpo.history[0]["loss"] == pytest.approx(np.log(2), abs=1e-4)  # policy = reference
    assert _history(dpo) == _history(rlhf.train_dpo(pairs[0], TINY_DPO, **DPO_FUNCTIONS))
    grpo = rlhf.train_grpo(reward_model, TINY_GRPO, **GRPO_FUNCTIONS)
    assert grpo.reward_model_calls == 3 * 4 * 4 and len(grpo.history) == 3
    interleaved = {
        **GRPO_FUNCTIONS,
        "group_relative_advantages": lambda r, g: group_relative_advantages(
            r.reshape(g, -1).T.reshape(-1), g
        ),
    }
    assert _history(grpo) != _history(rlhf.train_grpo(reward_model, TINY_GRPO, **interleaved))


# --------------------------------------------------------------------------- measured properties

SHORT_PPO = rlhf.PPOConfig(iterations=15, eval_size=128)
"""The measured tests' PPO budget: half the default iterations (about 2.5 CPU-s a run)."""

SFT_TRUE_UTILITY = 0.61
"""The SFT policy's mean true utility on the evaluation prompts (measured, policy seed 0)."""

PPO_TRUE_GAIN_ABOVE = 0.2
"""How far SHORT_PPO lifts the true utility above the SFT policy's, at least.

Measured on PPO seeds 0-9 (reward model of seed 0, held-out accuracy 0.728): 0.93-1.25,
a gain of 0.31-0.64; win rates against the SFT answers 0.52-0.70 (median 0.63)."""

OVER_OPTIMISATION_BETAS = (0.3, 0.01)
"""A moderate and a weak KL coefficient (PPOConfig's default budget)."""

OVER_OPTIMISATION_LOSS_ABOVE = 0.1
"""How much true utility the weak penalty loses against the moderate one, on 2 seeds of 3.

Measured (reward model of seed 0), beta 0.3 -> 0.01: seed 0 true utility 1.02 -> 0.79 (KL
1.3 -> 8.9 nats, reward-model score 0.34 -> 1.29), seed 1 1.16 -> 0.71 (KL 1.6 -> 6.7,
score 0.34 -> 1.34), seed 2 1.12 -> 0.75 (KL 1.0 -> 8.5, score 0.26 -> 1.25)."""


@pytest.fixture(scope="module")
def short_ppo_runs(reward_model):
    """SHORT_PPO with the reference functions on seeds 0-9 (reward model of seed 0)."""
    return [
        rlhf.train_ppo(
            reward_model, rlhf.PPOConfig(**{**SHORT_PPO.__dict__, "seed": seed}), **PPO_FUNCTIONS
        )
        for seed in range(10)
    ]


def test_ppo_raises_the_true_utility_on_10_seeds(policy, reward_model, short_ppo_runs):
    assert rlhf.evaluate(policy, reward_model).true_utility == pytest.approx(
        SFT_TRUE_UTILITY, abs=0.01
    )
    for seed, run in enumerate(short_ppo_runs):
        final = run.final
        assert final.true_utility > SFT_TRUE_UTILITY + PPO_TRUE_GAIN_ABOVE, (seed, final)
        assert final.unfinished < 0.05, (seed, final)
    assert np.median([run.final.win_rate for run in short_ppo_runs]) > 0.55


def test_over_optimisation_the_score_rises_with_the_kl_and_the_true_utility_falls(reward_model):
    shapes = []
    for seed in range(3):
        strong, weak = (
            rlhf.train_ppo(
                reward_model, rlhf.PPOConfig(beta=beta, seed=seed), **PPO_FUNCTIONS
            ).final
            for beta in OVER_OPTIMISATION_BETAS
        )
        assert weak.kl > 2 * strong.kl and weak.score > strong.score, (seed, strong, weak)
        shapes.append(weak.true_utility < strong.true_utility - OVER_OPTIMISATION_LOSS_ABOVE)
    assert sum(shapes) >= 2, shapes


def test_case_study_the_prompt_only_state_never_ends_and_gamma_0_loses_to_gamma_1(
    reward_model, short_ppo_runs
):
    blind = rlhf.train_ppo(
        reward_model,
        rlhf.PPOConfig(**{**SHORT_PPO.__dict__, "gamma": 0.99}),
        **{**PPO_FUNCTIONS, "build_state": rlhf.prompt_only_state},
    ).final
    assert blind.unfinished > 0.9 and blind.true_utility < -3, blind  # 1.0, -6.5 measured
    myopic = rlhf.train_ppo(
        reward_model, rlhf.PPOConfig(**{**SHORT_PPO.__dict__, "gamma": 0.0}), **PPO_FUNCTIONS
    ).final
    assert myopic.true_utility < short_ppo_runs[0].final.true_utility - 0.2, (
        myopic
    )  # 0.45 and 1.22 measured
