"""Lesson 01 (bandits): the points as announced and the lesson's claims.

Mistakes and seed sweeps: tests/mistakes/01_bandits.py (run by test_lesson_mistakes.py).
"""

from __future__ import annotations

import ast
import copy

import numpy as np
import pytest
from lesson_runner import Lesson, cell_result, visible_part

LESSON_ID = "01_bandits"


def test_incremental_mean_equals_batch_mean(ns: dict) -> None:
    """Step size 1/n reproduces the batch mean to rounding error, on long random sequences."""
    rng = np.random.default_rng(0)
    rewards = rng.normal(3.0, 2.0, size=5000)
    estimate = 0.0
    for n, reward in enumerate(rewards, start=1):
        estimate = ns["incremental_update"](estimate, reward, 1.0 / n)
    assert abs(estimate - rewards.mean()) < 1e-10


# --------------------------------------------------------------------------- the quiz


def quiz_result(lesson: Lesson, namespace: dict, source: str | None = None):
    """Run the quiz's grade cell (or `source`) in a copy of `namespace`; the value of its
    last line, the number nbgrader scores it by."""
    source = lesson.cell("test_quiz").source if source is None else source
    last = ast.parse(source).body[-1]
    assert isinstance(last, ast.Expr), "test_quiz does not end with an expression"
    return cell_result(source, copy.copy(namespace), "<test_quiz>")


RIGHT = {"answer_q1": "0.09", "answer_q2": "0.46", "answer_q3": '"a"', "answer_q4": '"b"'}
WRONG = {"answer_q1": "0.1", "answer_q2": "0.91", "answer_q3": '"b"', "answer_q4": '"a"'}


def quiz_with(lesson: Lesson, answers: dict[str, str]) -> dict:
    """The namespace with the quiz answered as given (name -> Python literal)."""
    source = "\n".join(f"{name} = {value}" for name, value in answers.items())
    scratch = copy.copy(lesson.namespace())
    exec(source, scratch)
    return scratch


def test_quiz_reference_scores_every_point(lesson: Lesson, capsys) -> None:
    assert quiz_result(lesson, quiz_with(lesson, RIGHT)) == 2.0
    out = capsys.readouterr().out
    assert out.count(": right.") == 4, out


@pytest.mark.parametrize("name", sorted(WRONG))
def test_one_wrong_quiz_answer_costs_half_a_point(lesson: Lesson, name: str, capsys) -> None:
    """Partial credit: one wrong answer costs its 0.5 points; its explanation (which would
    give the answer away) is not printed, the other three are."""
    answers = {**RIGHT, name: WRONG[name]}
    assert quiz_result(lesson, quiz_with(lesson, answers)) == 1.5
    out = capsys.readouterr().out
    assert f"{name}: not right." in out
    assert f"{name}: right." not in out
    assert out.count(": right.") == 3, out


def test_all_wrong_quiz_answers_score_zero(lesson: Lesson) -> None:
    assert quiz_result(lesson, quiz_with(lesson, WRONG)) == 0.0


def test_quiz_visible_part_checks_only_the_form(lesson: Lesson) -> None:
    """With the hidden tests removed (the student's copy), wrong values of the right form pass
    Validate, and the cell scores nothing by itself (None: the visible checks decide)."""
    visible = visible_part(lesson.cell("test_quiz").source)
    assert quiz_result(lesson, quiz_with(lesson, WRONG), visible) is None


# --------------------------------------------------------------------------- the debugging exercise


def test_given_arm_means_has_the_bug_the_text_promises(ns: dict) -> None:
    """The demo's symptom: the given code keeps one reward of a repeated arm (the last, here)."""
    got = ns["arm_means"](np.array([0, 2, 0, 0, 2]), np.array([1.0, 5.0, 2.0, 6.0, 3.0]), 4)
    np.testing.assert_allclose(got, [6.0 / 3, 0.0, 3.0 / 2, 0.0])


