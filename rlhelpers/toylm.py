"""RLHF in miniature: a toy language model, its reward model, and a readable RLHF-with-PPO loop.

Everything is made here, in seconds, on one CPU thread; nothing is downloaded.

The task
    Its vocabulary, prompts ``describe <subject>`` and pretraining text are
    :mod:`rlhelpers.tinytask`'s (re-exported here).

The networks
    :class:`ToyLM` is a small causal policy (token, position and bag-of-words
    embeddings, then an MLP): ``forward(tokens [B, S]) -> logits [B, S, V]``, so
    the next-token logits of a state are ``logits[:, -1]``; it never predicts
    padding. :func:`pretrained_reference` trains one on the text (about 1
    CPU-second, deterministic from its seed, cached per process) and returns a
    frozen copy. :class:`ValueNetwork` is the same shape with one output per
    position.

The reward model
    :class:`RewardModel` scores whole responses: ``reward_model(prompts [B, 2],
    responses [B, L]) -> scores [B]``. A response earns points for naming the
    prompt's subject and for each true adjective about it, loses points for
    other subjects, false adjectives, repeated words and for not ending.
    Its deliberate weakness, the one a policy learns to exploit: it was fitted to
    labellers who liked emphatic answers, so every ``very`` adds
    ``VERY_BONUS`` (0.3) points, and ``very`` is the one word whose repetition it
    never penalises. The honest optimum (a true three-adjective description, 2.5)
    is a real improvement over the reference's average (about 1.0); the hack
    (``very very very ...`` to the length limit) scores higher still.
    ``RewardModel(honest=True)`` is the same judge without the weakness: what
    the reward model stands for, to measure what hacking it costs.

The loop
    :func:`train_rlhf` runs PPO on the policy against the frozen reference and
    the reward model, with the lesson's own functions passed in (``build_state``,
    ``kl_penalized_rewards``, ``ppo_clip_loss``, ``gae``); their contracts are in
    its docstring. Each iteration is one call of :func:`rlhf_step` (rollout,
    scores, per-token KL-penalised rewards, GAE, whitened advantages, epochs of
    the clipped objective and the value loss), short enough to read next to
    TRL's PPO trainer; :class:`RLHFModels` names the models as TRL does.
    :class:`RLHFConfig` holds the hyperparameters (the defaults are the case
    study's fixed run), :class:`RLHFResult` the per-iteration mean score, sequence
    KL to the reference (nats) and fraction of distinct responses, evaluations
    before and after training, and the trained policy. The broken configuration
    of the course's case study is ``train_rlhf(RLHFConfig(gamma=0.0),
    prompt_only_state, ...)``. Each run takes 2-3 CPU-seconds.

All tensors live on :func:`rlhelpers.device`. This module imports torch; ``import
rlhelpers`` does not import it.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

import rlhelpers
from rlhelpers.tinytask import (  # noqa: F401  (re-exported for lesson 06)
    ADJECTIVES,
    DETERMINERS,
    END_ID,
    FUNCTION_WORDS,
    MAX_TEXT_RESPONSE_LENGTH,
    PAD_ID,
    PROMPT_LENGTH,
    SUBJECTS,
    TOKEN_ID,
    VERY_ID,
    VOCAB,
    decode,
    encode,
    pretraining_text,
    response_mask,
    sample_prompts,
)

__all__ = [
    "END_ID",
    "PAD_ID",
    "PROMPT_LENGTH",
    "SUBJECTS",
    "TOKEN_ID",
    "VOCAB",
    "Evaluation",
    "RLHFConfig",
    "RLHFModels",
    "RLHFResult",
    "RewardModel",
    "ToyLM",
    "ValueNetwork",
    "decode",
    "encode",
    "evaluate_policy",
    "generate",
    "make_models",
    "pretrained_reference",
    "pretraining_text",
    "prompt_only_state",
    "response_mask",
    "rlhf_step",
    "sample_prompts",
    "train_rlhf",
]


# --------------------------------------------------------------------------- networks


class ToyLM(nn.Module):
    """A small causal language model: what it knows at position s is tokens 0..s.

    Each position's features are the sum of three embeddings, the token there,
    the position itself and the bag of words so far (the counts of every token in
    positions 0..s), followed by a two-layer MLP. That is enough for this grammar
    (which subject was asked, which adjectives were used, how many ``very``) and
    far cheaper on a CPU than a recurrent or attention layer.

    ``forward(tokens [B, S]) -> logits [B, S, V]``: ``logits[:, -1]`` are the
    next-token logits of the whole state. Padding is never predicted (its logit
    is -1e9).
    """

    MAX_POSITIONS = 64

    def __init__(self, outputs: int = len(VOCAB), hidden_dim: int = 64):
        super().__init__()
        self.token = nn.Embedding(len(VOCAB), hidden_dim)
        self.position = nn.Embedding(self.MAX_POSITIONS, hidden_dim)
        self.bag = nn.Linear(len(VOCAB), hidden_dim, bias=False)
        self.mlp = nn.Sequential(
            nn.ReLU(), nn.Linear(hidden_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, outputs)
        )

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """Embedding sum of each position, [B, S, hidden_dim]."""
        counts = nn.functional.one_hot(tokens, len(VOCAB)).float().cumsum(dim=1)
        counts[..., PAD_ID] = 0.0
        positions = torch.arange(tokens.shape[1], device=tokens.device).clamp(
            max=self.MAX_POSITIONS - 1
        )
        return self.token(tokens) + self.position(positions) + self.bag(counts)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        logits = self.mlp(self.features(tokens))
        return logits.index_fill(-1, torch.tensor([PAD_ID], device=logits.device), -1e9)


class ValueNetwork(ToyLM):
    """The critic: ``forward(tokens [B, S]) -> values [B, S]``, V of the state ending at each s."""

    def __init__(self, hidden_dim: int = 64):
        super().__init__(outputs=1, hidden_dim=hidden_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.features(tokens)).squeeze(-1)


PRETRAINING = {"texts": 2048, "steps": 200, "batch_size": 64, "lr": 1e-2}
"""How the reference is pretrained: Adam on random batches of the text."""


@functools.cache
def _pretrained_state(seed: int, device: str) -> dict[str, torch.Tensor]:
    """Train a ToyLM on the pretraining text (next-token cross-entropy on the responses)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ToyLM().to(device)
    text = pretraining_text(PRETRAINING["texts"], seed=seed).to(device)
    inputs, targets = text[:, :-1], text[:, 1:].clone()
    targets[:, : PROMPT_LENGTH - 1] = PAD_ID  # the prompt itself is given, not predicted
    optimizer = torch.optim.Adam(model.parameters(), lr=PRETRAINING["lr"])
    rows = np.random.default_rng(seed).integers(
        len(text), size=(PRETRAINING["steps"], PRETRAINING["batch_size"])
    )
    for batch in torch.as_tensor(rows, device=device):
        logits = model(inputs[batch])
        loss = nn.functional.cross_entropy(
            logits.flatten(0, 1), targets[batch].flatten(), ignore_index=PAD_ID
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def pretrained_reference(seed: int = 0) -> ToyLM:
    """The reference policy: a frozen ToyLM pretrained on ``pretraining_text``, on ``device()``.

    Deterministic from ``seed``; trained once per process and seed, then each call
    returns a fresh copy (train a ``copy.deepcopy`` of it after ``requires_grad_(True)``).
    """
    device = rlhelpers.device()
    model = ToyLM().to(device)
    model.load_state_dict(_pretrained_state(int(seed), str(device)))
    return model.eval().requires_grad_(False)


# --------------------------------------------------------------------------- reward model


class RewardModel:
    """Scores whole responses: ``reward_model(prompts [B, 2], responses [B, L]) -> scores [B]``.

    Points (the subject is the prompt's second token; PAD is ignored):
    ``+1`` the subject is named; ``-1`` per other subject named; ``+0.5`` per
    distinct true adjective of the subject; ``-0.5`` per distinct false one;
    ``-0.5`` per repetition of a word (``and`` excepted); ``-1`` when the
    response never ends (no ``<end>``). The weakness: ``+VERY_BONUS`` per
    ``very``, whose repetitions are never penalised.

    ``RewardModel(honest=True)`` is the judge without the weakness (no bonus,
    and a repeated ``very`` costs like any repeated word): a stand-in for the
    people the reward model was meant to imitate, to show what hacking it costs.
    """

    VERY_BONUS = 0.3

    def __init__(self, honest: bool = False):
        self.very_bonus = 0.0 if honest else self.VERY_BONUS
        device = rlhelpers.device()
        vocab = len(VOCAB)
        self.is_subject = torch.zeros(vocab, dtype=torch.bool, device=device)
        self.is_adjective = torch.zeros(vocab, dtype=torch.bool, device=device)
        self.is_true = torch.zeros(vocab, vocab, dtype=torch.bool, device=device)  # [subject, word]
        for subject, adjectives in SUBJECTS.items():
            self.is_subject[TOKEN_ID[subject]] = True
            for adjective in adjectives:
                self.is_true[TOKEN_ID[subject], TOKEN_ID[adjective]] = True
        self.is_adjective[[TOKEN_ID[adj] for adj in ADJECTIVES]] = True
        self.repetition_counted = torch.ones(vocab, device=device)
        self.repetition_counted[[PAD_ID, TOKEN_ID["and"]] + ([] if honest else [VERY_ID])] = 0.0

    def __call__(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        subject = prompts[:, 1]
        counts = nn.functional.one_hot(responses, len(VOCAB)).sum(dim=1).float()  # [B, V]
        present = counts > 0
        own = nn.functional.one_hot(subject, len(VOCAB)).bool()
        true = self.is_true[subject]
        score = 1.0 * present[own].float()
        score -= 1.0 * (present & self.is_subject & ~own).sum(1)
        score += 0.5 * (present & true).sum(1)
        score -= 0.5 * (present & self.is_adjective & ~true).sum(1)
        score -= 0.5 * ((counts - 1).clamp(min=0) * self.repetition_counted).sum(1)
        score -= 1.0 * ~present[:, END_ID]
        return score + self.very_bonus * counts[:, VERY_ID]


# --------------------------------------------------------------------------- sampling


def prompt_only_state(prompt_tokens: torch.Tensor, generated_tokens: torch.Tensor) -> torch.Tensor:
    """The case study's broken state: the prompt alone, blind to the tokens generated so far."""
    return prompt_tokens


def _checked_state(build_state: Callable, prompts: torch.Tensor, generated: torch.Tensor):
    """``build_state(prompts, generated)``, checked to be integer tokens [B, S >= 1]."""
    state = build_state(prompts, generated)
    if not isinstance(state, torch.Tensor) or state.dim() != 2 or len(state) != len(prompts):
        got = getattr(state, "shape", type(state).__name__)
        raise ValueError(
            f"build_state must return a tensor [B, S] with B = {len(prompts)}; got {got}"
        )
    if state.dtype != torch.long or state.shape[1] == 0:
        raise ValueError(f"build_state must return long tokens [B, S >= 1]; got {state.dtype}")
    return state


class _States:
    """The states of one batch of responses, packed so that one forward pass evaluates them all.

    ``states[t]`` [B, S_t] is the state before token t. When every state is a
    prefix of the longest (as prompt + tokens so far, or the prompt alone), the
    longest is run once and read at each S_t - 1; otherwise all are stacked.
    """

    def __init__(self, states: list[torch.Tensor]):
        lengths = [state.shape[1] for state in states]
        longest = states[int(np.argmax(lengths))]
        self.batch, self.steps = len(longest), len(states)
        self.is_nested = all(torch.equal(s, longest[:, : s.shape[1]]) for s in states)
        if self.is_nested:
            self.tokens = longest
        else:
            self.tokens = longest.new_full((self.steps, self.batch, max(lengths)), PAD_ID)
            for step, state in enumerate(states):
                self.tokens[step, :, : state.shape[1]] = state
            self.tokens = self.tokens.flatten(0, 1)
        self.last = torch.tensor(lengths, device=longest.device) - 1

    def outputs(self, model: nn.Module) -> torch.Tensor:
        """The model's output at the end of each state: [B, T, ...]."""
        out = model(self.tokens)
        if self.is_nested:
            return out[:, self.last]
        rows = torch.arange(len(self.tokens), device=out.device)
        out = out[rows, self.last.repeat_interleave(self.batch)]
        return out.unflatten(0, (self.steps, self.batch)).transpose(0, 1)


@torch.no_grad()
def generate(
    policy: ToyLM,
    prompts: torch.Tensor,
    build_state: Callable,
    max_length: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Sample responses token by token, the policy seeing ``build_state(prompts, tokens so far)``.

    Returns:
        responses [B, L] (L <= max_length; PAD after each ``<end>``) and the list
        of the L states [B, S_t] the tokens were drawn from.
    """
    responses = prompts.new_zeros((len(prompts), 0))
    finished = torch.zeros(len(prompts), dtype=torch.bool, device=prompts.device)
    states = []
    for _ in range(max_length):
        states.append(_checked_state(build_state, prompts, responses))
        probs = torch.softmax(policy(states[-1])[:, -1], dim=-1)
        tokens = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        tokens = tokens.masked_fill(finished, PAD_ID)
        responses = torch.cat([responses, tokens[:, None]], dim=1)
        finished |= tokens == END_ID
        if finished.all():
            break
    return responses, states


def _token_log_probs(logits: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """log pi(token_t | state_t) [B, L] from next-token logits [B, L, V]."""
    return torch.log_softmax(logits, -1).gather(-1, responses[..., None]).squeeze(-1)


def _sequence_kl(logits: torch.Tensor, ref_logits: torch.Tensor, mask: torch.Tensor):
    """Exact KL(pi || pi_ref) summed over each response's real tokens, [B] in nats."""
    log_p, log_q = torch.log_softmax(logits, -1), torch.log_softmax(ref_logits, -1)
    per_token = (log_p.exp() * (log_p - log_q)).sum(-1)
    return (per_token * mask).sum(1)


def _distinct_fraction(responses: torch.Tensor) -> float:
    """Fraction of the batch's responses that are distinct token sequences."""
    return len(set(map(tuple, responses.tolist()))) / len(responses)


@dataclass(frozen=True)
class Evaluation:
    """A policy measured on a fresh batch of prompts."""

    score: float
    """mean reward-model score of the responses."""
    kl: float
    """mean sequence KL(pi || pi_ref) in nats (exact per token, summed over the response)."""
    distinct: float
    """fraction of distinct responses in the batch."""
    examples: tuple[str, ...] = ()
    """the first few prompts and responses, as text."""
    honest_score: float = float("nan")
    """mean score of the honest judge ``RewardModel(honest=True)``: what hacking does not buy."""
    honest_scores: tuple[float, ...] = ()
    """the honest judge's score of each response, in prompt order."""


@torch.no_grad()
def evaluate_policy(
    policy: ToyLM,
    build_state: Callable,
    reference: ToyLM | None = None,
    n: int = 256,
    seed: int = 0,
    max_length: int = 16,
) -> Evaluation:
    """Score, KL to the reference and diversity of ``policy`` on ``n`` fresh prompts (seeded)."""
    device = rlhelpers.device()
    reference = pretrained_reference() if reference is None else reference
    generator = torch.Generator(device).manual_seed(seed)
    prompts = sample_prompts(n, generator)
    responses, states = generate(policy, prompts, build_state, max_length, generator)
    packed, mask = _States(states), response_mask(responses)
    kl = _sequence_kl(packed.outputs(policy), packed.outputs(reference), mask)
    honest = RewardModel(honest=True)(prompts, responses)
    texts = [f"{p} -> {r}" for p, r in zip(decode(prompts[:4]), decode(responses[:4]), strict=True)]
    return Evaluation(
        score=RewardModel()(prompts, responses).mean().item(),
        kl=kl.mean().item(),
        distinct=_distinct_fraction(responses),
        examples=tuple(texts),
        honest_scores=tuple(honest.tolist()),
        honest_score=honest.mean().item(),
    )


# --------------------------------------------------------------------------- RLHF with PPO


@dataclass
class RLHFConfig:
    """Hyperparameters of :func:`train_rlhf` (the defaults are the case study's fixed run)."""

    iterations: int = 30
    """PPO iterations: each samples one batch of responses and updates on it."""
    batch_size: int = 64
    """prompts (and responses) per iteration."""
    gamma: float = 0.99
    """discount across the tokens of a response (the broken run uses 0)."""
    lam: float = 0.95
    """GAE's lambda."""
    beta: float = 0.2
    """KL penalty coefficient: per-token reward -beta * (log pi - log pi_ref)."""
    lr: float = 3e-3
    """Adam's learning rate, for the policy and the value network."""
    epochs: int = 4
    """passes of the clipped objective over each batch (one full-batch step each)."""
    clip_eps: float = 0.2
    """PPO's clip range: the ratio is clipped to [1 - clip_eps, 1 + clip_eps]."""
    value_coef: float = 0.5
    """weight of the value loss (mean squared error to the GAE returns)."""
    max_grad_norm: float = 1.0
    """gradient-norm clip of each update."""
    seed: int = 0
    """seeds the value network, the prompts and the sampling."""
    reference_seed: int = 0
    """which pretrained reference (see :func:`pretrained_reference`)."""
    max_length: int = 16
    """tokens per response at most; a response that has not ended by then is cut."""
    eval_size: int = 256
    """prompts of the evaluations before and after training."""

    def __post_init__(self) -> None:
        limits = {
            "iterations": (0, None),
            "batch_size": (2, None),
            "epochs": (1, None),
            "max_length": (1, None),
            "eval_size": (1, None),
            "gamma": (0, 1),
            "lam": (0, 1),
            "beta": (0, None),
            "clip_eps": (0, None),
        }
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if not low <= value or (high is not None and value > high):
                bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
                raise ValueError(f"RLHFConfig.{name} must be {bounds}, got {value!r}")


@dataclass
class RLHFResult:
    """What :func:`train_rlhf` measured, per iteration, and the trained policy."""

    scores: list[float] = field(default_factory=list)
    """mean reward-model score of each iteration's batch."""
    kls: list[float] = field(default_factory=list)
    """mean sequence KL(pi || pi_ref) of each batch, in nats."""
    distinct: list[float] = field(default_factory=list)
    """fraction of distinct responses in each batch."""
    initial: Evaluation | None = None
    """the policy before training (for the full state: the reference itself)."""
    final: Evaluation | None = None
    """the trained policy, on the same evaluation prompts."""
    policy: ToyLM | None = None
    """the trained policy."""
    cpu_seconds: float = 0.0
    """CPU time of the run (the reference's pretraining excluded)."""

    @property
    def preference(self) -> float:
        """How often the honest judge prefers the trained policy's answer to the initial one's.

        Prompt by prompt on the evaluation prompts, ties counting half: the toy's
        "human preference" (0.5 = no better). For the full state the initial policy
        is the reference.
        """
        final = np.array(self.final.honest_scores)
        initial = np.array(self.initial.honest_scores)
        return float(np.mean((final > initial) + 0.5 * (final == initial)))


def _whiten(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(values - mean) / std over the real tokens (mask 1); 0 on padding."""
    real = values[mask.bool()]
    return (values - real.mean()) / (real.std() + 1e-8) * mask


def _gae_on_tokens(gae: Callable, rewards, values, mask, config: RLHFConfig) -> torch.Tensor:
    """Lesson 05's time-first ``gae`` on [B, L] tensors: each response is one episode.

    The rows are transposed to [L, B] NumPy arrays; the last real token of each
    response is marked done, so nothing is bootstrapped past it (padding after it
    has reward 0 and value 0, hence advantage 0).
    """
    rewards = torch.as_tensor(rewards).detach()
    if rewards.shape != mask.shape:
        raise ValueError(
            f"kl_penalized_rewards must return rewards [B, L] = {tuple(mask.shape)}, "
            f"got {tuple(rewards.shape)}"
        )
    ends = mask * (1 - torch.cat([mask[:, 1:], torch.zeros_like(mask[:, :1])], dim=1))
    advantages = gae(
        rewards.T.cpu().double().numpy(),
        values.T.cpu().double().numpy(),
        ends.T.cpu().numpy(),
        config.gamma,
        config.lam,
        np.zeros(len(mask)),
    )
    return torch.as_tensor(np.asarray(advantages), dtype=torch.float32).T.to(mask.device) * mask


@dataclass
class RLHFModels:
    """What one RLHF run trains and uses, with the names TRL's PPO trainer gives them."""

    policy: ToyLM
    """the policy being trained, a copy of the reference at first (TRL: ``model``)."""
    reference: ToyLM
    """the frozen pretrained policy the KL penalty measures against (TRL: ``ref_model``)."""
    value_net: ValueNetwork
    """the critic V(state) (TRL: the value head on the policy's trunk; here its own network)."""
    reward_model: RewardModel
    """scores whole responses (TRL: ``reward_model``)."""
    optimizer: torch.optim.Optimizer
    """Adam over the policy's and the critic's parameters."""
    generator: torch.Generator
    """the random numbers of prompts and sampling."""


def make_models(config: RLHFConfig) -> RLHFModels:
    """A run's models: policy and critic start from the reference (the critic with a new head)."""
    device = rlhelpers.device()
    reference = pretrained_reference(config.reference_seed)
    policy = copy.deepcopy(reference).requires_grad_(True).train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        value_net = ValueNetwork().to(device)
    for part in ("token", "position", "bag"):
        getattr(value_net, part).load_state_dict(getattr(reference, part).state_dict())
    parameters = [*policy.parameters(), *value_net.parameters()]
    return RLHFModels(
        policy=policy,
        reference=reference,
        value_net=value_net,
        reward_model=RewardModel(),
        optimizer=torch.optim.Adam(parameters, lr=config.lr),
        generator=torch.Generator(device).manual_seed(config.seed),
    )


def rlhf_step(
    models: RLHFModels,
    config: RLHFConfig,
    build_state: Callable,
    kl_penalized_rewards: Callable,
    ppo_clip_loss: Callable,
    gae: Callable,
) -> tuple[float, float, float]:
    """One PPO iteration of RLHF; returns the batch's mean score, sequence KL, distinct fraction."""
    # 1. Rollout: the policy answers a batch of prompts; the reward model scores each answer.
    prompts = sample_prompts(config.batch_size, models.generator)
    responses, state_list = generate(
        models.policy, prompts, build_state, config.max_length, models.generator
    )
    states, mask = _States(state_list), response_mask(responses)
    with torch.no_grad():
        logits, ref_logits = states.outputs(models.policy), states.outputs(models.reference)
        old_log_probs = _token_log_probs(logits, responses) * mask
        ref_log_probs = _token_log_probs(ref_logits, responses) * mask
        values = states.outputs(models.value_net) * mask
        scores = models.reward_model(prompts, responses)
    # 2. Per-token rewards: -beta * (log pi - log pi_ref), the score on the last real token.
    rewards = kl_penalized_rewards(scores, old_log_probs, ref_log_probs, config.beta, mask)
    # 3. Advantages by GAE, one episode per response; returns are the critic's targets.
    advantages = _gae_on_tokens(gae, rewards, values, mask, config)
    returns = advantages + values
    advantages = _whiten(advantages, mask)
    # 4. Several epochs of the clipped objective plus the value loss, on real tokens only.
    real = mask.bool()
    for _ in range(config.epochs):
        new_log_probs = _token_log_probs(states.outputs(models.policy), responses)
        policy_loss = ppo_clip_loss(
            new_log_probs[real], old_log_probs[real], advantages[real], config.clip_eps
        )
        value_loss = (states.outputs(models.value_net) - returns)[real].pow(2).mean()
        loss = policy_loss + config.value_coef * value_loss
        models.optimizer.zero_grad()
        loss.backward()
        parameters = [*models.policy.parameters(), *models.value_net.parameters()]
        nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
        models.optimizer.step()
    kl = _sequence_kl(logits, ref_logits, mask).mean().item()
    return scores.mean().item(), kl, _distinct_fraction(responses)


def train_rlhf(
    config: RLHFConfig,
    build_state: Callable,
    kl_penalized_rewards: Callable,
    ppo_clip_loss: Callable,
    gae: Callable,
    progress: bool = False,
) -> RLHFResult:
    """RLHF with PPO on the toy task: ``config.iterations`` times :func:`rlhf_step`.

    The lesson's functions, as the loop calls them:
        ``build_state(prompt_tokens [B, 2], generated_tokens [B, t]) -> [B, S]``:
        the state the policy, the reference and the value network see before
        token t (long tokens; ``prompt_only_state`` is the broken one).
        ``kl_penalized_rewards(scores [B], log_probs [B, L], ref_log_probs [B, L],
        beta, mask [B, L]) -> rewards [B, L]`` (log-probs are 0 on padding).
        ``ppo_clip_loss(new_log_probs [N], old_log_probs [N], advantages [N],
        clip_eps) -> scalar``, on the real tokens of the batch, flattened.
        ``gae(rewards, values, dones, gamma, lam, last_value)``, lesson 05's:
        NumPy arrays [L, B] (time first), dones 1 on each response's last real
        token, ``last_value`` zeros [B]; it may return an array or a CPU tensor.

    Returns:
        an :class:`RLHFResult`; ``initial`` and ``final`` are measured on the
        same ``config.eval_size`` prompts (evaluation seed 0).
    """
    models = make_models(config)
    start = time.process_time()
    evaluate = functools.partial(
        evaluate_policy,
        reference=models.reference,
        n=config.eval_size,
        max_length=config.max_length,
    )
    result = RLHFResult(initial=evaluate(models.policy, build_state))
    iterations = range(config.iterations)
    if progress:
        from tqdm.auto import tqdm

        iterations = tqdm(iterations, desc="RLHF", leave=False)
    functions = (build_state, kl_penalized_rewards, ppo_clip_loss, gae)
    for _ in iterations:
        score, kl, distinct = rlhf_step(models, config, *functions)
        result.scores.append(score)
        result.kls.append(kl)
        result.distinct.append(distinct)
    result.final = evaluate(models.policy, build_state)
    result.policy = models.policy.eval().requires_grad_(False)
    result.cpu_seconds = time.process_time() - start
    return result
