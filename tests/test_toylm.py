"""rlhelpers.toylm: the toy language model, its reward model, and the RLHF-with-PPO loop.

The loop takes the lesson's functions as arguments; rlhelpers holds none of
them, so this file defines reference versions of its own (to the issue's
contracts) and checks the outcomes the lesson relies on: the case study (the
broken state and gamma do not improve the score, the fixed run does with a
bounded KL) and reward hacking (beta = 0 collapses onto the reward model's
weakness, beta = 0.2 does not), on one seed here and on ten in the slow tests.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import rlhelpers
from rlhelpers import toylm

# --------------------------------------------------------------------------- the lesson's functions


def build_state(prompt_tokens, generated_tokens):
    """The prompt followed by every token generated so far."""
    return torch.cat([prompt_tokens, generated_tokens], dim=1)


def kl_penalized_rewards(scores, log_probs, ref_log_probs, beta, mask):
    """-beta * (log pi - log pi_ref) per real token, the score added on each response's last one."""
    rewards = -beta * (log_probs - ref_log_probs) * mask
    last = mask.sum(dim=1).long() - 1
    rewards[torch.arange(len(scores), device=scores.device), last] += scores
    return rewards


def ppo_clip_loss(new_log_probs, old_log_probs, advantages, clip_eps=0.2):
    """-mean(min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A))."""
    ratio = torch.exp(new_log_probs - old_log_probs)
    clipped = ratio.clamp(1 - clip_eps, 1 + clip_eps)
    return -torch.min(ratio * advantages, clipped * advantages).mean()


def gae(rewards, values, dones, gamma, lam, last_value):
    """Lesson 05's GAE on NumPy arrays, time first."""
    rewards, values = np.asarray(rewards, float), np.asarray(values, float)
    not_done = 1.0 - np.asarray(dones, float)
    next_values = np.concatenate([values[1:], np.asarray(last_value, float)[None]])
    deltas = rewards + gamma * next_values * not_done - values
    advantages, running = np.zeros_like(rewards), np.zeros(rewards.shape[1:])
    for t in reversed(range(len(rewards))):
        running = deltas[t] + gamma * lam * not_done[t] * running
        advantages[t] = running
    return advantages


LESSON_FUNCTIONS = (kl_penalized_rewards, ppo_clip_loss, gae)

# The runs the lesson shows: (config, state).
RUNS = {
    "fixed": (toylm.RLHFConfig(), build_state),
    "broken": (toylm.RLHFConfig(gamma=0.0), toylm.prompt_only_state),
    "beta 0": (toylm.RLHFConfig(beta=0.0), build_state),
}


@functools.cache
def run(name: str, seed: int) -> toylm.RLHFResult:
    """One of RUNS on one seed, trained once per test session."""
    config, state = RUNS[name]
    return toylm.train_rlhf(dataclasses.replace(config, seed=seed), state, *LESSON_FUNCTIONS)


def tokens(*texts: str) -> torch.Tensor:
    """Rows of token ids, right-padded with PAD_ID, on rlhelpers.device()."""
    rows = [toylm.encode(text) for text in texts]
    width = max(map(len, rows))
    padded = [row + [toylm.PAD_ID] * (width - len(row)) for row in rows]
    return torch.tensor(padded, device=rlhelpers.device())


# --------------------------------------------------------------------------- vocabulary and text


def test_vocabulary_has_padding_zero_and_an_end_token():
    assert toylm.PAD_ID == 0 and toylm.VOCAB[0] == "<pad>"
    assert toylm.VOCAB[toylm.END_ID] == "<end>" and toylm.END_ID != toylm.PAD_ID
    assert 20 <= len(toylm.VOCAB) <= 99 and len(set(toylm.VOCAB)) == len(toylm.VOCAB)
    assert toylm.decode(torch.tensor(toylm.encode("the cat is soft <end>") + [0, 0])) == [
        "the cat is soft <end>"
    ]
    with pytest.raises(ValueError, match="not in the toy vocabulary"):
        toylm.encode("the cat is fluffy")


