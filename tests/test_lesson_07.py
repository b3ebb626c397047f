"""Lesson 07 (RLHF end to end): the points as announced and the lesson's claims.

Mistakes and seed sweeps: tests/mistakes/07_rlhf.py (run by test_lesson_mistakes.py).
"""

from __future__ import annotations

import re

import pytest
import torch
from lesson_runner import Lesson

LESSON_ID = "07_rlhf"


def _headings(lesson: Lesson, prefix: str) -> list[str]:
    return [
        line
        for c in lesson.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith(prefix)
    ]


def test_reading_time_adds_up(lesson: Lesson) -> None:
    """The introduction's reading time is the sum of the other sections' 'about N min'."""
    flat = " ".join(lesson.cells[0].source.split())
    sections = [h for h in _headings(lesson, "## ") if not h.startswith("## Exercise")]
    reading = sum(int(m.group(1)) for h in sections if (m := re.search(r"about (\d+) min", h)))
    assert reading == 60 + 20 and "add up to 1 hour and 20 minutes" in flat


def test_no_lesson_06_toy_is_left(lesson: Lesson) -> None:
    """Issue 27: the policy is the transformer; nothing calls the old toy's model or loop."""
    source = "\n".join(c.source for c in lesson.cells)
    for old in ("ToyLM", "toylm.RewardModel", "train_rlhf", "pretrained_reference", "bag-of-words"):
        assert old not in source, old


# --------------------------------------------------------------------------- correct alternatives


def test_bradley_terry_loss_with_softplus_passes(lesson: Lesson, ns: dict) -> None:
    """-log sigmoid(z) = softplus(-z): the other common way to write the loss."""
    scratch = lesson.with_mistake(
        ns,
        "bradley_terry_loss",
        "return -nn.functional.logsigmoid(chosen_scores - rejected_scores).mean()",
        "return nn.functional.softplus(rejected_scores - chosen_scores).mean()",
    )
    grade = "test_bradley_terry_loss"
    assert lesson.run_cells(scratch, [grade]) == {grade: None}


def test_reward_model_scoring_both_answers_in_one_pass_passes(lesson: Lesson, ns: dict) -> None:
    """Scoring chosen and rejected answers in one batch (as TRL does) is as good as two calls."""
    scratch = lesson.with_mistake(
        ns,
        "train_reward_model",
        "        chosen = reward_model.score(data.prompts[batch], data.chosen[batch])\n"
        "        rejected = reward_model.score(data.prompts[batch], data.rejected[batch])\n",
        "        both = reward_model.score(\n"
        "            data.prompts[batch].repeat(2, 1),\n"
        "            torch.cat([data.chosen[batch], data.rejected[batch]]),\n"
        "        )\n"
        "        chosen, rejected = both.chunk(2)\n",
    )
    grade = "test_train_reward_model"
    assert lesson.run_cells(scratch, [grade]) == {grade: None}


def test_kl_penalized_rewards_with_scatter_passes(lesson: Lesson, ns: dict) -> None:
    """Adding the scores through a one-hot mask of the last real token is as good as indexing."""
    scratch = lesson.with_mistake(
        ns,
        "kl_penalized_rewards",
        "rewards[torch.arange(len(scores), device=rewards.device), last]"
        " += scores.to(rewards.dtype)",
        "last_token = torch.nn.functional.one_hot(last, rewards.shape[1]).to(rewards.dtype)\n"
        "    rewards = rewards + last_token * scores.to(rewards.dtype)[:, None]",
    )
    grade = "test_kl_penalized_rewards"
    assert lesson.run_cells(scratch, [grade]) == {grade: None}


# --------------------------------------------------------------------------- the debugging exercise


def test_buggy_response_log_probs_fails_the_exercise(lesson: Lesson, ns: dict) -> None:
    """The given function (with its planted bug) fails the debugging exercise's grade cell."""
    scratch = dict(ns)
    scratch["response_log_probs"] = ns["buggy_response_log_probs"]
    error = lesson.run_cells(scratch, ["test_response_log_probs"])["test_response_log_probs"]
    assert isinstance(error, AssertionError) and "demo's log-probs" in str(error)


