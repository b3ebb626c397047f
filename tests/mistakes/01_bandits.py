"""Lesson 01 (bandits): typical mistakes per answer cell, and the seed sweeps.

Read by tests/test_lesson_mistakes.py (see tests/lesson_runner.MistakeTable).
"""

# Test cells of well under a second that must keep passing when another answer is wrong.
CHEAP = [
    "test_incremental_update",
    "test_fixed_arm_means",
    "test_epsilon_greedy",
    "test_softmax_probs",
    "test_ucb_action",
    "test_quiz",
]

# {answer grade_id: [(old text, new text, words the failure message must contain)]}
MISTAKES = {
    "incremental_update": [
        # the error sign flipped: moves away from the target
        (
            "step_size * (target - estimate)",
            "step_size * (estimate - target)",
            "incremental_update",
        ),
        # forgot the old estimate: returns only the step
        ("return estimate + step_size", "return step_size", "incremental_update"),
    ],
    "fixed_arm_means": [
        # the planted bug left in: with repeated indices `+=` keeps only one reward
        ("np.add.at(sums, actions, rewards)", "sums[actions] += rewards", "repeated indices"),
        # the guard dropped: an arm that is not in the log gets 0 / 0 = nan
        (
            "return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)",
            "return sums / counts",
            "not in the log",
        ),
        # "fixed" by averaging over the whole log instead of per arm
        (
            "return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)",
            "return np.where(counts > 0, sums / len(actions), 0.0)",
            "repeated indices",
        ),
    ],
    "epsilon_greedy": [
        # np.argmax: ties always go to the first arm
        (
            "greedy = np.argmax(np.where(is_max, rng.random((runs, k)), -1.0), axis=1)",
            "greedy = np.argmax(q, axis=1)",
            "tied",
        ),
        # explores with probability 1 - eps instead of eps
        ("explore = rng.random(runs) < epsilon", "explore = rng.random(runs) > epsilon", "epsilon"),
        # explores only among the non-greedy arms: greedy with probability 1 - eps
        (
            "random_arms = rng.integers(0, k, size=runs)",
            "random_arms = (greedy + rng.integers(1, k, size=runs)) % k",
            "greedy arm",
        ),
    ],
    "softmax_probs": [
        # no max subtraction: exp(1000) overflows to nan
        ("z = z - z.max(axis=-1, keepdims=True)", "z = z", "1000"),
        # multiplies by the temperature
        ("/ temperature", "* temperature", "temperature"),
        # normalises over the whole array instead of each row
        ("weights.sum(axis=-1, keepdims=True)", "weights.sum()", "(2, 2)"),
    ],
    "run_testbed": [
        # "optimal" measured against the agent's own estimates instead of q_star
        (
            "np.mean(actions == bandit.optimal_action)",
            "np.mean(actions == q.argmax(axis=1))",
            "optimal",
        ),
        # the global step counter as the sample-average step size (caught by Validate)
        (
            "1.0 / n[rows, actions])\n        avg_reward[t] =",
            "1.0 / (t + 1))\n        avg_reward[t] =",
            "steps 201-300",
        ),
        # a constant step size 0.1 instead of 1/N(a): learns too slowly (caught by Validate)
        (
            "1.0 / n[rows, actions])\n        avg_reward[t] =",
            "0.1)\n        avg_reward[t] =",
            "steps 201-300",
        ),
        # no learning at all: the estimates never move (caught by Validate)
        (
            "1.0 / n[rows, actions])\n        avg_reward[t] =",
            "0.0)\n        avg_reward[t] =",
            "steps 201-300",
        ),
        # optimistic start Q = 5 instead of 0 changes the greedy curve completely
        (
            "q = np.zeros((runs, k))  # Q(a)",
            "q = np.full((runs, k), 5.0)  # Q(a)",
            "Figure 2.2",
            "only the full 1000-step Figure 2.2 shows it: the visible 30-step run cannot tell",
        ),
        # a Python loop over runs: one pull per run instead of one per step
        (
            "rewards = bandit.pull(actions)",
            "rewards = np.array([bandit.pull(np.full(runs, a))[i] for i, a in enumerate(actions)])",
            "loop only over the steps",
            "a speed check on 2000 runs: Validate's small runs stay fast",
        ),
    ],
    "ucb_action": [
        # forgot the square root
        ("np.sqrt(np.log(t) / n)", "(np.log(t) / n)", "ucb"),
        # the bonus grows with the count instead of shrinking
        ("np.sqrt(np.log(t) / n)", "np.sqrt(np.log(t) * n)", "ucb"),
    ],
    "run_ucb_testbed": [
        # forgot to count the pull: every arm stays "untried" and the step size stays 1
        (
            "        n[rows, actions] += 1\n"
            "        q[rows, actions] = incremental_update(q[rows, actions], rewards, "
            "1.0 / n[rows, actions])\n"
            "        avg_reward[t - 1]",
            "        q[rows, actions] = incremental_update(q[rows, actions], rewards, "
            "1.0 / (n[rows, actions] + 1))\n"
            "        avg_reward[t - 1]",
            "optimal",
        ),
    ],
    "train_contextual_q": [
        # regresses every arm on the reward of the chosen one
        (
            "loss = (q_x[arm] - float(reward)) ** 2",
            "loss = ((q_x - float(reward)) ** 2).mean()",
            "train_contextual_q",
        ),
        # the network never sees the context
        ("q_x = model(x_t)", "q_x = model(torch.zeros_like(x_t))", "train_contextual_q"),
    ],
    # A wrong value only costs that question's 0.5 points (the cell still returns a score):
    # tests/test_lesson_01.py checks the scores. The rows here are answers of the wrong form,
    # which Validate rejects.
    "quiz": [
        # a number in quotes
        ("answer_q1 = 0.09", 'answer_q1 = "0.09"', "the form of answer_q1"),
        # a percentage written as text
        ("answer_q2 = 0.46", 'answer_q2 = "46%"', "the form of answer_q2"),
        # a word instead of a letter
        ('answer_q3 = "a"', 'answer_q3 = "same"', "the form of answer_q3"),
        # a question left at None
        ('answer_q4 = "b"', "answer_q4 = None", "answer_q4"),
    ],
}

# {grade cell: seed offsets}: the real grade cell passes with every seed=N shifted by 0..n-1.
SEED_SWEEPS = {
    "test_train_contextual_q": 10,
    # Figures 2.2 and 2.4 (2000 runs x 1000 steps each): the bands hold on other seeds too
    "test_run_testbed": 3,
    "test_run_ucb_testbed": 3,
}
