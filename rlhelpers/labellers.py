"""Simulated labellers for lesson 07: a hidden true utility, biased noisy choices, preference pairs.

The true utility
    :func:`true_utility` is what a response is really worth to the person who
    asked ``describe <subject>`` (the subject is the prompt's second token; PAD is
    ignored), the sum of (weights in :data:`UTILITY`, a :class:`UtilityWeights`):

    ==================================================  ========
    the prompt's subject is named                         +1.0
    each other subject named (distinct)                   -1.0
    each distinct adjective that is true of the subject   +0.5
    each distinct adjective that is false of it           -1.0
    each repeated word (count - 1 per word; ``and``       -0.5
    excepted, ``very`` included)
    the response never ends (no ``<end>``)                -1.0
    ==================================================  ========

    So ``the cat is soft and small <end>`` is worth 2.0, ``i do not know <end>``
    0.0, ``the cat is very very soft <end>`` 1.0 (one repeat), and the most a
    response can be worth is 3.0 (four true adjectives). ``very`` and length
    earn nothing by themselves. It is noise-free and unbiased: what lesson 07
    evaluates policies with, and what no model ever trains on.

The labellers
    :class:`SimulatedLabellers` compare two responses to the same prompt. They
    judge by a BIASED utility, the true one plus ``very_bonus`` (0.5) per
    ``very`` and ``length_bonus`` (0.1) per word (``<end>`` not counted): one
    ``very`` pleases them as much as one more true adjective, and a five-word
    answer beats a three-word one by 0.2 when both are equally good. They choose
    with Bradley-Terry noise: ``P(a preferred to b) = sigmoid((u(a) - u(b)) /
    temperature)``, temperature 0.5 (a difference of one true adjective, 0.5, is
    chosen right 73% of the time; one false adjective, 1.5, 95%).

    The bias is the seed of over-optimisation: a reward model fitted to these
    choices learns to like ``very`` and length, which the true utility does not
    pay for (and a repeated ``very`` costs 0.5 in truth but, to the labellers,
    gains 0.5 + 0.1 - 0.5 = 0.1).

The pairs
    :func:`preference_pairs` samples two different responses per prompt from a
    policy (the SFT policy of :func:`rlhelpers.tinylm.pretrained_policy`), has
    the labellers choose, and returns a :class:`PreferenceData`: prompts, chosen
    and rejected responses, and for evaluation the true and the labellers'
    utilities of both and the probability with which the labellers chose.
    Deterministic from the seed; ``data.split()`` holds out a test set.

All tensors live on :func:`rlhelpers.device`. This module imports torch; ``import
rlhelpers`` does not import it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import nn

import rlhelpers
from rlhelpers.tinytask import (
    ADJECTIVES,
    END_ID,
    PAD_ID,
    SUBJECTS,
    TOKEN_ID,
    VERY_ID,
    VOCAB,
    sample_prompts,
)

__all__ = [
    "LABELLERS",
    "UTILITY",
    "PreferenceData",
    "SimulatedLabellers",
    "UtilityWeights",
    "preference_pairs",
    "response_lengths",
    "true_utility",
]


@dataclass(frozen=True)
class UtilityWeights:
    """The points of :func:`true_utility` (see the module docstring's table)."""

    subject: float = 1.0
    """the prompt's subject is named (once is enough)."""
    other_subject: float = -1.0
    """per distinct other subject named."""
    true_adjective: float = 0.5
    """per distinct adjective true of the subject."""
    false_adjective: float = -1.0
    """per distinct adjective not true of the subject."""
    repetition: float = -0.5
    """per repeated occurrence of a word (``and`` excepted)."""
    unfinished: float = -1.0
    """when the response has no ``<end>``."""


UTILITY = UtilityWeights()
"""The weights of the hidden true utility."""


class _Facts:
    """The vocabulary's facts as tensors on one device: subjects, adjectives, which are true."""

    def __init__(self, device: torch.device):
        vocab = len(VOCAB)
        self.is_subject = torch.zeros(vocab, dtype=torch.bool, device=device)
        self.is_subject[[TOKEN_ID[s] for s in SUBJECTS]] = True
        self.is_adjective = torch.zeros(vocab, dtype=torch.bool, device=device)
        self.is_adjective[[TOKEN_ID[a] for a in ADJECTIVES]] = True
        self.is_true = torch.zeros(vocab, vocab, dtype=torch.bool, device=device)  # [subject, word]
        for subject, adjectives in SUBJECTS.items():
            self.is_true[TOKEN_ID[subject], [TOKEN_ID[a] for a in adjectives]] = True
        self.repeat_counts = torch.ones(vocab, device=device)
        self.repeat_counts[[PAD_ID, TOKEN_ID["and"]]] = 0.0  # "and" joins adjectives: no repeat


def _facts(device: torch.device) -> _Facts:
    """The facts on ``device`` (built once per device)."""
    key = str(device)
    if key not in _FACTS:
        _FACTS[key] = _Facts(device)
    return _FACTS[key]


_FACTS: dict[str, _Facts] = {}


def _word_counts(responses: torch.Tensor) -> torch.Tensor:
    """How often each vocabulary word occurs in each response: [B, V] floats (PAD included)."""
    return nn.functional.one_hot(responses, len(VOCAB)).sum(dim=1).float()


def true_utility(prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """The hidden, noise-free, unbiased worth of each response (rule in the module docstring).

    Args:
        prompts: long [B, 2], ``describe <subject>``.
        responses: long [B, L], PAD after each ``<end>`` (L may be 0).

    Returns:
        float [B], in utility points (at most 3.0).
    """
    facts = _facts(responses.device)
    subject = prompts[:, 1]
    counts = _word_counts(responses)
    present = counts > 0
    own = nn.functional.one_hot(subject, len(VOCAB)).bool()
    true = facts.is_true[subject]
    utility = UTILITY.subject * present[own].float()
    utility += UTILITY.other_subject * (present & facts.is_subject & ~own).sum(1)
    utility += UTILITY.true_adjective * (present & true).sum(1)
    utility += UTILITY.false_adjective * (present & facts.is_adjective & ~true).sum(1)
    utility += UTILITY.repetition * ((counts - 1).clamp(min=0) * facts.repeat_counts).sum(1)
    return utility + UTILITY.unfinished * ~present[:, END_ID]


def response_lengths(responses: torch.Tensor) -> torch.Tensor:
    """Words in each response [B] (long), ``<end>`` and PAD not counted."""
    return ((responses != PAD_ID) & (responses != END_ID)).sum(dim=1)


@dataclass(frozen=True)
class SimulatedLabellers:
    """People comparing two answers, noisily, with a taste for emphasis and length.

    They judge by ``true_utility + very_bonus * (number of very) + length_bonus *
    (number of words)`` and prefer a over b with probability ``sigmoid((u(a) -
    u(b)) / temperature)`` (Bradley-Terry). ``SimulatedLabellers(very_bonus=0,
    length_bonus=0)`` are unbiased; ``temperature`` near 0 makes them noise-free.
    """

    very_bonus: float = 0.5
    """utility points the labellers add per ``very`` (the true utility adds none)."""
    length_bonus: float = 0.1
    """utility points they add per word of the response (``<end>`` not counted)."""
    temperature: float = 0.5
    """Bradley-Terry scale, in utility points: larger means noisier choices."""

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")

    def utility(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """The biased utility the labellers judge by, float [B]."""
        very = (responses == VERY_ID).sum(dim=1)
        bias = self.very_bonus * very + self.length_bonus * response_lengths(responses)
        return true_utility(prompts, responses) + bias

    def probability_first(
        self, prompts: torch.Tensor, first: torch.Tensor, second: torch.Tensor
    ) -> torch.Tensor:
        """P(first preferred to second) [B], by Bradley-Terry on the biased utility."""
        margin = self.utility(prompts, first) - self.utility(prompts, second)
        return torch.sigmoid(margin / self.temperature)

    def compare(
        self,
        prompts: torch.Tensor,
        first: torch.Tensor,
        second: torch.Tensor,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """Each labeller's choice: bool [B], True where ``first`` is preferred to ``second``."""
        p = self.probability_first(prompts, first, second)
        draws = torch.rand(len(p), generator=generator, device=p.device)
        return draws < p


LABELLERS = SimulatedLabellers()
"""The labellers lesson 07 uses."""


@dataclass(frozen=True)
class PreferenceData:
    """Pairs of responses to the same prompts, one chosen by the labellers over the other.

    Row i: the labellers saw ``prompts[i]`` with ``chosen[i]`` and ``rejected[i]``
    (in a random order) and chose ``chosen[i]``. Responses are padded with PAD to
    one length L.
    """

    prompts: torch.Tensor
    """long [N, 2]: ``describe <subject>``."""
    chosen: torch.Tensor
    """long [N, L]: the preferred response (``<end>`` then PAD)."""
    rejected: torch.Tensor
    """long [N, L]: the other one (never identical to ``chosen``)."""
    chosen_utility: torch.Tensor
    """float [N]: the true utility of ``chosen`` (for evaluation only)."""
    rejected_utility: torch.Tensor
    """float [N]: the true utility of ``rejected`` (for evaluation only)."""
    chosen_labeller_utility: torch.Tensor
    """float [N]: the labellers' biased utility of ``chosen``."""
    rejected_labeller_utility: torch.Tensor
    """float [N]: the labellers' biased utility of ``rejected``."""
    chosen_probability: torch.Tensor
    """float [N]: the probability the labellers had of choosing as they did.
    ``max(p, 1 - p)`` averaged is the best held-out accuracy any reward model can expect."""

    def __len__(self) -> int:
        return len(self.prompts)

    def subset(self, index: torch.Tensor | slice) -> PreferenceData:
        """The rows ``index`` of every field."""
        return PreferenceData(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def split(self, held_out: float = 0.25) -> tuple[PreferenceData, PreferenceData]:
        """(train, test): the last ``held_out`` fraction of the rows is the test set.

        The rows are independent draws, so the last ones are as random as any.
        """
        if not 0 < held_out < 1:
            raise ValueError(f"held_out must be in (0, 1), got {held_out}")
        cut = len(self) - max(1, round(held_out * len(self)))
        return self.subset(slice(0, cut)), self.subset(slice(cut, None))


def _pad_to(responses: torch.Tensor, length: int) -> torch.Tensor:
    """responses [B, L] padded with PAD on the right to [B, length]."""
    return nn.functional.pad(responses, (0, length - responses.shape[1]), value=PAD_ID)


@torch.no_grad()
def preference_pairs(
    policy: nn.Module,
    n_pairs: int,
    seed: int = 0,
    labellers: SimulatedLabellers = LABELLERS,
    max_length: int = 16,
) -> PreferenceData:
    """``n_pairs`` labelled comparisons of two responses the policy sampled for one prompt.

    Args:
        policy: the model that answers (``forward(tokens [B, S]) -> logits [B, S, V]``),
            usually :func:`rlhelpers.tinylm.pretrained_policy`.
        n_pairs: rows of the result.
        seed: seeds the prompts, the sampling and the labellers' noise.
        labellers: who chooses (the default has the documented bias).
        max_length: tokens per response at most.

    Returns:
        a :class:`PreferenceData` on ``device()``. A pair whose two responses are
        identical tells nothing, so such pairs are dropped and more are drawn.
    """
    from rlhelpers.tinylm import generate  # tinylm imports nothing of this module

    device = rlhelpers.device()
    generator = torch.Generator(device).manual_seed(seed)
    batches, have = [], 0
    while have < n_pairs:
        wanted = int(1.1 * (n_pairs - have)) + 8  # about 2% of the pairs are identical
        prompts = sample_prompts(wanted, generator)
        both = generate(policy, prompts.repeat_interleave(2, dim=0), max_length, generator)
        first, second = both[0::2], both[1::2]
        differ = (first != second).any(dim=1)
        batches.append((prompts[differ], first[differ], second[differ]))
        have += int(differ.sum())
    length = max(batch[1].shape[1] for batch in batches)
    prompts, first, second = (
        torch.cat([batch[i] if i == 0 else _pad_to(batch[i], length) for batch in batches])[
            :n_pairs
        ]
        for i in range(3)
    )
    first_wins = labellers.compare(prompts, first, second, generator)
    chosen = torch.where(first_wins[:, None], first, second)
    rejected = torch.where(first_wins[:, None], second, first)
    p_first = labellers.probability_first(prompts, first, second)
    return PreferenceData(
        prompts=prompts,
        chosen=chosen,
        rejected=rejected,
        chosen_utility=true_utility(prompts, chosen),
        rejected_utility=true_utility(prompts, rejected),
        chosen_labeller_utility=labellers.utility(prompts, chosen),
        rejected_labeller_utility=labellers.utility(prompts, rejected),
        chosen_probability=torch.where(first_wins, p_first, 1 - p_first),
    )