def test_the_loops_use_the_students_response_log_probs(lesson: Lesson, ns: dict) -> None:
    """Issue 25 item 4: train_ppo takes its log-probabilities from the function passed in."""
    from rlhelpers import rlhf

    calls = []

    def counting(logits, sequences, prompt_length):
        calls.append(prompt_length)
        return ns["response_log_probs"](logits, sequences, prompt_length)

    names = ("build_state", "kl_penalized_rewards", "ppo_clip_loss", "gae")
    functions = {name: ns[name] for name in names} | {"response_log_probs": counting}
    reward_model = ns["tinylm"].with_scalar_head(ns["policy"], seed=0).eval().requires_grad_(False)
    config = rlhf.PPOConfig(iterations=1, batch_size=8, eval_size=8)
    rlhf.train_ppo(reward_model, config, **functions)
    assert len(calls) >= 3  # the old policy, the reference, and every epoch's new log-probs


# --------------------------------------------------------------------------- the lesson's claims


@pytest.fixture(scope="module")
def demo(lesson: Lesson) -> dict:
    """The lesson's demos: the reward model, PPO, DPO and GRPO, the sweep and the case study."""
    return lesson.namespace_with(
        "reward_model",
        "rm_very_gap",
        "ppo_run",
        "dpo_run",
        "sweep_runs",
        "dpo_sweep_runs",
        "case_runs",
    )


@pytest.mark.slow
def test_reward_model_overpays_very(demo: dict) -> None:
    """The scatter's text: at equal true utility, answers with 'very' score higher."""
    gaps = demo["rm_very_gap"]
    assert gaps and all(gap > 0 for gap in gaps.values()), gaps


@pytest.mark.slow
def test_dpo_series_rises_then_falls_and_ignores_the_proxy(demo: dict) -> None:
    """The text after the written answer: DPO's true utility rises above the reference's, then
    falls below it at its largest KL, while its reward-model score, above the reference's, stops
    following the KL (within 0.5 of itself over a KL range of 20 nats)."""
    runs, reference = demo["dpo_sweep_runs"], demo["reference_eval"]
    by_kl = sorted((run.final for run in runs.values()), key=lambda e: e.kl)
    assert by_kl[0].true_utility > reference.true_utility > by_kl[-1].true_utility
    scores = [e.score for e in by_kl]
    assert min(scores) > reference.score and max(scores) - min(scores) < 0.5
    assert by_kl[-1].kl - by_kl[0].kl > 20


@pytest.mark.slow
def test_over_optimisation_shape(demo: dict) -> None:
    """The sweep's text: the smallest beta has the largest KL and about the highest score; the
    true utility rises above the reference's, and is lowest of the four runs at the largest KL."""
    runs, reference = demo["sweep_runs"], demo["reference_eval"]
    finals = [run.final for run in runs.values()]
    by_kl = sorted(finals, key=lambda e: e.kl)
    assert runs[min(runs)].final.kl == by_kl[-1].kl
    assert runs[min(runs)].final.score >= max(e.score for e in finals) - 0.1
    assert max(e.true_utility for e in finals) > reference.true_utility
    assert by_kl[-1].true_utility == min(e.true_utility for e in finals)
    assert by_kl[-1].true_utility < max(e.true_utility for e in finals)


@pytest.mark.slow
def test_quiz_answers_match_the_case_study(demo: dict) -> None:
    """Exercise 7's answers are what the demo's 2 x 2 shows (seed of the demo)."""
    runs, reference = demo["case_runs"], demo["reference_eval"]
    for gamma in (0.0, 0.99):  # q1: (c), and the question's premise
        stuck = runs[("prompt only", gamma)]
        assert stuck.final.unfinished == 1.0 and stuck.final.score > stuck.history[0]["score"]
        assert stuck.final.true_utility < reference.true_utility - 3
    assert runs[("full", 0.0)].final.true_utility < reference.true_utility - 0.2  # q2: (c)
    above = [key for key, run in runs.items() if run.final.true_utility > reference.true_utility]
    assert above == [("full", 0.99)]  # q4: 1


