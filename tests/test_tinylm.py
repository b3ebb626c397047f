"""rlhelpers.tinylm and rlhelpers.labellers: lesson 07's transformer, SFT stage and labellers.

The network (shapes, causality, PAD never predicted, attention maps), the SFT
stage (deterministic, reaches its loss), the labellers (deterministic, mostly
right, measurably biased in the documented direction) and the feasibility of
the lesson's reward-model exercise: a reference Bradley-Terry reward model,
written here because the loss and the loop are the student's, reaches the
held-out accuracy the lesson will grade on (3 seeds here; 10 in the report of
the commit that added this file).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import rlhelpers
from rlhelpers import labellers, tinylm, tinytask
from rlhelpers.tinytask import END_ID, PAD_ID, VERY_ID, encode

SFT_LOSS_BELOW = 1.10
"""Held-out next-token loss (nats per response token) the SFT policy reaches.

Measured 1.073-1.078 on seeds 0-9 (2,048 held-out rows); lesson 06's ToyLM: 1.11."""

RM_ACCURACY_ABOVE = 0.66
"""Held-out preference accuracy of the reference reward model below.

Measured 0.686-0.750 on reward-model seeds 0-9 with the pairs of seed 0, and 0.676-0.738
with pair and reward-model seeds 0-9. The labellers' noise caps any model near 0.84 (the
mean of max(p, 1 - p)); the true utility itself, used as a reward model, scores 0.82."""


@pytest.fixture(scope="module")
def device() -> torch.device:
    return rlhelpers.device()


@pytest.fixture(scope="module")
def policy() -> tinylm.TinyTransformer:
    return tinylm.pretrained_policy(0)


@pytest.fixture(scope="module")
def pairs(policy) -> labellers.PreferenceData:
    return labellers.preference_pairs(policy, 2000, seed=0)


def _random_model(head: str = "lm", seed: int = 0) -> tinylm.TinyTransformer:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return tinylm.TinyTransformer(head=head).to(rlhelpers.device()).eval()


def _random_tokens(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, len(tinytask.VOCAB), (batch, length), generator=generator)
    return tokens.to(rlhelpers.device())


def _tokens(prompt: str, response: str, device) -> tuple[torch.Tensor, torch.Tensor]:
    return (
        torch.tensor([encode(prompt)], device=device),
        torch.tensor([encode(response)], device=device),
    )


# --------------------------------------------------------------------------- the task


def test_vocabulary_has_padding_zero_and_an_end_token():
    assert tinytask.PAD_ID == 0 and tinytask.VOCAB[0] == "<pad>"
    assert tinytask.VOCAB[tinytask.END_ID] == "<end>" and tinytask.END_ID != tinytask.PAD_ID
    assert 20 <= len(tinytask.VOCAB) <= 99 and len(set(tinytask.VOCAB)) == len(tinytask.VOCAB)
    assert tinytask.decode(torch.tensor(encode("the cat is soft <end>") + [0, 0])) == [
        "the cat is soft <end>"
    ]
    with pytest.raises(ValueError, match="not in the toy vocabulary"):
        encode("the cat is fluffy")


def test_pretraining_text_is_prompts_with_ended_responses_of_variable_length():
    text = tinytask.pretraining_text(500, seed=3)
    assert text.shape == (500, tinytask.PROMPT_LENGTH + 11) and text.dtype == torch.long
    assert (text[:, 0] == tinytask.TOKEN_ID["describe"]).all()
    subjects = {tinytask.TOKEN_ID[s] for s in tinytask.SUBJECTS}
    assert set(text[:, 1].tolist()) == subjects, "every subject is asked about"
    responses = text[:, tinytask.PROMPT_LENGTH :]
    mask = tinytask.response_mask(responses)
    lengths = mask.sum(1).long()
    assert ((responses == END_ID).sum(1) == 1).all(), "exactly one <end> per response"
    assert (responses[torch.arange(500), lengths - 1] == END_ID).all(), "<end> comes last"
    assert (mask == (torch.arange(11) < lengths[:, None])).all(), "padding only after <end>"
    assert len(set(lengths.tolist())) >= 6, "responses of many lengths"
    assert torch.equal(text, tinytask.pretraining_text(500, seed=3)), "deterministic per seed"
    assert not torch.equal(text, tinytask.pretraining_text(500, seed=4))