def test_pretraining_text_is_prompts_with_ended_responses_of_variable_length():
    text = toylm.pretraining_text(500, seed=3)
    assert text.shape == (500, toylm.PROMPT_LENGTH + 11) and text.dtype == torch.long
    assert (text[:, 0] == toylm.TOKEN_ID["describe"]).all()
    subjects = {toylm.TOKEN_ID[s] for s in toylm.SUBJECTS}
    assert set(text[:, 1].tolist()) == subjects, "every subject is asked about"
    responses = text[:, toylm.PROMPT_LENGTH :]
    mask = toylm.response_mask(responses)
    lengths = mask.sum(1).long()
    assert ((responses == toylm.END_ID).sum(1) == 1).all(), "exactly one <end> per response"
    assert (responses[torch.arange(500), lengths - 1] == toylm.END_ID).all(), "<end> comes last"
    assert (mask == (torch.arange(11) < lengths[:, None])).all(), "padding only after <end>"
    assert len(set(lengths.tolist())) >= 6, "responses of many lengths"
    assert torch.equal(text, toylm.pretraining_text(500, seed=3)), "deterministic per seed"
    assert not torch.equal(text, toylm.pretraining_text(500, seed=4))


def test_sample_prompts_shape_device_and_seed():
    def prompts(seed):
        return toylm.sample_prompts(32, torch.Generator(rlhelpers.device()).manual_seed(seed))

    first = prompts(1)
    assert first.shape == (32, 2) and first.device.type == rlhelpers.device().type
    assert torch.equal(first, prompts(1)) and not torch.equal(first, prompts(2))
    assert set(toylm.decode(first[:, 1:])) <= set(toylm.SUBJECTS)


# --------------------------------------------------------------------------- networks


def test_toy_lm_is_causal_and_never_predicts_padding():
    model = toylm.ToyLM().to(rlhelpers.device())
    sequence = tokens("describe cat the cat is soft <end>", "describe dog i do not know <end>")
    logits = model(sequence)
    assert logits.shape == (2, sequence.shape[1], len(toylm.VOCAB))
    changed = sequence.clone()
    changed[:, 4] = toylm.TOKEN_ID["very"]
    torch.testing.assert_close(model(changed)[:, :4], logits[:, :4])
    assert not torch.allclose(model(changed)[:, 4:], logits[:, 4:]), "later positions see it"
    assert (torch.softmax(logits, -1)[..., toylm.PAD_ID] == 0).all()
    values = toylm.ValueNetwork().to(rlhelpers.device())(sequence)
    assert values.shape == sequence.shape


def test_pretrained_reference_is_frozen_deterministic_and_a_fresh_copy():
    first, second = toylm.pretrained_reference(0), toylm.pretrained_reference(0)
    assert first is not second
    assert next(first.parameters()).device.type == rlhelpers.device().type
    assert not any(p.requires_grad for p in first.parameters()), "the reference is frozen"
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)
    with torch.no_grad():
        next(first.parameters()).add_(1.0)
    assert not torch.equal(
        next(first.parameters()), next(toylm.pretrained_reference(0).parameters())
    )


def _response_nll(model, text) -> float:
    """Mean negative log-likelihood (nats) of the response tokens of ``text``."""
    text = text.to(rlhelpers.device())
    targets = text[:, 1:].clone()
    targets[:, : toylm.PROMPT_LENGTH - 1] = toylm.PAD_ID
    logits = model(text[:, :-1])
    return torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), targets.flatten(), ignore_index=toylm.PAD_ID
    ).item()


def test_reference_gives_the_pretraining_text_high_likelihood():
    reference = toylm.pretrained_reference(0)
    held_out = toylm.pretraining_text(1000, seed=777)
    nll = _response_nll(reference, held_out)
    assert nll < 1.3, f"held-out text: {nll:.2f} nats per token (uniform: {math.log(45):.2f})"
    # The same words in a random order are far less likely.
    shuffled = held_out.clone()
    for row in shuffled:
        real = int((row != toylm.PAD_ID).sum())
        order = torch.randperm(
            real - toylm.PROMPT_LENGTH, generator=torch.Generator().manual_seed(0)
        )
        row[toylm.PROMPT_LENGTH : real] = row[toylm.PROMPT_LENGTH : real][order]
    assert _response_nll(reference, shuffled) > nll + 1.0


def test_reference_writes_like_the_text():
    reference = toylm.pretrained_reference(0)
    evaluation = toylm.evaluate_policy(reference, build_state, reference, n=512)
    text = toylm.pretraining_text(2000, seed=5).to(rlhelpers.device())
    text_score = toylm.RewardModel()(text[:, :2], text[:, 2:]).mean().item()
    assert abs(evaluation.score - text_score) < 0.25, (evaluation.score, text_score)
    assert evaluation.kl == pytest.approx(0.0, abs=1e-6)
    assert evaluation.distinct > 0.5
    assert all(example.endswith("<end>") for example in evaluation.examples)


