"""RLHF end to end for lesson 07: reward model, PPO, DPO and GRPO on the tiny transformer.

Every stage is a real one, on :mod:`rlhelpers.tinylm`'s transformer and
:mod:`rlhelpers.labellers`' biased labellers, and every run is deterministic from
its seeds and takes a few CPU-seconds on one thread. The lesson's own functions
are passed in (keyword arguments, all required: nothing here writes an answer of
lessons 05-07), and the loops really call them.

The student's functions, as the loops call them
    ``build_state(prompts [B, P], generated [B, t]) -> long [B, S]``: what the
    policy, the reference and the critic read before token t (the prompt plus
    every generated token; :func:`prompt_only_state` is the case study's bug).
    ``response_log_probs(logits [B, S, V], sequences [B, S], prompt_length) ->
    [B, S - P]``: log pi(token) of each response token (lesson 07's debugging
    exercise). The loops lay every state's output out as ``model(sequences)``
    would (the output of the state before response token t at position P - 1 + t)
    and take every log-probability, of the policy and the reference, from it.
    ``kl_penalized_rewards(scores [B], log_probs [B, L], ref_log_probs [B, L],
    beta, mask [B, L]) -> rewards [B, L]`` (log-probs 0 on padding).
    ``ppo_clip_loss(new [N], old [N], advantages [N], clip_eps) -> scalar`` on the
    real tokens of the batch, flattened (lesson 06).
    ``gae(rewards, values, dones, gamma, lam, last_value)``: lesson 05's, on NumPy
    arrays [L, B] (time first), dones 1 on each response's last real token.
    ``dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta) ->
    scalar`` (lesson 06), on sequence log-probabilities [B].
    ``group_relative_advantages(rewards [B], group_size) -> [B]`` (lesson 06),
    consecutive groups of ``group_size`` responses to one prompt.

The stages
    The reward model is the lesson's exercise (a scalar head on the SFT trunk,
    :func:`rlhelpers.tinylm.with_scalar_head`, fitted with the student's
    Bradley-Terry loss); every function here takes the trained one, frozen.
    :func:`preference_accuracy` measures it on held-out pairs.
    :func:`train_ppo`: RLHF with PPO against the learned reward model, the
    InstructGPT recipe (per-token KL penalty to the SFT policy, the score on the
    last token, a critic, GAE with gamma = 1 and lambda = 0.95 by default).
    :func:`train_dpo`: DPO on the reward model's own preference pairs, no
    reward model and no sampling.
    :func:`train_grpo`: GRPO, a group of responses per prompt scored by the
    reward model, advantages relative to the group, no critic; the KL to the
    reference is a k3 term in the loss (DeepSeekMath; TRL now defaults it to 0).
    Normalisation: the advantages are the student's (divided by the group's
    std, as in the GRPO paper; Dr. GRPO drops the std, TRL's ``scale_rewards``),
    and the clipped loss is the mean over every real token of the batch, each
    token weighted alike (DAPO's and TRL's ``loss_type="bnpo"``), not the GRPO
    paper's per-sequence 1/|o| mean, whose length bias Dr. GRPO pointed out.
    Every run returns a :class:`RunResult`: the tuned policy, a history per
    iteration, the final :class:`Evaluation`, wall and CPU seconds and the number
    of responses the reward model scored during training.

One evaluation for all
    :func:`evaluate`: on the same fresh prompts, the mean reward-model score,
    the mean TRUE utility (:func:`rlhelpers.labellers.true_utility`, noise-free:
    what no model trains on), the KL to the SFT policy (exact per token, summed
    over the response), the win rate against the SFT policy's own answers under
    the true utility (ties count half), the fraction of distinct responses, the
    mean length and the fraction cut at the length limit.

The implementation details (Huang, Liu and von Werra 2023, "The N implementation
details of RLHF with PPO"), each marked ``Detail`` where this module applies it
    - advantage whitening (switch: ``PPOConfig.whiten_advantages``);
    - a response cut at the length limit gets a fixed penalty on its score
      (the "EOS trick" of Huang et al. 2024's N+ details; TRL's
      ``missing_eos_penalty``; switch:
      ``PPOConfig.missing_eos_penalty``, None turns it off);
    - the logits divided by the sampling temperature, in sampling AND in every
      log-probability of the update (``PPOConfig.temperature``);
    - the critic starts from the SFT trunk with its value head initialised to
      zero (Huang et al. also start the reward head with std 1 / sqrt(width + 1));
    - reward normalisation: the reward model's scores of the SFT policy's answers
      are made mean 0 and std 1 once, before training;
    - an adaptive KL coefficient (Ziegler et al. 2019, switch:
      ``PPOConfig.target_kl``, None keeps beta fixed).
    Not used: value clipping (TRL clips the critic's loss with ``cliprange_value``,
    as OpenAI's PPO code did); the critic's loss here is the plain squared error.

Truncation is not bootstrapped here
    Lesson 04 bootstraps a time-limit cut from V(s): there, the limit is an
    artefact of training and the task would go on. Here the response IS the
    episode: a response cut at ``max_length`` tokens is what the user receives,
    nothing comes after it whose value V could estimate, so its last token is
    terminal and the reward model judges it as it stands. The reward model,
    trained on mostly finished answers, cannot be trusted to know that an
    unfinished one is bad, hence the fixed missing-EOS penalty.

Over-optimisation is measured, not planted
    The reward model is fitted to labellers who pay +0.5 per ``very`` and +0.1 per
    word, on a few thousand pairs: its flaws are that bias and that finite data,
    no hard-coded bonus. :func:`kl_sweep` trains PPO at several KL coefficients
    (:func:`dpo_sweep`: DPO at several betas) and returns each run's evaluation;
    plotted against the KL, the reward-model score keeps rising while the true
    utility rises, then falls (Gao et al. 2022's shape). :func:`case_study` runs
    the 2 x 2 of state (prompt only / full) and gamma (0 / 0.99) and the fix.
    Measured here (pairs, reward model and run of seeds 0-9, SFT policy of seed
    0, default budget; medians): at beta 1, 0.3, 0.1, 0.03, 0.01 the KL is 0.25,
    0.74, 2.8, 4.6, 7.4 nats, the reward-model score 0.60, 1.27, 1.89, 2.17, 2.29
    (SFT 0.11) and the true utility 0.95, 1.11, 1.16, 0.97, 0.83 (SFT 0.61); on
    10/10 seeds it peaks at beta 0.3-0.03 and the weakest penalty ends at least
    0.1 below the peak.

All tensors live on :func:`rlhelpers.device`. This module imports torch; ``import
rlhelpers`` does not import it.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

import rlhelpers
from rlhelpers.labellers import PreferenceData, true_utility
from rlhelpers.tinylm import TinyTransformer, pretrained_policy, with_scalar_head
from rlhelpers.tinytask import END_ID, PAD_ID, decode, sample_prompts

__all__ = [
    "DPOConfig",
    "Evaluation",
    "GRPOConfig",
    "PPOConfig",
    "RunResult",
    "case_study",
    "dpo_sweep",
    "evaluate",
    "kl_sweep",
    "preference_accuracy",
    "prompt_only_state",
    "train_dpo",
    "train_grpo",
    "train_ppo",
]

EVAL_SEED = 10_000
"""Seed of the evaluation prompts: far from every training seed."""


def _progress(iterable, enabled: bool, desc: str):
    """``iterable`` with a tqdm bar when enabled."""
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, leave=False)


def _mask(responses: torch.Tensor) -> torch.Tensor:
    """1.0 on real response tokens (``<end>`` included), 0.0 on padding."""
    return (responses != PAD_ID).float()


def _finished(responses: torch.Tensor) -> torch.Tensor:
    """bool [B]: the response has an ``<end>`` (was not cut at the length limit)."""
    return (responses == END_ID).any(dim=1)


# --------------------------------------------------------------------------- reward model


@torch.no_grad()
def preference_accuracy(reward_model: TinyTransformer, data: PreferenceData) -> float:
    """How often the reward model scores the chosen response higher (ties count half)."""
    chosen = reward_model.score(data.prompts, data.chosen)
    rejected = reward_model.score(data.prompts, data.rejected)
    return ((chosen > rejected).float() + 0.5 * (chosen == rejected).float()).mean().item()


# --------------------------------------------------------------------------- states and sampling


def prompt_only_state(prompts: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
    """The case study's bug: the state is the prompt alone, blind to the tokens generated so far."""
    return prompts