def test_sample_prompts_shape_device_and_seed():
    def prompts(seed):
        return tinytask.sample_prompts(32, torch.Generator(rlhelpers.device()).manual_seed(seed))

    first = prompts(1)
    assert first.shape == (32, 2) and first.device.type == rlhelpers.device().type
    assert torch.equal(first, prompts(1)) and not torch.equal(first, prompts(2))
    assert set(tinytask.decode(first[:, 1:])) <= set(tinytask.SUBJECTS)


# --------------------------------------------------------------------------- the network


def test_shapes(device):
    tokens = _random_tokens(3, 7)
    assert _random_model()(tokens).shape == (3, 7, len(tinytask.VOCAB))
    critic = _random_model("scalar")
    assert critic(tokens).shape == (3, 7)
    assert critic.score(tokens[:, :2], tokens[:, 2:]).shape == (3,)
    maps = _random_model().attention_maps(tokens[0])
    config = tinylm.TinyConfig()
    assert maps.shape == (config.layers, config.heads, 7, 7)
    assert _random_model().attention_maps(tokens).shape == (3, config.layers, config.heads, 7, 7)
    with pytest.raises(ValueError, match="max_positions"):
        _random_model()(_random_tokens(1, config.max_positions + 1))
    with pytest.raises(ValueError, match="head"):
        tinylm.TinyTransformer(head="value")
    with pytest.raises(ValueError, match="scalar"):
        _random_model().score(tokens[:, :2], tokens[:, 2:])


@pytest.mark.parametrize("head", ["lm", "scalar"])
def test_changing_a_later_token_never_changes_earlier_outputs(head):
    model, tokens = _random_model(head), _random_tokens(4, 10)
    with torch.no_grad():
        before = model(tokens)
        for position in (0, 4, 9):
            changed = tokens.clone()
            changed[:, position] = changed[:, position] % (len(tinytask.VOCAB) - 1) + 1
            after = model(changed)
            assert torch.equal(after[:, :position], before[:, :position]), position
            assert not torch.allclose(after[:, position], before[:, position]), position


def test_pad_is_never_predicted(policy, device):
    logits = _random_model()(_random_tokens(2, 5))
    assert torch.all(logits[..., PAD_ID] == tinylm.PAD_LOGIT)
    assert torch.all(torch.softmax(logits, -1)[..., PAD_ID] == 0)
    generator = torch.Generator(device).manual_seed(0)
    prompts = tinytask.sample_prompts(256, generator)
    responses = tinylm.generate(policy, prompts, 16, generator)
    real = responses != PAD_ID
    # PAD only after <end>: the real tokens are a prefix, ending with <end> when one was drawn
    assert torch.equal(real, real.cummin(dim=1).values)
    last = responses[torch.arange(len(responses), device=device), real.sum(1) - 1]
    finished = (responses == END_ID).any(1)
    assert torch.all(last[finished] == END_ID) and finished.float().mean() > 0.95


def test_attention_maps_are_causal_distributions_and_the_forward_pass_uses_them():
    model, tokens = _random_model(seed=1), _random_tokens(2, 9)
    with torch.no_grad():
        logits, weights = model.forward_with_attention(tokens)
        torch.testing.assert_close(logits, model(tokens), atol=1e-5, rtol=1e-5)
    future = torch.ones(9, 9, dtype=torch.bool, device=weights.device).triu(1)
    assert torch.all(weights[..., future] == 0), "a position attends to a later one"
    torch.testing.assert_close(weights.sum(-1), torch.ones_like(weights[..., 0]))
    assert torch.all(weights[..., 0, 0] == 1), "the first position can only read itself"


def test_score_reads_the_last_real_token(device):
    model = _random_model("scalar", seed=2)
    prompts, response = _tokens("describe cat", "the cat is soft <end>", device)
    with torch.no_grad():
        score = model.score(prompts, response)
        padded = model.score(prompts, nn.functional.pad(response, (0, 4), value=PAD_ID))
        values = model(torch.cat([prompts, response], 1))
    torch.testing.assert_close(score, values[:, -1])
    torch.testing.assert_close(padded, score, atol=1e-5, rtol=1e-5)