# --------------------------------------------------------------------------- reward model


def _score(prompt: str, response: str) -> float:
    return toylm.RewardModel()(tokens(prompt), tokens(response)).item()


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("the cat is soft <end>", 1.5),
        ("the cat is soft and small and clever <end>", 2.5),
        ("the cat is soft and tall <end>", 1.0),  # one false adjective
        ("the dog is loyal <end>", -1.5),  # off topic: another subject, its adjective is false here
        ("i do not know <end>", 0.0),
        ("the cat is soft", 0.5),  # never ended
        ("the cat is soft and soft <end>", 1.0),  # a repeated word
        ("the cat is very soft <end>", 1.8),
        ("the cat very very very very very very very very soft <end>", 1.5 + 8 * 0.3),
    ],
)
def test_reward_model_points(response, expected):
    assert _score("describe cat", response) == pytest.approx(expected)


def test_reward_model_ranks_good_over_bad_and_ignores_padding():
    ranked = [
        "the cat is soft and small and clever <end>",
        "the cat is soft and quiet <end>",
        "the cat is soft <end>",
        "i do not know <end>",
        "the dog is loyal and big <end>",
        "the the the the the the",
    ]
    scores = toylm.RewardModel()(tokens(*["describe cat"] * len(ranked)), tokens(*ranked))
    assert scores.shape == (len(ranked),)
    assert (scores[:-1] > scores[1:]).all(), dict(zip(ranked, scores.tolist(), strict=True))
    padded = torch.nn.functional.pad(tokens(*ranked), (0, 3), value=toylm.PAD_ID)
    torch.testing.assert_close(
        toylm.RewardModel()(tokens(*["describe cat"] * len(ranked)), padded), scores
    )


def test_reward_model_weakness_is_very():
    """Each extra "very" adds points without limit; repeating any other word costs them."""
    very = [_score("describe cat", "the cat is " + "very " * n + "soft <end>") for n in range(9)]
    assert np.all(np.diff(very) == pytest.approx(toylm.RewardModel.VERY_BONUS))
    assert very[8] > 2.5 + 1.0, "the hack beats the honest optimum (2.5) by far"
    other = [_score("describe cat", "the cat is " + "soft " * n + "<end>") for n in range(1, 5)]
    assert np.all(np.diff(other) < 0)


def test_honest_judge_has_no_weakness():
    honest = toylm.RewardModel(honest=True)
    prompts = tokens(*["describe cat"] * 3)
    responses = tokens(
        "the cat is soft and small <end>",
        "the cat is very soft and small <end>",
        "the cat is very very very soft and small <end>",
    )
    torch.testing.assert_close(
        honest(prompts, responses), torch.tensor([2.0, 2.0, 1.0]).to(prompts.device)
    )
    honest_points = honest(tokens("describe cat"), tokens("the cat is soft <end>")).item()
    assert honest_points == _score("describe cat", "the cat is soft <end>"), "same points otherwise"


# --------------------------------------------------------------------------- sampling


def _generate(state=build_state, seed=0, batch=16, max_length=12):
    generator = torch.Generator(rlhelpers.device()).manual_seed(seed)
    prompts = toylm.sample_prompts(batch, generator)
    policy = toylm.pretrained_reference(0)
    return (prompts, *toylm.generate(policy, prompts, state, max_length, generator))


def test_generate_pads_after_end_and_keeps_its_states():
    prompts, responses, states = _generate()
    length = responses.shape[1]
    assert responses.shape[0] == 16 and 1 <= length <= 12 and len(states) == length
    mask = toylm.response_mask(responses)
    ended = (responses == toylm.END_ID).sum(1)
    assert (ended <= 1).all()
    ends = mask.sum(1).long() - 1
    finished = responses[torch.arange(16, device=ends.device), ends] == toylm.END_ID
    assert (finished | (mask.sum(1) == 12)).all(), "a response ends with <end> or is cut at 12"
    assert (mask == (torch.arange(length, device=mask.device) <= ends[:, None])).all()
    for t, state in enumerate(states):
        assert torch.equal(state, build_state(prompts, responses[:, :t]))
    again = _generate()
    assert torch.equal(again[1], responses), "same generator seed, same responses"


def test_generate_checks_the_state():
    with pytest.raises(ValueError, match=r"build_state must return a tensor \[B, S\]"):
        _generate(state=lambda prompt, generated: prompt[0])
    with pytest.raises(ValueError, match="long tokens"):
        _generate(state=lambda prompt, generated: prompt.float())


