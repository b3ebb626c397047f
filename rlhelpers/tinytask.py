"""The course's tiny language task: its vocabulary, prompts, pretraining text and token helpers.

Lessons 06 and 07 share it (the SFT policy of :mod:`rlhelpers.tinylm`, the
labellers of :mod:`rlhelpers.labellers`, the RLHF loops of :mod:`rlhelpers.rlhf`).

A vocabulary of 45 words (:data:`VOCAB`; ``PAD_ID = 0`` pads, ``END_ID`` ends a
response). A prompt is two tokens, ``describe <subject>``, for one of eight
subjects (cat, dog, bird, ...; :data:`SUBJECTS` lists the adjectives true of
each). :func:`pretraining_text` writes the text the SFT policy is trained on:
prompts with plausible responses of 1-11 words, mostly descriptions such as
``the cat is soft and very small <end>`` (80% of the adjectives true, some
emphasised with ``very``), now and then an off-topic or evasive one (``i do not
know <end>``). :func:`encode` and :func:`decode` turn words into token ids and
back; :func:`sample_prompts` draws prompts; :func:`response_mask` marks real
tokens.

This module imports torch; ``import rlhelpers`` does not import it.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "ADJECTIVES",
    "END_ID",
    "PAD_ID",
    "PROMPT_LENGTH",
    "SUBJECTS",
    "TOKEN_ID",
    "VERY_ID",
    "VOCAB",
    "decode",
    "encode",
    "pretraining_text",
    "response_mask",
    "sample_prompts",
]

# --------------------------------------------------------------------------- vocabulary

SUBJECTS: dict[str, tuple[str, ...]] = {
    "cat": ("soft", "small", "quiet", "clever"),
    "dog": ("loyal", "big", "happy", "loud"),
    "bird": ("small", "fast", "colourful", "loud"),
    "fish": ("wet", "fast", "quiet", "colourful"),
    "tree": ("tall", "green", "old", "quiet"),
    "sun": ("hot", "bright", "big", "yellow"),
    "car": ("fast", "loud", "red", "new"),
    "book": ("long", "old", "thick", "new"),
}
"""Each subject and the adjectives that are true of it (what the true utility checks)."""

ADJECTIVES: tuple[str, ...] = tuple(sorted({adj for adjs in SUBJECTS.values() for adj in adjs}))
DETERMINERS = ("the", "a", "my", "this")
FUNCTION_WORDS = ("is", "and", "very", "i", "do", "not", "know", "it", "nice")

VOCAB: tuple[str, ...] = (
    ("<pad>", "<end>", "describe") + tuple(SUBJECTS) + ADJECTIVES + DETERMINERS + FUNCTION_WORDS
)
"""Every token's word; a token id is its index."""

TOKEN_ID: dict[str, int] = {word: index for index, word in enumerate(VOCAB)}
PAD_ID = TOKEN_ID["<pad>"]  # 0: fills a response after its end token
END_ID = TOKEN_ID["<end>"]  # ends every complete response
VERY_ID = TOKEN_ID["very"]
PROMPT_LENGTH = 2  # "describe <subject>"
MAX_TEXT_RESPONSE_LENGTH = 11  # the longest response in the pretraining text, <end> included


def encode(words: str | list[str]) -> list[int]:
    """Token ids of a space-separated string (or a list of words)."""
    words = words.split() if isinstance(words, str) else words
    unknown = [word for word in words if word not in TOKEN_ID]
    if unknown:
        raise ValueError(f"words not in the toy vocabulary: {unknown}; VOCAB lists the known ones")
    return [TOKEN_ID[word] for word in words]


def decode(tokens) -> list[str]:
    """One string per row of ``tokens`` [B, S] (or one row [S]), padding left out."""
    tokens = torch.as_tensor(tokens).cpu()
    rows = tokens.reshape(-1, tokens.shape[-1])
    return [" ".join(VOCAB[t] for t in row.tolist() if t != PAD_ID) for row in rows]


# --------------------------------------------------------------------------- pretraining text


def _description_choices() -> tuple[np.ndarray, np.ndarray]:
    """Each (adjectives, which one has very, how many very, determiner) and its probability."""
    rows, p = [], []
    for n, p_n in ((1, 0.5), (2, 0.35), (3, 0.15)):
        for emphasised in range(n):
            for n_very, p_very in ((0, 0.8), (1, 0.16), (2, 0.04)):
                for det in range(len(DETERMINERS)):
                    rows.append((n, emphasised, n_very, det))
                    p.append(p_n / n * p_very / len(DETERMINERS))
    return np.array(rows), np.array(p) / np.sum(p)


_DESCRIPTION_CHOICES, _DESCRIPTION_P = _description_choices()
_TRUE = {subject: list(adjectives) for subject, adjectives in SUBJECTS.items()}
_FALSE = {subject: [a for a in ADJECTIVES if a not in SUBJECTS[subject]] for subject in SUBJECTS}


def _describe(subject: str, rng: np.random.Generator) -> list[str]:
    """``<det> <subject> is adj [and adj [and adj]]``: mostly true adjectives, some with very."""
    n_adjectives, emphasised, n_very, det = rng.choice(
        _DESCRIPTION_CHOICES, axis=0, p=_DESCRIPTION_P
    )
    true, false = _TRUE[subject], _FALSE[subject]
    true_picks = rng.permutation(len(true))
    words = [DETERMINERS[det], subject, "is"]
    for index in range(n_adjectives):
        words += ["and"] if index > 0 else []
        words += ["very"] * n_very if index == emphasised else []
        is_true = rng.random() < 0.8
        words.append(true[true_picks[index]] if is_true else false[rng.integers(len(false))])
    return words


def _response(subject: str, rng: np.random.Generator) -> list[str]:
    """One plausible response to ``describe <subject>``, ending with ``<end>``."""
    kind = rng.random()
    if kind < 0.7:
        words = _describe(subject, rng)
    elif kind < 0.8:  # off topic: a short description of another subject
        others = [other for other in SUBJECTS if other != subject]
        words = _describe(others[rng.integers(len(others))], rng)[:4]
    else:  # evasive
        words = ["i", "do", "not", "know"] if rng.random() < 0.5 else ["it", "is", "nice"]
    return [*words, "<end>"]


def pretraining_text(n: int, seed: int = 0) -> torch.Tensor:
    """``n`` prompts with responses, as tokens [n, PROMPT_LENGTH + 11] padded with PAD_ID (CPU)."""
    rng = np.random.default_rng(seed)
    width = PROMPT_LENGTH + MAX_TEXT_RESPONSE_LENGTH
    rows = []
    for subject in rng.choice(list(SUBJECTS), size=n):
        ids = encode(["describe", str(subject), *_response(str(subject), rng)])
        rows.append(ids + [PAD_ID] * (width - len(ids)))
    return torch.tensor(rows, dtype=torch.long)


def sample_prompts(batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """Random prompts ``describe <subject>``, tokens [batch_size, 2] on the generator's device."""
    subjects = torch.tensor([TOKEN_ID[s] for s in SUBJECTS], device=generator.device)
    picks = torch.randint(
        len(subjects), (batch_size,), generator=generator, device=generator.device
    )
    describe = torch.full((batch_size,), TOKEN_ID["describe"], device=generator.device)
    return torch.stack([describe, subjects[picks]], dim=1)


def response_mask(responses: torch.Tensor) -> torch.Tensor:
    """1.0 on the real tokens of responses [B, L] (``<end>`` included), 0.0 on padding."""
    return (responses != PAD_ID).float()