def _whole_prefix(prompts: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
    """The state of the SFT policy as trained: the prompt and every token so far."""
    return torch.cat([prompts, generated], dim=1)


def _checked_state(build_state: Callable, prompts: torch.Tensor, generated: torch.Tensor):
    """``build_state(prompts, generated)``, checked to be long tokens [B, S >= 1]."""
    state = build_state(prompts, generated)
    if not isinstance(state, torch.Tensor) or state.dim() != 2 or len(state) != len(prompts):
        got = getattr(state, "shape", type(state).__name__)
        raise ValueError(
            f"build_state must return a tensor [B, S] with B = {len(prompts)}; got {got}"
        )
    if state.dtype != torch.long or state.shape[1] == 0:
        raise ValueError(f"build_state must return long tokens [B, S >= 1]; got {state.dtype}")
    return state


@torch.no_grad()
def _sample(
    policy: nn.Module,
    prompts: torch.Tensor,
    build_state: Callable,
    max_length: int,
    generator: torch.Generator,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Responses [B, L <= max_length] sampled token by token from ``build_state``'s states."""
    responses = prompts.new_full((len(prompts), max_length), PAD_ID)
    alive = torch.arange(len(prompts), device=prompts.device)
    length = 0
    for step in range(max_length):
        state = _checked_state(build_state, prompts[alive], responses[alive, :step])
        # Detail: the logits are divided by the sampling temperature.
        probs = torch.softmax(policy(state)[:, -1] / temperature, dim=-1)
        tokens = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        responses[alive, step] = tokens
        length = step + 1
        alive = alive[tokens != END_ID]
        if len(alive) == 0:
            break
    return responses[:, :length]


class _Layout:
    """Where each state's output goes: as ``model(prompt + response)`` would put it.

    The state before response token t (``build_state(prompts, responses[:, :t])``)
    has its output at position P - 1 + t of a tensor [B, P + L, ...]. When every
    state is the prefix of the sequence (the full state), that IS
    ``model(sequences)``: one pass. When every step has the same state (the
    prompt alone), it is run once. Otherwise the states are stacked, run once,
    read at their last position and placed (the other positions hold zeros).
    """

    def __init__(self, prompts: torch.Tensor, responses: torch.Tensor, build_state: Callable):
        self.prompt_length, self.length = prompts.shape[1], responses.shape[1]
        self.sequences = torch.cat([prompts, responses], dim=1)
        states = [
            _checked_state(build_state, prompts, responses[:, :t]) for t in range(self.length)
        ]
        self.is_prefix = all(
            s.shape[1] == self.prompt_length + t and torch.equal(s, self.sequences[:, : s.shape[1]])
            for t, s in enumerate(states)
        )
        # The prompt-only state is one state for every step: run it once.
        self.is_shared = not self.is_prefix and all(torch.equal(s, states[0]) for s in states)
        if self.is_shared:
            self.states = states[0]
        elif not self.is_prefix:
            longest = max(s.shape[1] for s in states)
            self.states = self.sequences.new_full((self.length, len(prompts), longest), PAD_ID)
            for t, state in enumerate(states):
                self.states[t, :, : state.shape[1]] = state
            self.states = self.states.flatten(0, 1)
            self.last = torch.tensor([s.shape[1] - 1 for s in states], device=prompts.device)

    def outputs(self, model: nn.Module) -> torch.Tensor:
        """The model's outputs laid out as ``model(sequences)``: [B, P + L, ...]."""
        if self.is_prefix:
            return model(self.sequences)
        out = model(self.states)
        batch = len(self.sequences)
        if self.is_shared:
            read = out[:, -1:].expand(-1, self.length, *out.shape[2:])  # [B, L, ...]
        else:
            rows = torch.arange(len(self.states), device=out.device)
            read = out[rows, self.last.repeat_interleave(batch)]
            read = read.unflatten(0, (self.length, batch)).transpose(0, 1)  # [B, L, ...]
        laid = read.new_zeros((batch, self.prompt_length + self.length, *read.shape[2:]))
        laid[:, self.prompt_length - 1 : -1] = read
        return laid


def _log_probs(
    response_log_probs: Callable, logits: torch.Tensor, layout: _Layout, temperature: float
) -> torch.Tensor:
    """The student's ``response_log_probs`` on temperature-scaled logits, checked: [B, L]."""
    # Detail: the log-probabilities of the update use the sampling temperature too.
    out = response_log_probs(logits / temperature, layout.sequences, layout.prompt_length)
    expected = (len(layout.sequences), layout.length)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"response_log_probs must return [B, S - P] = {expected}; got {got}")
    return out


def _exact_kl(
    logits: torch.Tensor, ref_logits: torch.Tensor, layout: _Layout, mask
) -> torch.Tensor:
    """KL(pi || pi_ref) of each response [B], exact per token, summed over its real tokens."""
    cut = slice(layout.prompt_length - 1, -1)
    log_p = torch.log_softmax(logits[:, cut], -1)
    log_q = torch.log_softmax(ref_logits[:, cut], -1)
    return ((log_p.exp() * (log_p - log_q)).sum(-1) * mask).sum(1)


def _distinct_fraction(responses: torch.Tensor) -> float:
    """Fraction of the batch's responses that are distinct token sequences."""
    return len(set(map(tuple, responses.tolist()))) / len(responses)


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Evaluation:
    """A policy measured on fresh prompts, against the SFT policy's answers to the same prompts."""

    score: float
    """mean reward-model score (raw, not normalised)."""
    true_utility: float
    """mean true utility (the labellers' hidden one, noise-free)."""
    kl: float
    """mean KL(pi || pi_SFT) per response in nats (exact per token, summed over the response)."""
    win_rate: float
    """how often its answer has a higher true utility than the SFT policy's (ties count 1/2)."""
    distinct: float
    """fraction of distinct responses."""
    length: float
    """mean number of tokens per response (``<end>`` included)."""
    unfinished: float
    """fraction of responses cut at the length limit."""
    examples: tuple[str, ...] = ()
    """the first few prompts and responses, as text."""


@torch.no_grad()
def evaluate(
    policy: nn.Module,
    reward_model: TinyTransformer | None,
    *,
    build_state: Callable | None = None,
    n: int = 256,
    seed: int = EVAL_SEED,
    max_length: int = 16,
    policy_seed: int = 0,
) -> Evaluation:
    """Score, true utility, KL, win rate and diversity of ``policy`` on ``n`` seeded prompts.

    Args:
        policy: a ``head="lm"`` TinyTransformer.
        reward_model: the learned reward model (None: score is NaN).
        build_state: the policy's state (None: the prompt and every token so far).
            The KL is measured with the reference reading the same states.
        n, seed: the evaluation prompts and sampling.
        max_length: tokens per response at most.
        policy_seed: which SFT policy is the reference.
    """
    build_state = build_state or _whole_prefix
    reference = pretrained_policy(policy_seed)
    generator = torch.Generator(rlhelpers.device()).manual_seed(seed)
    prompts = sample_prompts(n, generator)
    responses = _sample(policy, prompts, build_state, max_length, generator)
    baseline = _sample(reference, prompts, _whole_prefix, max_length, generator)
    layout, mask = _Layout(prompts, responses, build_state), _mask(responses)
    kl = _exact_kl(layout.outputs(policy), layout.outputs(reference), layout, mask)
    utility, base_utility = true_utility(prompts, responses), true_utility(prompts, baseline)
    wins = (utility > base_utility).float() + 0.5 * (utility == base_utility).float()
    score = reward_model.score(prompts, responses).mean().item() if reward_model else math.nan
    texts = [f"{p} -> {r}" for p, r in zip(decode(prompts[:4]), decode(responses[:4]), strict=True)]
    return Evaluation(
        score=score,
        true_utility=utility.mean().item(),
        kl=kl.mean().item(),
        win_rate=wins.mean().item(),
        distinct=_distinct_fraction(responses),
        length=mask.sum(1).mean().item(),
        unfinished=1.0 - _finished(responses).float().mean().item(),
        examples=tuple(texts),
    )


@dataclass
class RunResult:
    """What one training run (PPO, DPO or GRPO) produced and measured."""

    policy: TinyTransformer
    """the tuned policy (frozen)."""
    final: Evaluation
    """:func:`evaluate` of the tuned policy."""
    history: list[dict[str, float]] = field(default_factory=list)
    """one dict per iteration (PPO, GRPO: score, true_utility, kl, distinct, beta; DPO: loss...)."""
    wall_seconds: float = 0.0
    """wall-clock seconds of the training loop (the SFT stage and the final evaluation excluded)."""
    cpu_seconds: float = 0.0
    """CPU seconds of the same."""
    reward_model_calls: int = 0
    """responses the reward model scored during training (0 for DPO)."""


class _Clock:
    """Wall and CPU seconds since it was made."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def seconds(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


# --------------------------------------------------------------------------- PPO


@dataclass(frozen=True)
class PPOConfig:
    """Hyperparameters of :func:`train_ppo` (defaults: the InstructGPT recipe in miniature)."""

    iterations: int = 30
    """PPO iterations: each samples one batch of responses and updates on it."""
    batch_size: int = 64
    """prompts (and responses) per iteration."""
    beta: float = 0.1
    """KL coefficient: per-token reward -beta * (log pi - log pi_SFT)."""
    gamma: float = 1.0
    """discount across the tokens of a response (RLHF's usual 1)."""
    lam: float = 0.95
    """GAE's lambda."""
    lr: float = 1e-3
    """Adam's learning rate (policy and critic)."""
    epochs: int = 4
    """full-batch passes of the clipped objective over each batch."""
    clip_eps: float = 0.2
    """PPO's clip range."""
    value_coef: float = 0.5
    """weight of the value loss."""
    max_grad_norm: float = 1.0
    """gradient-norm clip of each update."""
    temperature: float = 1.0
    """sampling temperature; every log-probability divides the logits by it too."""
    whiten_advantages: bool = True
    """Detail: advantages made mean 0 and std 1 over the batch's real tokens."""
    missing_eos_penalty: float | None = 1.0
    """Detail (the EOS trick): subtracted from the score of a response cut at the limit."""
    normalize_reward: bool = True
    """Detail: scores scaled so the SFT policy's answers have mean 0 and std 1."""
    target_kl: float | None = None
    """Detail (adaptive KL): when set, beta is adapted towards this KL per response."""
    kl_horizon: int = 640
    """the adaptive controller's horizon in responses (Ziegler et al.: 10,000)."""
    max_length: int = 16
    """tokens per response at most."""
    seed: int = 0
    """seeds the critic's head, the prompts and the sampling."""
    policy_seed: int = 0
    """which SFT policy starts the run and is the reference."""
    eval_size: int = 256
    """prompts of the final evaluation."""


def _gae_on_tokens(gae: Callable, rewards, values, mask, gamma: float, lam: float):
    """The student's time-first ``gae`` on [B, L] tensors, each response one episode.

    The last real token is marked done: nothing is bootstrapped past it (see the
    module docstring on truncation); padding has reward 0 and value 0.
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
        gamma,
        lam,
        np.zeros(len(mask)),
    )
    return torch.as_tensor(np.asarray(advantages), dtype=torch.float32).T.to(mask.device) * mask


def _whiten(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(values - mean) / std over the real tokens (mask 1); 0 on padding."""
    real = values[mask.bool()]
    return (values - real.mean()) / (real.std() + 1e-8) * mask


def _critic(policy: TinyTransformer, seed: int) -> TinyTransformer:
    """The critic: the policy's trunk with a scalar head initialised to zero (Huang et al.)."""
    critic = with_scalar_head(policy, seed)
    with torch.no_grad():
        critic.head.weight.zero_()
        critic.head.bias.zero_()
    return critic


class _ScoreScale:
    """Detail (reward normalisation): the affine map making SFT answers' scores mean 0, std 1."""

    def __init__(self, reward_model, reference, config, generator, enabled: bool):
        self.shift, self.scale, self.calls = 0.0, 1.0, 0
        if enabled:
            prompts = sample_prompts(4 * config.batch_size, generator)
            responses = _sample(reference, prompts, _whole_prefix, config.max_length, generator)
            with torch.no_grad():
                scores = reward_model.score(prompts, responses)
            self.shift, self.scale = scores.mean().item(), scores.std().item() + 1e-8
            self.calls = len(prompts)

    def __call__(self, scores: torch.Tensor) -> torch.Tensor:
        return (scores - self.shift) / self.scale


def _penalised_scores(raw_scores, scale, responses, penalty) -> torch.Tensor:
    """Normalised reward-model scores, less ``penalty`` where a response was cut (the EOS trick)."""
    scores = scale(raw_scores)
    if penalty is not None:
        scores = scores - penalty * (~_finished(responses)).float()
    return scores


def _adapt_beta(beta: float, kl: float, config) -> float:
    """Detail (adaptive KL, Ziegler et al. 2019): beta times 1 + e * batch / horizon.

    e is the KL's relative error to the target, clipped to [-0.2, 0.2].
    """
    error = float(np.clip(kl / config.target_kl - 1.0, -0.2, 0.2))
    return beta * (1.0 + error * config.batch_size / config.kl_horizon)


def train_ppo(
    reward_model: TinyTransformer,
    config: PPOConfig = PPOConfig(),
    *,
    build_state: Callable,
    kl_penalized_rewards: Callable,
    response_log_probs: Callable,
    ppo_clip_loss: Callable,
    gae: Callable,
    progress: bool = False,
) -> RunResult:
    """RLHF with PPO against a learned reward model, with the student's functions.

    Each iteration: sample a batch of answers with ``build_state``'s states; the
    policy's, the SFT policy's and the critic's outputs at every state; the
    reward model's score (normalised, less the missing-EOS penalty);
    ``kl_penalized_rewards``; ``gae``; whitened advantages; ``config.epochs``
    full-batch steps of ``ppo_clip_loss`` plus the critic's squared error.
    Every log-probability comes from ``response_log_probs``.

    Returns:
        a :class:`RunResult`; ``history`` per iteration: ``score`` (raw reward-model
        score), ``true_utility``, ``kl`` (exact, per response), ``distinct``, ``beta``.
    """
    clock, device = _Clock(), rlhelpers.device()
    reference = pretrained_policy(config.policy_seed)
    policy = copy.deepcopy(reference).requires_grad_(True).train()
    critic = _critic(reference, config.seed)  # Detail: value head initialised to zero
    parameters = [*policy.parameters(), *critic.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=config.lr)
    generator = torch.Generator(device).manual_seed(config.seed)
    # Detail: reward normalisation (the SFT policy's answers score mean 0, std 1).
    scale = _ScoreScale(reward_model, reference, config, generator, config.normalize_reward)
    calls, beta, history = scale.calls, config.beta, []
    for _ in _progress(range(config.iterations), progress, "PPO"):
        # 1. Rollout: answers to a batch of prompts, the policy reading build_state's states.
        prompts = sample_prompts(config.batch_size, generator)
        responses = _sample(
            policy, prompts, build_state, config.max_length, generator, config.temperature
        )
        layout, mask = _Layout(prompts, responses, build_state), _mask(responses)
        with torch.no_grad():
            logits, ref_logits = layout.outputs(policy), layout.outputs(reference)
            old_log_probs = _log_probs(response_log_probs, logits, layout, config.temperature)
            ref_log_probs = _log_probs(response_log_probs, ref_logits, layout, config.temperature)
            old_log_probs, ref_log_probs = old_log_probs * mask, ref_log_probs * mask
            values = layout.outputs(critic)[:, layout.prompt_length - 1 : -1] * mask
            raw_scores = reward_model.score(prompts, responses)
        # Detail: the EOS trick (a cut answer loses missing_eos_penalty).
        scores = _penalised_scores(raw_scores, scale, responses, config.missing_eos_penalty)
        calls += len(prompts)
        # 2. Per-token rewards: -beta * (log pi - log pi_ref), plus the score on the last token.
        rewards = kl_penalized_rewards(scores, old_log_probs, ref_log_probs, beta, mask)
        # 3. GAE per response (its last token terminal); the critic's targets are the returns.
        advantages = _gae_on_tokens(gae, rewards, values, mask, config.gamma, config.lam)
        returns = advantages + values
        if config.whiten_advantages:  # Detail: advantage whitening
            advantages = _whiten(advantages, mask)
        # 4. Epochs of the clipped objective and the critic's loss, on real tokens only.
        real = mask.bool()
        for _ in range(config.epochs):
            new_log_probs = _log_probs(
                response_log_probs, layout.outputs(policy), layout, config.temperature
            )
            policy_loss = ppo_clip_loss(
                new_log_probs[real], old_log_probs[real], advantages[real], config.clip_eps
            )
            new_values = layout.outputs(critic)[:, layout.prompt_length - 1 : -1]
            value_loss = (new_values - returns)[real].pow(2).mean()
            loss = policy_loss + config.value_coef * value_loss
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
            optimizer.step()
        kl = _exact_kl(logits, ref_logits, layout, mask).mean().item()
        history.append(
            {
                "score": raw_scores.mean().item(),
                "true_utility": true_utility(prompts, responses).mean().item(),
                "kl": kl,
                "distinct": _distinct_fraction(responses),
                "beta": beta,
            }
        )
        if config.target_kl is not None:  # Detail: adaptive KL coefficient
            beta = _adapt_beta(beta, kl, config)
    wall, cpu = clock.seconds()
    policy = policy.eval().requires_grad_(False)
    final = evaluate(
        policy,
        reward_model,
        build_state=build_state,
        n=config.eval_size,
        max_length=config.max_length,
        policy_seed=config.policy_seed,
    )
    return RunResult(policy, final, history, wall, cpu, calls)


# --------------------------------------------------------------------------- DPO


@dataclass(frozen=True)
class DPOConfig:
    """Hyperparameters of :func:`train_dpo`."""

    beta: float = 1.0
    """DPO's beta, the strength of the implicit KL penalty. The DPO paper and TRL use 0.1;
    here, over 150 steps (about six passes over 1,500 pairs), 0.1 drifts 9-23 nats from the
    SFT policy and loses true utility, 1.0 stays within about 1.5 nats (measured, seeds 0-1)."""
    steps: int = 150
    """Adam steps, each on a random batch of pairs."""
    batch_size: int = 64
    """pairs per step."""
    lr: float = 1e-3
    """Adam's learning rate."""
    seed: int = 0
    """seeds the batches."""
    policy_seed: int = 0
    """which SFT policy starts the run and is the reference."""
    max_length: int = 16
    """tokens per response at most, in the final evaluation."""
    eval_size: int = 256
    """prompts of the final evaluation."""


def _sequence_log_probs(model, response_log_probs, prompts, responses) -> torch.Tensor:
    """log pi(response | prompt) [B]: the student's per-token log-probs summed over real tokens."""
    sequences = torch.cat([prompts, responses], dim=1)
    out = response_log_probs(model(sequences), sequences, prompts.shape[1])
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(responses.shape):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"response_log_probs must return [B, S - P] = {tuple(responses.shape)}; got {got}"
        )
    return (out * _mask(responses)).sum(1)


def train_dpo(
    data: PreferenceData,
    config: DPOConfig = DPOConfig(),
    *,
    dpo_loss: Callable,
    response_log_probs: Callable,
    reward_model: TinyTransformer | None = None,
    progress: bool = False,
) -> RunResult:
    """DPO on preference pairs with the student's ``dpo_loss`` and ``response_log_probs``.

    The policy starts from the SFT policy, which is also the reference; no reward
    model is trained or called, nothing is sampled. ``reward_model`` is only for
    the final evaluation's score.

    Returns:
        a :class:`RunResult`; ``history`` per step: ``loss`` and ``accuracy`` (the
        fraction of the batch whose implicit reward margin is positive).
    """
    clock = _Clock()
    reference = pretrained_policy(config.policy_seed)
    policy = copy.deepcopy(reference).requires_grad_(True).train()
    with torch.no_grad():
        ref_chosen = _sequence_log_probs(reference, response_log_probs, data.prompts, data.chosen)
        ref_rejected = _sequence_log_probs(
            reference, response_log_probs, data.prompts, data.rejected
        )
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.lr)
    rows = np.random.default_rng(config.seed).integers(
        len(data), size=(config.steps, config.batch_size)
    )
    history = []
    for batch in _progress(torch.as_tensor(rows, device=data.prompts.device), progress, "DPO"):
        both = _sequence_log_probs(
            policy,
            response_log_probs,
            data.prompts[batch].repeat(2, 1),
            torch.cat([data.chosen[batch], data.rejected[batch]]),
        )
        chosen, rejected = both[: len(batch)], both[len(batch) :]
        loss = dpo_loss(chosen, rejected, ref_chosen[batch], ref_rejected[batch], config.beta)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        margin = (chosen - ref_chosen[batch]) - (rejected - ref_rejected[batch])
        history.append({"loss": loss.item(), "accuracy": (margin > 0).float().mean().item()})
    wall, cpu = clock.seconds()
    policy = policy.eval().requires_grad_(False)
    final = evaluate(
        policy,
        reward_model,
        n=config.eval_size,
        max_length=config.max_length,
        policy_seed=config.policy_seed,
    )
    return RunResult(policy, final, history, wall, cpu, 0)