def test_packed_states_match_one_forward_per_state():
    """Nested states (run once) and any other states (stacked) give each state's last output."""
    model = toylm.ToyLM().to(rlhelpers.device())
    for state in (build_state, toylm.prompt_only_state, lambda p, g: torch.cat([g.flip(1), p], 1)):
        _, _, states = _generate(state=state)
        expected = torch.stack([model(s)[:, -1] for s in states], dim=1)
        torch.testing.assert_close(toylm._States(states).outputs(model), expected)


# --------------------------------------------------------------------------- the loop


def test_train_rlhf_calls_the_lessons_functions_as_documented():
    seen = {}

    def spy_rewards(scores, log_probs, ref_log_probs, beta, mask):
        seen.update(scores=scores, log_probs=log_probs, ref=ref_log_probs, beta=beta, mask=mask)
        return kl_penalized_rewards(scores, log_probs, ref_log_probs, beta, mask)

    def spy_loss(new, old, advantages, clip_eps):
        seen.update(new=new, old=old, advantages=advantages, clip_eps=clip_eps)
        return ppo_clip_loss(new, old, advantages, clip_eps)

    def spy_gae(rewards, values, dones, gamma, lam, last_value):
        seen.update(dones=dones, gamma=gamma, lam=lam, last_value=last_value, gae_rewards=rewards)
        return gae(rewards, values, dones, gamma, lam, last_value)

    config = toylm.RLHFConfig(iterations=2, batch_size=8, eval_size=16, beta=0.3, clip_eps=0.1)
    result = toylm.train_rlhf(config, build_state, spy_rewards, spy_loss, spy_gae)
    mask = seen["mask"]
    batch, length = mask.shape
    assert seen["scores"].shape == (8,) and seen["log_probs"].shape == (8, length)
    assert seen["beta"] == 0.3 and seen["clip_eps"] == 0.1
    assert (seen["log_probs"][mask == 0] == 0).all() and (seen["ref"][mask == 0] == 0).all()
    assert isinstance(seen["gae_rewards"], np.ndarray) and seen["gae_rewards"].shape == (length, 8)
    dones = seen["dones"]
    assert (dones.sum(axis=0) == 1).all(), "one done per response"
    last = mask.sum(1).long().cpu().numpy() - 1
    assert (dones[last, np.arange(8)] == 1).all(), "done on each response's last real token"
    assert (seen["gamma"], seen["lam"]) == (0.99, 0.95) and np.all(seen["last_value"] == 0)
    assert seen["new"].shape == seen["old"].shape == seen["advantages"].shape
    assert seen["new"].shape == (int(mask.sum()),), "real tokens only, flattened"
    assert seen["advantages"].mean().abs() < 1e-5, "advantages are whitened"
    assert len(result.scores) == len(result.kls) == len(result.distinct) == 2
    assert isinstance(result.policy, toylm.ToyLM) and result.cpu_seconds > 0
    assert result.initial.score == pytest.approx(
        toylm.evaluate_policy(toylm.pretrained_reference(), build_state, n=16).score
    ), "the full-state run starts from the reference"


def test_train_rlhf_is_deterministic_per_seed():
    config = toylm.RLHFConfig(iterations=3, batch_size=16, eval_size=32)
    first = toylm.train_rlhf(config, build_state, *LESSON_FUNCTIONS)
    second = toylm.train_rlhf(config, build_state, *LESSON_FUNCTIONS)
    other = toylm.train_rlhf(dataclasses.replace(config, seed=1), build_state, *LESSON_FUNCTIONS)
    if rlhelpers.device().type == "cpu":
        assert first.scores == second.scores and first.kls == second.kls
    else:  # a GPU's embedding backward adds in any order: only the first batch is exact
        assert first.scores[0] == second.scores[0]
    assert first.scores != other.scores


def test_train_rlhf_checks_the_rewards_shape():
    config = toylm.RLHFConfig(iterations=1, batch_size=4, eval_size=8)
    with pytest.raises(ValueError, match=r"kl_penalized_rewards must return rewards \[B, L\]"):
        toylm.train_rlhf(config, build_state, lambda s, lp, ref, b, m: s, ppo_clip_loss, gae)


@pytest.mark.parametrize(
    ("field", "value"), [("gamma", 1.5), ("lam", -0.1), ("beta", -1.0), ("batch_size", 1)]
)
def test_rlhf_config_rejects_values_out_of_range(field, value):
    with pytest.raises(ValueError, match=f"RLHFConfig.{field} must be"):
        toylm.RLHFConfig(**{field: value})


