"""Pairs of submissions whose answer cells are suspiciously alike (winnowing, as MOSS).

Each student's answer cells of a lesson are tokenised with Python's own
tokenizer, every name and string replaced by a placeholder and comments and
layout dropped (so renaming and reformatting change nothing), then
fingerprinted with copydetect's winnowing (k-grams hashed, one kept per
window), less the fingerprints of the released stubs (the boilerplate every
submission starts from). Two submissions are flagged when each has at least
THRESHOLD of its fingerprints in the other; answers with fewer than
MIN_FINGERPRINTS fingerprints are too short to tell and left out.

The report only flags: a flagged pair is for a person to read, never a grade.
"""

from __future__ import annotations

import io
import keyword
import tokenize
from dataclasses import dataclass

import numpy as np
from copydetect.utils import get_document_fingerprints
from scipy import sparse

NOISE_TOKENS = 25
"""k: the length of a k-gram; shared runs shorter than this are noise (copydetect's default)."""
GUARANTEE_TOKENS = 30
"""Shared runs at least this long are always found (copydetect's default)."""
THRESHOLD = 0.6
"""The share of each submission's fingerprints found in the other to flag a pair."""
MIN_FINGERPRINTS = 8
"""Submissions with fewer fingerprints than this (a few short lines) are not compared."""
SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}


@dataclass(frozen=True)
class Pair:
    lesson: str
    first: str
    second: str
    similarity: tuple[float, float]
    """The share of the first's fingerprints in the second's, and the other way round."""


def normalised(code: str) -> str:
    """The code's tokens with names as V and strings as S, no comments or layout.

    Code that does not tokenise (a syntax error) keeps the tokens before the error.
    """
    out = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.NAME:
                out.append(token.string if keyword.iskeyword(token.string) else "V")
            elif token.type == tokenize.STRING:
                out.append("S")
            elif token.type not in SKIPPED:
                out.append(token.string)
    except (tokenize.TokenError, SyntaxError):
        pass
    return "".join(out)


def fingerprint(code: str, boilerplate: frozenset[int] = frozenset()) -> frozenset[int]:
    """The winnowed fingerprints of `code`, less those of the boilerplate."""
    hashes, _ = get_document_fingerprints(
        normalised(code), NOISE_TOKENS, GUARANTEE_TOKENS - NOISE_TOKENS + 1
    )
    return frozenset(int(h) for h in hashes) - boilerplate


def similar_pairs(
    lesson: str, answers: dict[str, str], stubs: str, threshold: float = THRESHOLD
) -> list[Pair]:
    """Pairs of students (ids in `answers`) whose answers are alike, most alike first.

    A sparse students x fingerprints matrix times its transpose counts what
    every pair shares in one product, so a class of 300 (44,850 pairs) takes a
    fraction of a second once the answers are fingerprinted.
    """
    boilerplate = fingerprint(stubs)
    prints = {student: fingerprint(code, boilerplate) for student, code in sorted(answers.items())}
    students = [s for s, p in prints.items() if len(p) >= MIN_FINGERPRINTS]
    if len(students) < 2:
        return []
    columns: dict[int, int] = {}
    rows, cols = [], []
    for row, student in enumerate(students):
        for value in prints[student]:
            rows.append(row)
            cols.append(columns.setdefault(value, len(columns)))
    matrix = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(len(students), len(columns))
    )
    shared = sparse.triu(matrix @ matrix.T, k=1).tocoo()
    sizes = np.asarray(matrix.sum(axis=1)).ravel()
    first, second = shared.data / sizes[shared.row], shared.data / sizes[shared.col]
    keep = np.minimum(first, second) >= threshold
    pairs = [
        Pair(lesson, students[i], students[j], (float(a), float(b)))
        for i, j, a, b in zip(
            shared.row[keep], shared.col[keep], first[keep], second[keep], strict=True
        )
    ]
    return sorted(pairs, key=lambda p: (-min(p.similarity), p.first, p.second))