def test_quiz_key(ns: dict) -> None:
    """The key the claims above are checked against."""
    assert (ns["answer_q1"], ns["answer_q2"], ns["answer_q3"], ns["answer_q4"]) == (
        "c",
        "c",
        "a",
        1,
    )


@pytest.mark.slow
def test_dpo_and_ppo_beat_nothing_for_free(demo: dict) -> None:
    """The comparison's text: DPO never calls the reward model in training; PPO once per answer."""
    assert demo["dpo_run"].reward_model_calls == 0
    ppo = demo["ppo_run"]
    assert ppo.reward_model_calls >= len(ppo.history) * 64
    assert torch.is_tensor(next(ppo.policy.parameters()))


@pytest.mark.slow
def test_closing_note_numbers(demo: dict) -> None:
    """The closing note's numbers (seed 0, CPU), to the printed precision."""
    sweep = {beta: run.final for beta, run in demo["sweep_runs"].items()}
    betas = (1.0, 0.3, 0.1, 0.0)
    assert [round(sweep[b].true_utility, 2) for b in betas] == [1.06, 1.04, 0.93, 0.65]
    assert [round(sweep[b].kl, 1) for b in betas] == [0.3, 1.2, 3.9, 8.3]
    assert (round(sweep[1.0].score, 2), round(sweep[0.0].score, 2)) == (-0.35, 1.25)
    dpo = {beta: run.final for beta, run in demo["dpo_sweep_runs"].items()}
    assert [round(dpo[b].true_utility, 2) for b in (1.0, 0.3, 0.1)] == [1.26, 1.1, 0.15]
    assert [round(dpo[b].kl, 1) for b in (1.0, 0.3, 0.1)] == [1.3, 6.7, 22.7]
    assert [round(dpo[b].score, 2) for b in (1.0, 0.3, 0.1)] == [0.05, 0.3, -0.04]
    assert round(demo["reference_eval"].true_utility, 2) == 0.61
    table = {name: demo[f"{name}_run"] for name in ("ppo", "dpo", "grpo")}
    assert [round(100 * r.final.win_rate) for r in table.values()] == [58, 59, 66]
    assert [round(r.final.kl, 1) for r in table.values()] == [3.9, 6.7, 2.8]
    assert [r.reward_model_calls for r in table.values()] == [2176, 0, 1920]
    case = {key: run.final for key, run in demo["case_runs"].items()}
    assert round(case[("full", 0.0)].true_utility, 2) == -0.13
    assert round(case[("full", 0.99)].true_utility, 2) == 1.04
    assert round(case[("full", 0.0)].unfinished * 100) == 21


@pytest.mark.slow
def test_reference_case_study_table(demo: dict) -> None:
    """The markdown table the quiz is about is the reference run's (seed 0, CPU)."""
    expected = {
        ("prompt only", 0.0): (-0.95, 0.01, -6.56, 3.88, 100),
        ("prompt only", 0.99): (-0.95, 0.26, -6.62, 5.03, 100),
        ("full", 0.0): (-0.96, -0.28, -0.13, 8.71, 21),
        ("full", 0.99): (-0.96, 0.85, 1.04, 3.24, 0),
    }
    for key, run in demo["case_runs"].items():
        final = run.final
        got = (
            round(run.history[0]["score"], 2),
            round(final.score, 2),
            round(final.true_utility, 2),
            round(final.kl, 2),
            round(100 * final.unfinished),
        )
        assert got == expected[key], key
    assert round(demo["reference_eval"].score, 2) == -0.90