def test_train_rlhf_progress_bar_is_optional(capsys):
    config = toylm.RLHFConfig(iterations=1, batch_size=4, eval_size=8)
    toylm.train_rlhf(config, build_state, *LESSON_FUNCTIONS)
    assert capsys.readouterr().err == "", "silent by default"
    toylm.train_rlhf(config, build_state, *LESSON_FUNCTIONS, progress=True)
    assert "RLHF" in capsys.readouterr().err


def test_preference_compares_prompt_by_prompt_with_ties_half():
    def evaluation(honest_scores):
        return toylm.Evaluation(0.0, 0.0, 1.0, honest_scores=tuple(honest_scores))

    result = toylm.RLHFResult(initial=evaluation([1.0, 1.0, 2.0, 0.0]))
    result.final = evaluation([2.0, 1.0, 1.0, 0.5])
    assert result.preference == pytest.approx((1 + 0.5 + 0 + 1) / 4)


def test_rlhelpers_holds_none_of_the_lessons_answers():
    """The lesson's exercises are the student's: no function of theirs is defined in rlhelpers."""
    forbidden = (
        "build_state",
        "kl_penalized_rewards",
        "ppo_clip_loss",
        "gae",
        "kl_estimates",
        "dpo_loss",
        "group_relative_advantages",
    )
    package = Path(rlhelpers.__file__).parent
    for source in package.rglob("*.py"):
        text = source.read_text()
        for name in forbidden:
            assert f"def {name}(" not in text, f"{source.name} defines {name}"
    assert not any(hasattr(toylm, name) for name in forbidden)


# --------------------------------------------------------------------------- outcomes

# What the lesson's text and grade cells rely on (the worst of ten seeds, with a margin).
FIXED_MIN_GAIN = 0.8  # final minus initial score
FIXED_MAX_KL = 5.0  # nats
BROKEN_MAX_GAIN = 0.3
HACKED_MAX_DISTINCT = 0.3
HACKED_MIN_KL = 20.0
FIXED_MIN_DISTINCT = 0.75
FIXED_MIN_PREFERENCE = 0.58  # the honest judge prefers the trained answer (ties half)
HACKED_MAX_PREFERENCE = 0.2


def check_case_study(seed: int) -> None:
    fixed, broken = run("fixed", seed), run("broken", seed)
    gain = fixed.final.score - fixed.initial.score
    assert gain >= FIXED_MIN_GAIN, f"seed {seed}: the fixed run gained only {gain:.2f}"
    assert fixed.final.kl <= FIXED_MAX_KL, f"seed {seed}: fixed KL {fixed.final.kl:.1f} nats"
    broken_gain = broken.final.score - broken.initial.score
    assert broken_gain <= BROKEN_MAX_GAIN, f"seed {seed}: the broken run gained {broken_gain:.2f}"
    assert broken.final.score < fixed.initial.score, "the broken run stays below the reference"


def check_reward_hacking(seed: int) -> None:
    hacked, fixed = run("beta 0", seed), run("fixed", seed)  # fixed: beta 0.2
    assert hacked.final.score > fixed.final.score, f"seed {seed}"
    assert hacked.final.distinct <= HACKED_MAX_DISTINCT, f"seed {seed}: {hacked.final.distinct}"
    assert hacked.final.kl >= HACKED_MIN_KL, f"seed {seed}: beta 0 KL {hacked.final.kl:.1f}"
    assert any("very very very" in text for text in hacked.final.examples), hacked.final.examples
    assert hacked.final.honest_score < hacked.initial.honest_score, (
        "hacking lowers the true quality"
    )
    assert fixed.final.honest_score > fixed.initial.honest_score + 0.2, "the fixed run is better"
    assert fixed.preference >= FIXED_MIN_PREFERENCE, f"seed {seed}: {fixed.preference:.2f}"
    assert hacked.preference <= HACKED_MAX_PREFERENCE, f"seed {seed}: {hacked.preference:.2f}"
    assert fixed.final.distinct >= FIXED_MIN_DISTINCT, f"seed {seed}: {fixed.final.distinct}"


def test_case_study_on_one_seed():
    check_case_study(seed=0)


def test_reward_hacking_on_one_seed():
    check_reward_hacking(seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 10))
def test_case_study_on_ten_seeds(seed):
    check_case_study(seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 10))
def test_reward_hacking_on_ten_seeds(seed):
    check_reward_hacking(seed)
