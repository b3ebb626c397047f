"""Lesson 01 (bandits): the points as announced and the lesson's claims.

Mistakes and seed sweeps: tests/mistakes/01_bandits.py (run by test_lesson_mistakes.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from lesson_runner import Lesson

LESSON_ID = "01_bandits"


@pytest.fixture(scope="module")
def lesson() -> Lesson:
    return Lesson.load(LESSON_ID)


@pytest.fixture(scope="module")
def ns(lesson: Lesson) -> dict:
    return lesson.namespace()


def test_structure(lesson: Lesson) -> None:
    """Points as announced (22 + 3); the generic checks are in test_lesson_structure.py."""
    tests = [c for c in lesson.cells if c.is_grade_test]
    written = [c for c in lesson.cells if c.is_written_answer]
    autograded = sum(c.nbgrader["points"] for c in tests)
    manual = sum(c.nbgrader["points"] for c in written)
    assert (autograded, manual) == (22, 3)
    intro = lesson.cells[0].source
    assert "Points: 25" in intro and "hidden tests" in intro and "Validate" in intro


def test_incremental_mean_equals_batch_mean(ns: dict) -> None:
    """Step size 1/n reproduces the batch mean to rounding error, on long random sequences."""
    rng = np.random.default_rng(0)
    rewards = rng.normal(3.0, 2.0, size=5000)
    estimate = 0.0
    for n, reward in enumerate(rewards, start=1):
        estimate = ns["incremental_update"](estimate, reward, 1.0 / n)
    assert abs(estimate - rewards.mean()) < 1e-10