# --------------------------------------------------------------------------- GRPO


@dataclass(frozen=True)
class GRPOConfig:
    """Hyperparameters of :func:`train_grpo`."""

    iterations: int = 30
    """iterations: each samples ``prompts * group_size`` responses and updates on them."""
    prompts: int = 16
    """distinct prompts per iteration."""
    group_size: int = 4
    """responses per prompt (the group whose mean is the baseline)."""
    kl_coef: float = 0.2
    """weight of the k3 estimate of KL(pi || pi_SFT) in the loss (DeepSeekMath: 0.04; TRL's
    default: 0). Here 0.05 ends about 6 nats from the SFT policy, 0.2 about 2.4 (seeds 0-1)."""
    lr: float = 1e-3
    """Adam's learning rate."""
    epochs: int = 4
    """full-batch passes of the clipped objective over each batch."""
    clip_eps: float = 0.2
    """the clip range."""
    max_grad_norm: float = 1.0
    """gradient-norm clip of each update."""
    temperature: float = 1.0
    """sampling temperature; every log-probability divides the logits by it too."""
    missing_eos_penalty: float | None = 1.0
    """subtracted from the score of a response cut at the limit (the EOS trick)."""
    max_length: int = 16
    """tokens per response at most."""
    seed: int = 0
    """seeds the prompts and the sampling."""
    policy_seed: int = 0
    """which SFT policy starts the run and is the reference."""
    eval_size: int = 256
    """prompts of the final evaluation."""


