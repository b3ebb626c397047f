"""Lesson 03 (REINFORCE): the solution passes its own tests, typical mistakes are caught,
the reference clears every training threshold on 10 seeds, and the lesson's claims hold."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lesson_runner import Lesson

LESSON_ID = "03_reinforce"

# Cheap test cells (well under a second each) that must keep passing when a mistake
# is injected into another exercise.
CHEAP = [
    "test_sequence_prob_and_log_prob",
    "test_analytic_gradient",
    "test_score_function_gradients",
    "test_discounted_returns",
    "test_reinforce_loss",
    "test_entropy_bonus",
    "test_quiz",
]
SEEDS = range(10)


@pytest.fixture(scope="module")
def lesson() -> Lesson:
    return Lesson.load(LESSON_ID)


@pytest.fixture(scope="module")
def ns(lesson: Lesson) -> dict:
    """Every cell of the solution, test cells with their hidden tests included, runs clean."""
    return lesson.namespace()


def _others(*exclude: str) -> list[str]:
    return [gid for gid in CHEAP if gid not in exclude]


def test_structure(lesson: Lesson) -> None:
    """9 autograded exercises, three written answers, points as announced (26 + 6)."""
    tests = [c for c in lesson.cells if c.is_grade_test]
    written = [c for c in lesson.cells if c.cell_type == "markdown" and c.nbgrader.get("grade")]
    assert len(tests) >= 6
    assert len(written) == 3
    autograded = sum(c.nbgrader["points"] for c in tests)
    manual = sum(c.nbgrader["points"] for c in written)
    assert (autograded, manual) == (26, 6)
    intro = lesson.cells[0].source
    assert "Points: 32" in intro and "hidden tests" in intro and "Validate" in intro
    for cell in tests:
        assert "### BEGIN HIDDEN TESTS" in cell.source, cell.grade_id
    headings = [c.source for c in lesson.cells if c.source.startswith("## Exercise")]
    announced = sum(int(h.split("(")[1].split(" point")[0]) for h in headings)
    assert announced == autograded, "the exercise headings' points add up to the autograded total"


def test_solution_passes_every_test_cell(lesson: Lesson, ns: dict) -> None:
    failures = lesson.run_cells(ns, CHEAP)
    assert failures == dict.fromkeys(CHEAP)


# --------------------------------------------------------------------------- mistakes


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # log of the underflowed product: -inf for the 1000-token response
        ("log_prob = torch.log(token_probs).sum(dim=-1)", "log_prob = torch.log(prob)", "log"),
        # computes in float64, where 0.9**1000 does not underflow: misses the point
        (
            "token_probs = torch.as_tensor(token_probs, dtype=torch.float32)",
            "token_probs = torch.as_tensor(token_probs, dtype=torch.float64)",
            "float32",
        ),
    ],
)
def test_mistake_sequence_prob_and_log_prob(lesson: Lesson, old: str, new: str, message: str):
    lesson.assert_mistake_caught(
        answer_id="sequence_prob_and_log_prob",
        old=old,
        new=new,
        failing=["test_sequence_prob_and_log_prob"],
        passing=_others("test_sequence_prob_and_log_prob"),
        message_contains=message,
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # forgot to subtract J: d pi_a / d theta_a only
        ("pi * (mean_rewards - expected_reward)", "pi * mean_rewards", "analytic_gradient"),
        # pi * (1 - pi) * mu: only the diagonal of the softmax Jacobian
        ("pi * (mean_rewards - expected_reward)", "pi * (1 - pi) * mean_rewards", "J"),
    ],
)
def test_mistake_analytic_gradient(lesson: Lesson, old: str, new: str, message: str) -> None:
    lesson.assert_mistake_caught(
        answer_id="analytic_gradient",
        old=old,
        new=new,
        failing=["test_analytic_gradient"],
        passing=_others("test_analytic_gradient"),
        message_contains=message,
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # grad log pi without the "- pi": biased
        ("rewards[:, None] * (one_hot - pi)", "rewards[:, None] * one_hot", "onehot"),
        # R * grad pi(A) instead of R * grad log pi(A): biased
        (
            "rewards[:, None] * (one_hot - pi)",
            "rewards[:, None] * pi[actions][:, None] * (one_hot - pi)",
            "score_function_gradients",
        ),
    ],
)
def test_mistake_score_function_gradients(lesson: Lesson, old: str, new: str, message: str):
    lesson.assert_mistake_caught(
        answer_id="score_function_gradients",
        old=old,
        new=new,
        failing=["test_score_function_gradients"],
        passing=_others("test_score_function_gradients"),
        message_contains=message,
    )


def test_mistake_score_function_caught_by_unbiasedness_check(lesson: Lesson) -> None:
    """A biased estimator that gets the hand-computed rows right is caught by the 4-SE check."""
    # zero at theta = 0 (so the hand-computed rows still match), 0.1 at theta = [0.5, -0.5]
    biased = "rewards[:, None] * (one_hot - pi) + 0.5 * (pi - 1.0 / pi.shape[-1])"
    scratch = lesson.with_mistake(
        lesson.namespace(), "score_function_gradients", "rewards[:, None] * (one_hot - pi)", biased
    )
    error = lesson.run_cells(scratch, ["test_score_function_gradients"])[
        "test_score_function_gradients"
    ]
    assert isinstance(error, AssertionError) and "standard errors" in str(error), error


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # forgot the done mask: returns leak across the episode boundary
        ("gamma * not_done[t] * future", "gamma * future", "done"),
        # off by one: G_t stored before r_t is added
        (
            "future = rewards[t] + gamma * not_done[t] * future\n        returns[t] = future",
            "returns[t] = future\n        future = rewards[t] + gamma * not_done[t] * future",
            "discounted_returns",
        ),
        # loops forwards in time
        ("for t in reversed(range(rewards.shape[0])):", "for t in range(rewards.shape[0]):", "G_1"),
    ],
)
def test_mistake_discounted_returns(lesson: Lesson, old: str, new: str, message: str) -> None:
    lesson.assert_mistake_caught(
        answer_id="discounted_returns",
        old=old,
        new=new,
        failing=["test_discounted_returns"],
        passing=_others("test_discounted_returns"),
        message_contains=message,
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # gradient ascent on the surrogate: the minus sign forgotten
        ("return -(log_probs * returns).mean()", "return (log_probs * returns).mean()", "minus"),
        # a sum instead of the mean
        ("return -(log_probs * returns).mean()", "return -(log_probs * returns).sum()", "mean"),
        # returns not detached: gradient flows into them (hidden test)
        ("returns = returns.detach()", "returns = returns", "detach"),
        # population std instead of torch's default
        ("returns.std() + 1e-8", "returns.std(correction=0) + 1e-8", "std"),
    ],
)
def test_mistake_reinforce_loss(lesson: Lesson, old: str, new: str, message: str) -> None:
    lesson.assert_mistake_caught(
        answer_id="reinforce_loss",
        old=old,
        new=new,
        failing=["test_reinforce_loss"],
        passing=_others("test_reinforce_loss"),
        message_contains=message,
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # log(softmax): 0 * log(0) = nan for large logits (hidden test)
        (
            "log_p = torch.log_softmax(logits, dim=-1)",
            "log_p = torch.log(torch.softmax(logits, dim=-1))",
            "log_softmax",
        ),
        # forgot the minus sign: negative entropy
        ("return -(log_p.exp() * log_p)", "return (log_p.exp() * log_p)", "entropy_bonus"),
        # sums over the batch instead of averaging
        (".sum(dim=-1).mean()", ".sum()", "average"),
    ],
)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_mistake_entropy_bonus(lesson: Lesson, old: str, new: str, message: str) -> None:
    lesson.assert_mistake_caught(
        answer_id="entropy_bonus",
        old=old,
        new=new,
        failing=["test_entropy_bonus"],
        passing=_others("test_entropy_bonus"),
        message_contains=message,
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # ascends the loss: learns to avoid the rewarded action
        (
            "loss = reinforce_loss(log_probs, returns, normalize=args.normalize)",
            "loss = -reinforce_loss(log_probs, returns, normalize=args.normalize)",
            "probability of action 2",
        ),
        # the environment always rewards action 2 (hidden test with target_action=0)
        ("target_action=args.target_action,", "", "action 0"),
        # the entropy bonus is ignored (hidden test with entropy_coef=1)
        (
            "if args.entropy_coef:\n            loss = loss -",
            "if False:\n            loss = loss -",
            "entropy",
        ),
    ],
)
def test_mistake_train_pick_action(lesson: Lesson, old: str, new: str, message: str) -> None:
    lesson.assert_mistake_caught(
        answer_id="train_pick_action",
        old=old,
        new=new,
        failing=["test_train_pick_action"],
        passing=_others(),
        message_contains=message,
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # ascends the loss
        (
            "loss = reinforce_loss(log_probs[batch.mask], returns[batch.mask], normalize=True)",
            "loss = -reinforce_loss(log_probs[batch.mask], returns[batch.mask], normalize=True)",
            "greedy policy",
        ),
        # gamma = 0 (the legal-tech bug of lesson 02): only the last step sees the goal
        (
            "discounted_returns(batch.rewards, args.gamma, batch.dones)",
            "discounted_returns(batch.rewards, 0.0, batch.dones)",
            "greedy policy",
        ),
    ],
)
def test_mistake_train_gridworld(lesson: Lesson, old: str, new: str, message: str) -> None:
    lesson.assert_mistake_caught(
        answer_id="train_gridworld",
        old=old,
        new=new,
        failing=["test_train_gridworld"],
        passing=_others(),
        message_contains=message,
    )


def test_mistake_train_cartpole(lesson: Lesson) -> None:
    # ascends the loss: the pole falls at once (short episodes, so this test is cheap)
    lesson.assert_mistake_caught(
        answer_id="train_cartpole",
        old="loss = reinforce_loss(log_probs, returns, normalize=True)",
        new="loss = -reinforce_loss(log_probs, returns, normalize=True)",
        failing=["test_train_cartpole"],
        passing=_others(),
        message_contains="greedy policy's mean return",
    )


def test_mistake_quiz(lesson: Lesson) -> None:
    # float64's smallest subnormal is 2**-1074: 0.5**1074 is still positive
    lesson.assert_mistake_caught(
        answer_id="quiz",
        old="answer_q1 = 1075",
        new="answer_q1 = 1074",
        failing=["test_quiz"],
        passing=_others("test_quiz"),
        message_contains="answer_q1",
    )


# --------------------------------------------------------------------------- the lesson's claims


def test_reinforce_loss_gradient_is_the_score_function_estimate(ns: dict) -> None:
    """Autograd through reinforce_loss (no normalisation) = minus the mean score-function row."""
    gen = torch.Generator().manual_seed(0)
    theta = torch.randn(5, generator=gen, dtype=torch.float64)
    actions = torch.randint(0, 5, (300,), generator=gen)
    rewards = torch.randn(300, generator=gen, dtype=torch.float64)
    t = theta.clone().requires_grad_(True)
    log_probs = torch.log_softmax(t, -1)[actions]
    ns["reinforce_loss"](log_probs, rewards, normalize=False).backward()
    rows = ns["score_function_gradients"](theta, actions, rewards)
    torch.testing.assert_close(-t.grad, rows.mean(0))


def test_collect_episodes_masks(ns: dict) -> None:
    """CartPole returns equal the episode lengths given by the mask; padding has no reward."""
    import gymnasium as gym

    envs = gym.make_vec("CartPole-v1", num_envs=6, vectorization_mode="vector_entry_point")
    batch = ns["collect_episodes"](envs, ns["make_policy"](4, 2), max_steps=500, seed=3)
    lengths = batch.mask.sum(0)
    assert torch.equal(batch.rewards.sum(0), lengths.float())
    assert torch.equal(batch.dones.sum(0), torch.ones(6, dtype=torch.long))
    last = lengths - 1  # the done flag sits on the last step of each episode
    assert bool(batch.dones[last, torch.arange(6)].all())
    assert not bool(batch.rewards[~batch.mask].any())


def test_pick_action_experiments(ns: dict) -> None:
    """The numbers the written answers refer to: ~600 episodes to 90% at lr 1e-2, ~60x more at 1e-4,
    and wrong_reward 0.0 learns about as fast as -0.1."""
    fast = [e for e in ns["episodes_to_reach"](ns["runs_target_2"]) if e is not None]
    zero = [e for e in ns["episodes_to_reach"](ns["runs_zero"]) if e is not None]
    (slow,) = ns["episodes_to_reach"](ns["runs_slow"])
    assert len(fast) == len(zero) == ns["N_SEEDS"]
    assert 400 <= np.mean(fast) <= 900
    assert slow is not None and 20 * np.mean(fast) <= slow <= 100 * np.mean(fast)
    assert abs(np.mean(zero) - np.mean(fast)) <= 0.2 * np.mean(fast)


# --------------------------------------------------------------------------- seed sweeps


@pytest.mark.slow
def test_pick_action_passes_on_10_seeds(ns: dict) -> None:
    """The graded configurations (visible and hidden) clear their thresholds on seeds 0..9."""
    train, args, p_action = ns["train_pick_action"], ns["PickArgs"], ns["_p_action"]
    results = {"default": [], "target 0": [], "wrong 0": [], "entropy 1": []}
    for seed in SEEDS:
        results["default"].append(p_action(train(args(seed=seed))[0], 2))
        results["target 0"].append(p_action(train(args(seed=seed, target_action=0))[0], 0))
        results["wrong 0"].append(p_action(train(args(seed=seed, wrong_reward=0.0))[0], 2))
        results["entropy 1"].append(p_action(train(args(seed=seed, entropy_coef=1.0))[0], 2))
    print({k: (round(min(v), 3), round(max(v), 3)) for k, v in results.items()})
    assert min(results["default"]) >= 0.9
    assert min(results["target 0"]) >= 0.9
    assert min(results["wrong 0"]) >= 0.9
    assert 0.3 <= min(results["entropy 1"]) and max(results["entropy 1"]) <= 0.75


@pytest.mark.slow
def test_gridworld_passes_on_10_seeds(ns: dict) -> None:
    """The greedy policy takes the 6-step path for every seed, with the graded budget."""
    steps = [ns["_greedy_steps"](ns["train_gridworld"](ns["GridArgs"](seed=s))[0]) for s in SEEDS]
    assert steps == [6] * len(SEEDS), steps


@pytest.mark.slow
def test_cartpole_passes_on_10_seeds(ns: dict) -> None:
    """Greedy mean return >= 400 over 20 episodes for every seed, with the graded budget."""
    scores = [
        ns["_greedy_mean_return"](ns["train_cartpole"](ns["CartPoleArgs"](seed=s))[0])
        for s in SEEDS
    ]
    print("greedy mean returns:", scores)
    assert min(scores) >= 400.0, scores