FIXES = {
    # np.bincount with weights instead of np.add.at
    "bincount": (
        "np.add.at(sums, actions, rewards)",
        "sums = np.bincount(actions, weights=rewards, minlength=k)",
    ),
    # a masked mean per arm (a Python loop over the k arms, not over the log)
    "masks": (
        "    np.add.at(sums, actions, rewards)\n"
        "    return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)",
        "    return np.array(\n"
        "        [rewards[actions == a].mean() if counts[a] else 0.0 for a in range(k)]\n"
        "    )",
    ),
    # divides by the counts first and replaces the 0 / 0 afterwards (a RuntimeWarning inside)
    "nan_to_zero": (
        "    return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)",
        "    return np.where(counts > 0, sums / counts, 0.0)",
    ),
}


@pytest.mark.parametrize("fix", sorted(FIXES))
def test_other_correct_fixes_pass(lesson: Lesson, fix: str) -> None:
    old, new = FIXES[fix]
    scratch = lesson.with_mistake(lesson.namespace(), "fixed_arm_means", old, new)
    assert lesson.run_cells(scratch, ["test_fixed_arm_means"]) == {"test_fixed_arm_means": None}


# --------------------------------------------------------------------------- the contextual bandit

# Agents the text allows (a linear layer with or without bias, SGD at args.lr, the squared
# error of the chosen arm): each must pass the real grade cell.
CONTEXTUAL_ALTERNATIVES = {
    # no bias: the means have no constant term, so W x alone represents them
    "no_bias": (
        "model = torch.nn.Linear(context_dim, n_arms).to(DEVICE)",
        "model = torch.nn.Linear(context_dim, n_arms, bias=False).to(DEVICE)",
    ),
    # the loss written with torch's mse_loss and a target tensor, halved (0.5 * error^2)
    "half_mse_loss": (
        "loss = (q_x[arm] - float(reward)) ** 2",
        "loss = 0.5 * torch.nn.functional.mse_loss("
        "q_x[arm], torch.tensor(float(reward), device=DEVICE))",
    ),
    # its own seeding: other random streams than seed_everything's
    "own_seeding": (
        "    rng = rlhelpers.seed_everything(args.seed)\n",
        "    torch.manual_seed(args.seed)\n    rng = np.random.default_rng(args.seed + 1)\n",
    ),
    # a forward pass without gradient to act, a second one for the loss
    "two_passes": (
        "        q_x = model(x_t)  # Q(x, .) for the 4 arms\n"
        "        arm = epsilon_greedy(q_x.detach().cpu().numpy(), args.epsilon, rng)\n",
        "        with torch.no_grad():\n"
        "            arm = epsilon_greedy(model(x_t).cpu().numpy(), args.epsilon, rng)\n"
        "        q_x = model(x_t)\n",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(CONTEXTUAL_ALTERNATIVES))
def test_allowed_contextual_agents_pass(lesson: Lesson, variant: str) -> None:
    old, new = CONTEXTUAL_ALTERNATIVES[variant]
    scratch = lesson.with_mistake(lesson.namespace(), "train_contextual_q", old, new)
    errors = lesson.run_cells(scratch, ["test_train_contextual_q"])
    assert errors == {"test_train_contextual_q": None}, f"{variant}: {errors}"


def test_contextual_text_names_the_model_the_test_grades(lesson: Lesson) -> None:
    """The text fixes the agent the thresholds were set for, and says what it must represent."""
    text = next(
        c.source for c in lesson.cells if c.source.startswith("## Exercise 7: a contextual bandit")
    )
    assert "MLP" not in text.split("A deeper network")[0], "the text must not allow an MLP"
    for words in ("torch.nn.Linear(context_dim, n_arms)", "torch.optim.SGD", "x @ weights.T"):
        assert words in text, words


# --------------------------------------------------------------------------- claims of the prose


@pytest.mark.slow
def test_optimistic_start_helps_the_greedy_agent(lesson: Lesson) -> None:
    """The model answer of the written question: greedy from Q = 5 ends near 70% optimal."""
    scratch = lesson.with_mistake(
        lesson.namespace(),
        "run_testbed",
        "q = np.zeros((runs, k))  # Q(a)",
        "q = np.full((runs, k), 5.0)  # Q(a)",
    )
    _, optimal = scratch["run_testbed"](0.0, runs=2000, steps=1000, k=10, seed=0)
    assert 0.6 < optimal[-50:].mean() < 0.8
    assert abs(optimal[:10].mean() - 0.1) < 0.03  # every arm tried once in the first 10 steps
