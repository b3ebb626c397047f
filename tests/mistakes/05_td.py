"""Lesson 05 (temporal-difference learning): typical mistakes per answer cell, and the seed sweeps.

Read by tests/test_lesson_mistakes.py (see tests/lesson_runner.MistakeTable).
"""

# Test cells of well under a second that must keep passing when another answer is wrong.
CHEAP = [
    "test_td_target",
    "test_n_step_returns",
    "test_gae",
    "test_fixed_gae",
    "test_replay_buffer",
    "test_dqn_loss",
    "test_quiz",
]

# {answer grade_id: [(old text, new text, words the failure message must contain)]}
MISTAKES = {
    "td_target": [
        # the terminal mask forgotten: bootstraps past the end of the episode
        ("gamma * next_values * not_done", "gamma * next_values", "terminated"),
        # `~dones` instead of 1 - dones: -1 and -2 for 0/1 integer dones
        (
            "not_done = 1.0 - np.asarray(dones, dtype=np.float64)",
            "not_done = ~np.asarray(dones)",
            "td_target",
        ),
    ],
    "td0_prediction": [
        # starts from V = 0 instead of the book's 0.5
        (
            "V = np.full(env.observation_space.n, 0.5)",
            "V = np.zeros(env.observation_space.n)",
            "episode",
        ),
        # re-seeds every reset: the same walk 100 times (the grader replays the seeded walks)
        (
            "env.reset(seed=seed) if episode == 0 else env.reset()",
            "env.reset(seed=seed)",
            "seed",
        ),
        # appends a view of V: every row is the final estimate
        ("history.append(V[1:-1].copy())", "history.append(V[1:-1])", "td0_prediction"),
        # updates the next state's value instead of the current one's
        (
            "V[state] += alpha * (target - V[state])",
            "V[next_state] += alpha * (target - V[next_state])",
            "after one episode",
        ),
    ],
    "mc_prediction": [
        # no discount in the return: gamma ignored
        ("g = reward + gamma * g", "g = reward + g", "gamma"),
        # re-seeds every reset: the same walk again and again
        (
            "env.reset(seed=seed) if episode == 0 else env.reset()",
            "env.reset(seed=seed)",
            "seed",
        ),
        # only the first state of the episode is updated
        (
            "for s, g in zip(states, reversed(returns), strict=True):",
            "for s, g in list(zip(states, reversed(returns), strict=True))[:1]:",
            "mc_prediction",
        ),
    ],
    "n_step_returns": [
        # the sum is not cut at the end of an episode
        ("alive = alive * not_done[t + k]", "alive = alive", "ends with step 1"),
        # the bootstrap is not discounted
        (
            "returns[t] = total + discount * alive * values_ext[t + horizon]",
            "returns[t] = total + alive * values_ext[t + horizon]",
            "last_value",
        ),
    ],
    "gae": [
        # the recursion runs on past a done
        ("gamma * lam * not_done[t] * running", "gamma * lam * running", "gae"),
        # the TD error bootstraps past a done
        ("gamma * next_values * not_done - values", "gamma * next_values - values", "done"),
        # lambda forgotten in the recursion: lam = 1 whatever is asked
        ("gamma * lam * not_done[t] * running", "gamma * not_done[t] * running", "lam=0.5"),
    ],
    "fixed_gae": [
        # the planted bug left in: the done of step t + 1 (another codebase's convention)
        (
            "not_done = 1.0 - dones[t]  #",
            "not_done = 1.0 - (dones[t + 1] if t + 1 < n_steps else 0.0)  #",
            "demo's rollout",
        ),
        # fixed in the TD error only, the recursion still reads dones[t + 1]
        (
            "running = delta + gamma * lam * not_done * running",
            "running = delta + gamma * lam"
            " * (1.0 - (dones[t + 1] if t + 1 < n_steps else 0.0)) * running",
            "fixed_gae",
        ),
    ],
    "sarsa": [
        # bootstraps from the greedy action: that is Q-learning, the edge path
        (
            "Q[next_state, next_action] * (not terminated)",
            "Q[next_state].max() * (not terminated)",
            "safe path",
        ),
        # counts only the last reward of each episode as its return
        ("returns[episode] += reward", "returns[episode] = reward", "online returns"),
    ],
    "q_learning": [
        # never explores (epsilon ignored): its online return is that of the greedy path
        ("if rng.random() < epsilon:", "if rng.random() < 0.0:", "online return"),
        # bootstraps from the mean over actions (expected SARSA with a uniform policy)
        (
            "Q[next_state].max() * (not terminated)",
            "Q[next_state].mean() * (not terminated)",
            "13-step",
        ),
    ],
    "replay_buffer": [
        # samples below the capacity: zero rows that hold no transition
        (
            "self.rng.integers(0, self.size, size=batch_size)",
            "self.rng.integers(0, self.capacity, size=batch_size)",
            "stored",
        ),
        # stops at the last slot instead of wrapping: overwrites the newest, not the oldest
        (
            "self.position = (self.position + 1) % self.capacity",
            "self.position = min(self.position + 1, self.capacity - 1)",
            "oldest",
        ),
        # len reports the capacity
        ("        return self.size\n", "        return self.capacity\n", "len"),
    ],
    "dqn_loss": [
        # targets from the network being trained instead of the target network
        (
            "target_net(next_obs).max(dim=1).values",
            "q_net(next_obs).max(dim=1).values",
            "TARGET network",
        ),
        # no terminal mask
        ("gamma * (1.0 - dones) *", "gamma *", "terminal"),
        # mean squared error instead of Huber
        ("nn.functional.smooth_l1_loss(q, targets)", "nn.functional.mse_loss(q, targets)", "Huber"),
        # the targets computed with gradient: it reaches the target network
        ("with torch.no_grad():\n        targets =", "if True:\n        targets =", "no_grad"),
    ],
    "train_dqn": [
        # the reset step of next-step autoreset goes into the buffer
        ("for i in np.flatnonzero(~autoreset):", "for i in range(args.n_envs):", "autoreset"),
    ],
    "quiz": [
        # a number given as a string: the visible format check
        ("answer_q1 = 9.5", 'answer_q1 = "9.5"', "answer_q1"),
        # a letter that is not one of the choices
        ('answer_q4 = "b"', 'answer_q4 = "d"', "answer_q4"),
    ],
}

# {grade cell: seed offsets}: the real grade cell passes with every seed=N shifted by 0..n-1.
SEED_SWEEPS = {
    "test_train_dqn": 10,
    "test_td0_prediction": 10,
    "test_mc_prediction": 10,
    "test_sarsa": 10,
    "test_q_learning": 10,
}
