"""A tiny causal transformer for lesson 07: the policy, the reward model and the critic.

Everything is made here, in seconds, on one CPU thread; nothing is downloaded.
The task, its vocabulary and the pretraining text are :mod:`rlhelpers.tinytask`'s
(:data:`~rlhelpers.tinytask.VOCAB`, prompts ``describe <subject>``,
:func:`~rlhelpers.tinytask.pretraining_text`), imported, not copied.

The network
    :class:`TinyTransformer` is a GPT in miniature: token and position
    embeddings, :attr:`TinyConfig.layers` pre-norm blocks (causal multi-head
    self-attention, then an MLP, each added back to the residual stream), a
    final LayerNorm and a head. ``forward(tokens [B, S])`` returns

    - ``head="lm"``: next-token logits [B, S, V]; PAD's logit is -1e9, so
      padding is never predicted (finite rather than -inf so that a KL term
      ``p * (log p - log q)`` on PAD is ``0 * finite = 0``, not NaN);
    - ``head="scalar"``: one number per position [B, S]. Read at every
      position it is the critic V(state); read on the last real token of a
      response (:meth:`TinyTransformer.score`) it is a reward model's score.

    The attention is causal: position s reads positions 0..s only, so the
    logits at s are those of the state ``tokens[:, :s + 1]``. Responses are
    padded on the right, so no real token ever attends to padding.
    :meth:`TinyTransformer.attention_maps` returns the attention weights of every
    layer and head, computed explicitly (the forward pass uses
    ``scaled_dot_product_attention``; a test checks that the two agree).

The SFT stage
    :func:`pretrained_policy` trains a TinyTransformer on the pretraining text
    (teacher forcing, next-token cross-entropy on the response tokens, Adam),
    deterministic from its seed, once per process and seed, and returns a
    frozen copy. :class:`SFTConfig` holds its hyperparameters. :func:`with_scalar_head`
    turns a policy into a reward model or critic that starts from its trunk
    (as InstructGPT's reward model starts from the SFT model).

Sampling
    :func:`generate` samples responses [B, L] from prompts [B, 2] (PAD after
    each ``<end>``), recomputing the whole prefix at each step (no KV cache: the
    sequences are under 20 tokens).

All tensors live on :func:`rlhelpers.device`. This module imports torch; ``import
rlhelpers`` does not import it.
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

import rlhelpers
from rlhelpers.tinytask import END_ID, PAD_ID, PROMPT_LENGTH, VOCAB, pretraining_text

__all__ = [
    "SFTConfig",
    "TinyConfig",
    "TinyTransformer",
    "generate",
    "pretrained_policy",
    "sft_loss",
    "trainable_copy",
    "with_scalar_head",
]

PAD_LOGIT = -1e9
"""The logit of PAD in every prediction: never sampled, and finite (see the module docstring)."""


@dataclass(frozen=True)
class TinyConfig:
    """The shape of a :class:`TinyTransformer`."""

    vocab_size: int = len(VOCAB)
    """tokens in the vocabulary (the task's 45 words)."""
    width: int = 64
    """d_model: the size of every token's vector in the residual stream."""
    layers: int = 2
    """transformer blocks (attention + MLP each)."""
    heads: int = 4
    """attention heads per block; width must be a multiple of it (head size 16)."""
    mlp_ratio: int = 2
    """the MLP's hidden size is mlp_ratio * width (GPT uses 4; 2 halves the CPU time here)."""
    max_positions: int = 32
    """longest sequence (prompt + response) the position embedding covers."""

    def __post_init__(self) -> None:
        if self.width % self.heads:
            raise ValueError(f"width {self.width} must be a multiple of heads {self.heads}")


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position s reads positions 0..s only."""

    def __init__(self, config: TinyConfig):
        super().__init__()
        self.heads = config.heads
        self.qkv = nn.Linear(config.width, 3 * config.width)
        self.out = nn.Linear(config.width, config.width)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values [B, heads, S, head size] of x [B, S, width]."""
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return tuple(t.unflatten(-1, (self.heads, -1)).transpose(1, 2) for t in (q, k, v))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, S, width] -> [B, S, width], by PyTorch's fused causal attention."""
        q, k, v = self._split(x)
        mixed = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(mixed.transpose(1, 2).flatten(2))

    def explicit(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The same output written out, with the weights: ([B, S, width], [B, heads, S, S]).

        weights[b, h, s, j] = softmax_j(q_s . k_j / sqrt(head size)) over j <= s, 0 for j > s.
        """
        q, k, v = self._split(x)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        future = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool, device=x.device).triu(1)
        weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
        return self.out((weights @ v).transpose(1, 2).flatten(2)), weights


class Block(nn.Module):
    """A pre-norm transformer block: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, config: TinyConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(config.width)
        self.attention = CausalSelfAttention(config)
        self.norm2 = nn.LayerNorm(config.width)
        hidden = config.mlp_ratio * config.width
        self.mlp = nn.Sequential(
            nn.Linear(config.width, hidden), nn.GELU(), nn.Linear(hidden, config.width)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))

    def explicit(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """forward(x) and the attention weights [B, heads, S, S], computed explicitly."""
        mixed, weights = self.attention.explicit(self.norm1(x))
        x = x + mixed
        return x + self.mlp(self.norm2(x)), weights


class TinyTransformer(nn.Module):
    """A GPT in miniature: ``forward(tokens [B, S]) -> logits [B, S, V]`` (or values [B, S]).

    Args:
        config: the shape (:class:`TinyConfig`; the default is 2 blocks of width 64,
            74,925 parameters with the lm head).
        head: ``"lm"`` for next-token logits [B, S, V] (the policy), ``"scalar"``
            for one number per position [B, S] (the reward model, the critic).
    """

    def __init__(self, config: TinyConfig | None = None, head: str = "lm"):
        super().__init__()
        if head not in ("lm", "scalar"):
            raise ValueError(f"head must be 'lm' or 'scalar', got {head!r}")
        self.config = config or TinyConfig()
        self.head_kind = head
        self.token = nn.Embedding(self.config.vocab_size, self.config.width)
        self.position = nn.Embedding(self.config.max_positions, self.config.width)
        self.blocks = nn.ModuleList(Block(self.config) for _ in range(self.config.layers))
        self.norm = nn.LayerNorm(self.config.width)
        outputs = self.config.vocab_size if head == "lm" else 1
        self.head = nn.Linear(self.config.width, outputs)

    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token plus position embedding [B, S, width]; refuses sequences longer than the table."""
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be [B, S], got shape {tuple(tokens.shape)}")
        if tokens.shape[1] > self.config.max_positions:
            raise ValueError(
                f"sequence of {tokens.shape[1]} tokens; TinyConfig.max_positions is "
                f"{self.config.max_positions}"
            )
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        return self.token(tokens) + self.position(positions)

    def _read_out(self, x: torch.Tensor) -> torch.Tensor:
        """The head on the final LayerNorm: logits [B, S, V] (PAD at -1e9) or values [B, S]."""
        out = self.head(self.norm(x))
        if self.head_kind == "scalar":
            return out.squeeze(-1)
        return out.index_fill(-1, torch.tensor([PAD_ID], device=out.device), PAD_LOGIT)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [B, S] (long) -> logits [B, S, V] (``head="lm"``) or values [B, S]."""
        x = self._embed(tokens)
        for block in self.blocks:
            x = block(x)
        return self._read_out(x)

    def forward_with_attention(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """forward(tokens) computed with explicit attention, and its weights.

        Returns:
            the outputs (as :meth:`forward`) and the weights [B, layers, heads, S, S]:
            ``weights[b, l, h, s]`` is how much position s of block l, head h
            reads each position (a distribution over 0..s).
        """
        x, maps = self._embed(tokens), []
        for block in self.blocks:
            x, weights = block.explicit(x)
            maps.append(weights)
        return self._read_out(x), torch.stack(maps, dim=1)

    @torch.no_grad()
    def attention_maps(self, tokens: torch.Tensor) -> torch.Tensor:
        """The attention weights of one sequence, for a plot: tokens [S] -> [layers, heads, S, S].

        A batch [B, S] gives [B, layers, heads, S, S].
        """
        weights = self.forward_with_attention(tokens.reshape(-1, tokens.shape[-1]))[1]
        return weights[0] if tokens.dim() == 1 else weights

    def score(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """A reward model's score of each response: the scalar head on its last real token.

        Args:
            prompts: long [B, P].
            responses: long [B, L], real tokens first, then PAD.

        Returns:
            float [B]: the value at position P - 1 + (number of real response tokens),
            the last token the model sees (``<end>`` for a finished response).
        """
        if self.head_kind != "scalar":
            raise ValueError('score needs a TinyTransformer(head="scalar")')
        values = self(torch.cat([prompts, responses], dim=1))
        last = prompts.shape[1] - 1 + (responses != PAD_ID).sum(dim=1)
        return values[torch.arange(len(values), device=values.device), last]


def with_scalar_head(model: TinyTransformer, seed: int = 0) -> TinyTransformer:
    """A ``head="scalar"`` copy of ``model``'s trunk with a new head, trainable, on its device.

    The trunk (embeddings, blocks, final LayerNorm) is copied; the head [width -> 1]
    is initialised from ``seed``. InstructGPT starts its reward model (and value
    function) from the SFT model in the same way.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        scalar = TinyTransformer(model.config, head="scalar")
    trunk = {k: v for k, v in model.state_dict().items() if not k.startswith("head.")}
    scalar.load_state_dict(trunk, strict=False)
    device = next(model.parameters()).device
    return scalar.to(device).requires_grad_(True).train()


# --------------------------------------------------------------------------- the SFT stage


@dataclass(frozen=True)
class SFTConfig:
    """How :func:`pretrained_policy` trains the policy on the pretraining text."""

    texts: int = 4096
    """rows of :func:`~rlhelpers.tinytask.pretraining_text` (drawn with the policy's seed)."""
    steps: int = 200
    """Adam steps, each on a random batch of rows."""
    batch_size: int = 64
    """rows per step."""
    lr: float = 1e-2
    """Adam's learning rate, decayed linearly to lr / 10 over the steps."""


SFT = SFTConfig()
"""The configuration every :func:`pretrained_policy` uses."""


def sft_loss(model: TinyTransformer, text: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy (nats per token) of ``model`` on the responses of ``text``.

    Args:
        model: a ``head="lm"`` TinyTransformer.
        text: long [N, S], prompts of PROMPT_LENGTH tokens then responses padded with PAD.

    Returns:
        a scalar: the mean over every real response token (``<end>`` included) of
        -log p(token | the tokens before it). The prompt is given, not predicted.
    """
    logits = model(text[:, :-1])
    targets = text[:, 1:].clone()
    targets[:, : PROMPT_LENGTH - 1] = PAD_ID  # the prompt's own tokens are not predicted
    return nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=PAD_ID)


@functools.cache
def _sft_state(seed: int, device: str) -> dict[str, torch.Tensor]:
    """Train a TinyTransformer on the pretraining text; its weights (cached per process)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TinyTransformer().to(device)
    text = pretraining_text(SFT.texts, seed=seed).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=SFT.lr)
    # Linear decay: the last steps average out the batch noise of the first ones.
    schedule = torch.optim.lr_scheduler.LinearLR(optimizer, 1.0, 0.1, total_iters=SFT.steps)
    rows = np.random.default_rng(seed).integers(len(text), size=(SFT.steps, SFT.batch_size))
    for batch in torch.as_tensor(rows, device=device):
        loss = sft_loss(model, text[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def pretrained_policy(seed: int = 0) -> TinyTransformer:
    """The SFT policy: a frozen TinyTransformer trained on ``pretraining_text``, on ``device()``.

    Deterministic from ``seed``; trained once per process and seed (a few CPU-seconds),
    then each call returns a fresh copy. To train it further, take a
    ``copy.deepcopy(...).requires_grad_(True).train()``.
    """
    device = rlhelpers.device()
    model = TinyTransformer().to(device)
    model.load_state_dict(_sft_state(int(seed), str(device)))
    return model.eval().requires_grad_(False)


# --------------------------------------------------------------------------- sampling


@torch.no_grad()
def generate(
    model: TinyTransformer,
    prompts: torch.Tensor,
    max_length: int,
    generator: torch.Generator,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Sample a response to each prompt, token by token, the model seeing the whole prefix.

    Args:
        model: a ``head="lm"`` TinyTransformer (or any model with its forward).
        prompts: long [B, P] on the model's device.
        max_length: tokens per response at most; a response without ``<end>`` by then is cut.
        generator: the random numbers (a ``torch.Generator`` on the prompts' device).
        temperature: the logits are divided by it; 0 takes the most likely token.

    Returns:
        long [B, L], L <= max_length: each response's tokens, ``<end>`` included, then PAD.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    responses = prompts.new_full((len(prompts), max_length), PAD_ID)
    alive = torch.arange(len(prompts), device=prompts.device)
    length = 0
    for step in range(max_length):
        # Only the unfinished responses are run: most end after 5-8 tokens.
        prefix = torch.cat([prompts[alive], responses[alive, :step]], dim=1)
        logits = model(prefix)[:, -1]
        if temperature == 0:
            tokens = logits.argmax(dim=-1)
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            tokens = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        responses[alive, step] = tokens
        length = step + 1
        alive = alive[tokens != END_ID]
        if len(alive) == 0:
            break
    return responses[:, :length]


def trainable_copy(model: TinyTransformer) -> TinyTransformer:
    """A deep copy of a frozen model with gradients on, in training mode (a policy to tune)."""
    return copy.deepcopy(model).requires_grad_(True).train()