def train_grpo(
    reward_model: TinyTransformer,
    config: GRPOConfig = GRPOConfig(),
    *,
    group_relative_advantages: Callable,
    ppo_clip_loss: Callable,
    response_log_probs: Callable,
    progress: bool = False,
) -> RunResult:
    """GRPO against a learned reward model: group-relative advantages, no critic.

    Each iteration answers ``config.prompts`` prompts ``config.group_size`` times
    (the groups are consecutive rows), scores every answer, and gives each token
    of an answer that answer's ``group_relative_advantages``; the loss is
    ``ppo_clip_loss`` over every real token of the batch plus ``kl_coef`` times
    the k3 estimate of the KL to the SFT policy, averaged over the same tokens.
    The reward model's scores are used raw (the group normalisation makes a
    global normalisation pointless), less the missing-EOS penalty.

    Returns:
        a :class:`RunResult`; ``history`` per iteration: ``score`` (raw),
        ``true_utility``, ``kl`` (exact, per response), ``distinct``.
    """
    clock, device = _Clock(), rlhelpers.device()
    reference = pretrained_policy(config.policy_seed)
    policy = copy.deepcopy(reference).requires_grad_(True).train()
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.lr)
    generator = torch.Generator(device).manual_seed(config.seed)
    history, calls = [], 0
    for _ in _progress(range(config.iterations), progress, "GRPO"):
        prompts = sample_prompts(config.prompts, generator).repeat_interleave(
            config.group_size, dim=0
        )
        responses = _sample(
            policy, prompts, _whole_prefix, config.max_length, generator, config.temperature
        )
        layout, mask = _Layout(prompts, responses, _whole_prefix), _mask(responses)
        with torch.no_grad():
            logits, ref_logits = layout.outputs(policy), layout.outputs(reference)
            old_log_probs = _log_probs(response_log_probs, logits, layout, config.temperature)
            ref_log_probs = _log_probs(response_log_probs, ref_logits, layout, config.temperature)
            raw_scores = reward_model.score(prompts, responses)
        calls += len(prompts)
        scores = _penalised_scores(raw_scores, lambda s: s, responses, config.missing_eos_penalty)
        advantages = group_relative_advantages(scores, config.group_size)
        if not isinstance(advantages, torch.Tensor) or advantages.shape != scores.shape:
            raise ValueError(
                f"group_relative_advantages must return a tensor [B] = {tuple(scores.shape)}"
            )
        token_advantages = advantages.detach()[:, None].expand_as(mask)
        real = mask.bool()
        for _ in range(config.epochs):
            new_log_probs = _log_probs(
                response_log_probs, layout.outputs(policy), layout, config.temperature
            )
            policy_loss = ppo_clip_loss(
                new_log_probs[real], old_log_probs[real], token_advantages[real], config.clip_eps
            )
            log_ratio = (ref_log_probs - new_log_probs)[real]
            k3 = (log_ratio.exp() - log_ratio - 1).mean()
            loss = policy_loss + config.kl_coef * k3
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(policy.parameters(), config.max_grad_norm)
            optimizer.step()
        history.append(
            {
                "score": raw_scores.mean().item(),
                "true_utility": true_utility(prompts, responses).mean().item(),
                "kl": _exact_kl(logits, ref_logits, layout, mask).mean().item(),
                "distinct": _distinct_fraction(responses),
            }
        )
    wall, cpu = clock.seconds()
    policy = policy.eval().requires_grad_(False)
    final = evaluate(
        policy,
        reward_model,
        n=config.eval_size,
        max_length=config.max_length,
        policy_seed=config.policy_seed,
    )
    return RunResult(policy, final, history, wall, cpu, calls)


