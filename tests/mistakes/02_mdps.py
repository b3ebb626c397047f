"""Lesson 02 (MDPs and the Bellman equation): typical mistakes per answer cell, seed sweeps.

Read by tests/test_lesson_mistakes.py (see tests/lesson_runner.MistakeTable).
"""

# Test cells of a few milliseconds that must keep passing when another answer is wrong.
CHEAP = [
    "test_run_episode",
    "test_policy_evaluation",
    "test_q_from_v",
    "test_fixed_gridworld_model",
    "test_greedy_path",
    "test_quiz",
]

# {answer grade_id: [(old text, new text, words the failure message must contain)]}
MISTAKES = {
    "run_episode": [
        # stops on termination only: runs past the time limit
        ("done = terminated or truncated", "done = terminated", "truncated"),
        # keeps the last reward instead of the sum
        ("total_reward += float(reward)", "total_reward = float(reward)", "total reward"),
    ],
    "policy_evaluation": [
        # forgets the discount
        ("V_new = r_pi + gamma * P_pi @ V", "V_new = r_pi + P_pi @ V", "gamma"),
        # the transitions ignore the policy's action probabilities
        ('P_pi = np.einsum("sa,sat->st", policy, P)', "P_pi = P.mean(axis=1)", "always advance"),
    ],
    "q_from_v": [
        # the value of the current state instead of the next one
        (
            'return R + gamma * np.einsum("sat,t->sa", P, V)',
            "return R + gamma * V[:, None]",
            "next state",
        ),
    ],
    "value_iteration": [
        # averages over actions: policy evaluation of the uniform policy
        (
            "V_new = q_from_v(P, R, V, gamma).max(axis=1)",
            "V_new = q_from_v(P, R, V, gamma).mean(axis=1)",
            "max",
        ),
        # the worst action as the greedy one
        (".argmax(axis=1)", ".argmin(axis=1)", "greedy policy"),
    ],
    "policy_iteration": [
        # one improvement step only
        (
            "policy, actions = new_policy, new_actions",
            "return V, new_policy",
            "until the policy no longer changes",
        ),
    ],
    "fixed_gridworld_model": [
        # the bug of the given model, left in: the goal is not absorbing
        (
            "    P[goal] = 0.0\n    P[goal, :, goal] = 1.0\n    R[goal] = 0.0\n",
            "",
            "absorbing",
        ),
        # P of the goal fixed, its rewards forgotten
        ("    R[goal] = 0.0\n", "", "R[15]"),
        # a 1 on the goal without clearing the row first: P[goal, a] sums to 2
        ("    P[goal] = 0.0\n", "", "sums of the rows"),
    ],
    "greedy_path": [
        # one step short
        ("while len(path) - 1 < max_steps", "while len(path) < max_steps", "max_steps"),
        # walks on from a terminal state
        (" and path[-1] not in terminal", "", "terminal state"),
    ],
    "gamma_experiment": [
        # counts states instead of moves
        (
            "steps_to_goal_gamma099 = len(path_gamma099) - 1",
            "steps_to_goal_gamma099 = len(path_gamma099)",
            "count moves",
        ),
        # the gamma = 0.99 values where gamma = 0 was asked for
        (
            "Q_start_gamma0 = q_from_v(P_grid, R_grid, V_gamma0, 0.0)[START]",
            "Q_start_gamma0 = q_from_v(P_grid, R_grid, V_gamma099, 0.99)[START]",
            "gamma = 0",
        ),
    ],
    "mc_returns": [
        # no discount
        ("discount *= gamma", "discount *= 1.0", "gamma"),
        # the correlated-streams trap: caught by the visible 200-episode check already
        # (tests/test_lesson_02.py runs the visible part alone)
        ("np.random.default_rng(seed + 1)", "np.random.default_rng(seed)", "4 standard errors"),
    ],
    # A wrong letter or number costs half a point without failing the cell: scored in
    # tests/test_lesson_02.py. The rows here are answers of the wrong form (the visible part).
    "quiz": [
        # a word instead of the letter
        ('answer_q1 = "b"', 'answer_q1 = "truncated"', "answer_q1"),
        # a number in quotes
        ("answer_q2 = 0.9", 'answer_q2 = "0.9"', "a number"),
        # a formula instead of the letter (the question on the cost of a sweep)
        ('answer_q3 = "b"', 'answer_q3 = "4 n^4"', "answer_q3"),
        # one answer left at its placeholder
        ('answer_q6 = "b"', "answer_q6 = None", "replace None"),
    ],
}

# {grade cell: seed offsets}: the real grade cell passes with every seed=N shifted by 0..n-1.
SEED_SWEEPS = {
    "test_mc_returns": 10,  # the 4-standard-error check of the Monte Carlo estimate
    "test_run_episode": 3,  # a random CartPole policy averages about 22 steps
}