def test_with_scalar_head_starts_from_the_policy_trunk(policy):
    critic = tinylm.with_scalar_head(policy, seed=0)
    assert critic.head_kind == "scalar" and critic.head.out_features == 1
    assert all(p.requires_grad for p in critic.parameters())
    torch.testing.assert_close(critic.token.weight, policy.token.weight)
    torch.testing.assert_close(critic.blocks[1].mlp[2].weight, policy.blocks[1].mlp[2].weight)
    other = tinylm.with_scalar_head(policy, seed=1)
    assert not torch.equal(critic.head.weight, other.head.weight)


def test_generate_is_deterministic_and_greedy_at_temperature_zero(policy, device):
    def sample(seed, temperature=1.0):
        generator = torch.Generator(device).manual_seed(seed)
        prompts = tinytask.sample_prompts(64, generator)
        return tinylm.generate(policy, prompts, 16, generator, temperature)

    assert torch.equal(sample(3), sample(3))
    assert not torch.equal(sample(3), sample(4))
    greedy = sample(5, temperature=0.0)
    prompts = tinytask.sample_prompts(64, torch.Generator(device).manual_seed(5))
    with torch.no_grad():
        first = policy(prompts)[:, -1].argmax(-1)
    assert torch.equal(greedy[:, 0], first)


# --------------------------------------------------------------------------- the SFT stage


def test_sft_is_deterministic_frozen_and_reaches_its_loss(policy, device):
    again = tinylm._sft_state.__wrapped__(0, str(device))  # trained afresh, not the cached one
    for name, value in policy.state_dict().items():
        assert torch.equal(value, again[name]), name
    assert not any(p.requires_grad for p in policy.parameters()) and not policy.training
    held_out = tinytask.pretraining_text(2048, seed=10_000).to(device)
    with torch.no_grad():
        loss = tinylm.sft_loss(policy, held_out).item()
    assert loss < SFT_LOSS_BELOW, loss
    assert tinylm.pretrained_policy(0) is not policy  # a fresh copy each call


# --------------------------------------------------------------------------- the labellers

UTILITY_CASES = [
    ("describe cat", "the cat is soft and small <end>", 2.0),
    ("describe cat", "i do not know <end>", 0.0),
    ("describe cat", "the cat is very very soft <end>", 1.0),  # one repeated word
    ("describe cat", "the cat is loud <end>", 0.0),  # a false adjective
    ("describe cat", "the dog is loyal <end>", -2.0),  # another subject, false for the cat
    ("describe cat", "the cat is soft and small and quiet and clever <end>", 3.0),
    ("describe sun", "the sun is hot", 0.5),  # never ends
    ("describe sun", "the sun is hot and hot and hot <end>", 0.5),  # hot repeated twice
]


@pytest.mark.parametrize(("prompt", "response", "expected"), UTILITY_CASES)
def test_true_utility_by_hand(prompt, response, expected, device):
    prompts, responses = _tokens(prompt, response, device)
    assert labellers.true_utility(prompts, responses).item() == pytest.approx(expected)
    padded = nn.functional.pad(responses, (0, 3), value=PAD_ID)
    assert labellers.true_utility(prompts, padded).item() == pytest.approx(expected)


def test_labellers_bias_is_the_documented_one(device):
    prompts, plain = _tokens("describe cat", "the cat is soft <end>", device)
    emphatic = torch.tensor([encode("the cat is very soft <end>")], device=device)
    judge = labellers.LABELLERS
    assert labellers.true_utility(prompts, emphatic) == labellers.true_utility(prompts, plain)
    gap = judge.utility(prompts, emphatic) - judge.utility(prompts, plain)
    assert gap.item() == pytest.approx(judge.very_bonus + judge.length_bonus)
    p = judge.probability_first(prompts, emphatic, plain).item()
    assert p == pytest.approx(1 / (1 + np.exp(-0.6 / judge.temperature)))
    fair = labellers.SimulatedLabellers(very_bonus=0.0, length_bonus=0.0)
    assert fair.probability_first(prompts, emphatic, plain).item() == pytest.approx(0.5)