# ------------------------------------------------------------------ the lesson's experiments


def kl_sweep(
    reward_model: TinyTransformer,
    betas: Sequence[float],
    config: PPOConfig = PPOConfig(),
    *,
    progress: bool = False,
    **functions: Callable,
) -> list[RunResult]:
    """:func:`train_ppo` once per KL coefficient (``functions``: train_ppo's), in order.

    Each run's ``final`` has the reward-model score, the true utility and the KL to
    plot against each other: the over-optimisation curve.
    """
    return [
        train_ppo(reward_model, replace(config, beta=beta), **functions)
        for beta in _progress(betas, progress, "KL sweep")
    ]


def dpo_sweep(
    data: PreferenceData,
    betas: Sequence[float],
    config: DPOConfig = DPOConfig(),
    *,
    reward_model: TinyTransformer | None = None,
    progress: bool = False,
    **functions: Callable,
) -> list[RunResult]:
    """:func:`train_dpo` once per beta (``functions``: dpo_loss, response_log_probs), in order."""
    return [
        train_dpo(data, replace(config, beta=beta), reward_model=reward_model, **functions)
        for beta in _progress(betas, progress, "DPO sweep")
    ]


CASE_STUDY_GAMMAS = (0.0, 0.99)
"""The case study's two discounts: the team's 0 and the usual 0.99."""


def case_study(
    reward_model: TinyTransformer,
    config: PPOConfig = PPOConfig(),
    *,
    build_state: Callable,
    progress: bool = False,
    **functions: Callable,
) -> dict[tuple[str, float], RunResult]:
    """The case study's 2 x 2: state (``"prompt only"``, ``"full"``) x gamma (0, 0.99).

    Every run keeps ``config``'s KL penalty and budget; ``build_state`` is the
    full state, :func:`prompt_only_state` the team's bug. The ``("full", 0.99)``
    run is the fix. Keys: ``(state name, gamma)``.
    """
    states = {"prompt only": prompt_only_state, "full": build_state}
    cells = [(name, gamma) for name in states for gamma in CASE_STUDY_GAMMAS]
    return {
        (name, gamma): train_ppo(
            reward_model, replace(config, gamma=gamma), build_state=states[name], **functions
        )
        for name, gamma in _progress(cells, progress, "case study")
    }