def test_preference_pairs_are_deterministic_and_well_formed(policy, pairs):
    again = labellers.preference_pairs(policy, 300, seed=0)
    other = labellers.preference_pairs(policy, 300, seed=1)
    first = labellers.preference_pairs(policy, 300, seed=0)
    assert torch.equal(first.chosen, again.chosen) and torch.equal(first.rejected, again.rejected)
    assert not torch.equal(first.chosen, other.chosen[:, : first.chosen.shape[1]])
    assert len(pairs) == 2000 and pairs.chosen.shape == pairs.rejected.shape
    assert (pairs.chosen != pairs.rejected).any(1).all(), "a pair of identical responses"
    assert torch.all(pairs.prompts[:, 0] == tinytask.TOKEN_ID["describe"])
    torch.testing.assert_close(
        pairs.chosen_utility, labellers.true_utility(pairs.prompts, pairs.chosen)
    )
    train, test = pairs.split(0.25)
    assert (len(train), len(test)) == (1500, 500)
    assert torch.equal(test.chosen, pairs.chosen[1500:])


def test_labellers_mostly_agree_with_the_true_utility_and_more_with_the_biased_one(pairs):
    true_margin = pairs.chosen_utility - pairs.rejected_utility
    biased_margin = pairs.chosen_labeller_utility - pairs.rejected_labeller_utility
    differ = true_margin != 0
    assert (true_margin[differ] > 0).float().mean() > 0.8  # measured 0.88 on seed 0
    # Where the two utilities order a pair differently, the labellers side with the biased one.
    disagree = torch.sign(true_margin) != torch.sign(biased_margin)
    assert disagree.sum() > 100
    sides_with_bias = (biased_margin[disagree] > 0).float().mean()
    assert sides_with_bias > 0.6, sides_with_bias  # measured 0.67


def test_emphatic_and_longer_answers_win_more_often_than_the_true_utility_says(pairs):
    true_tie = pairs.chosen_utility == pairs.rejected_utility
    more_very = (pairs.chosen == VERY_ID).sum(1) - (pairs.rejected == VERY_ID).sum(1)
    longer = labellers.response_lengths(pairs.chosen) - labellers.response_lengths(pairs.rejected)
    # the true utility calls these ties (1/2 each); the labellers do not
    emphatic = true_tie & (more_very != 0)
    assert emphatic.sum() > 50 and (more_very[emphatic] > 0).float().mean() > 0.65  # 0.73
    lengthy = true_tie & (more_very == 0) & (longer != 0)
    assert lengthy.sum() > 50 and (longer[lengthy] > 0).float().mean() > 0.55  # 0.61


# --------------------------------------------------------------------------- feasibility


def train_reference_reward_model(
    policy: tinylm.TinyTransformer,
    data: labellers.PreferenceData,
    seed: int,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 1e-3,
) -> tinylm.TinyTransformer:
    """Lesson 07's exercise, for reference: the Bradley-Terry loss, minimised by Adam.

    The reward model starts from the SFT policy's trunk with a new scalar head;
    each step scores a random batch of chosen and rejected responses in one pass
    and takes a step on -log sigmoid(r(x, y_w) - r(x, y_l)).
    """
    reward_model = tinylm.with_scalar_head(policy, seed)
    optimizer = torch.optim.Adam(reward_model.parameters(), lr=lr)
    rows = np.random.default_rng(seed).integers(len(data), size=(steps, batch_size))
    for batch in torch.as_tensor(rows, device=data.prompts.device):
        scores = reward_model.score(
            data.prompts[batch].repeat(2, 1), torch.cat([data.chosen[batch], data.rejected[batch]])
        )
        chosen, rejected = scores[:batch_size], scores[batch_size:]
        loss = -nn.functional.logsigmoid(chosen - rejected).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return reward_model.eval().requires_grad_(False)


@torch.no_grad()
def preference_accuracy(reward_model: tinylm.TinyTransformer, data) -> float:
    """How often the reward model scores the chosen response higher (ties count half)."""
    chosen = reward_model.score(data.prompts, data.chosen)
    rejected = reward_model.score(data.prompts, data.rejected)
    return ((chosen > rejected).float() + 0.5 * (chosen == rejected).float()).mean().item()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_bradley_terry_reward_model_learns_the_preferences(policy, pairs, seed):
    train, test = pairs.split(0.25)
    reward_model = train_reference_reward_model(policy, train, seed)
    accuracy = preference_accuracy(reward_model, test)
    assert accuracy > RM_ACCURACY_ABOVE, accuracy
