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
        # the mask cuts the reward too: a terminal step's target becomes 0
        (
            "return rewards + gamma * next_values * not_done",
            "return (rewards + gamma * next_values) * not_done",
            "terminated",
        ),
        # gamma forgotten: the bootstrap is not discounted
        ("rewards + gamma * next_values * not_done", "rewards + next_values * not_done", "gamma"),
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
        # gamma forgotten in the target: the visible scripted walk uses gamma = 0.5
        (
            "target = reward + gamma * V[next_state]",
            "target = reward + V[next_state]",
            "gamma=0.5",
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
        # the returns, built last step first, paired with the states without reversing them
        (
            "zip(states, reversed(returns), strict=True)",
            "zip(states, returns, strict=True)",
            "own return",
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
        # the episode is cut before the done step's own reward is added
        (
            "            total = total + discount * alive * rewards[t + k]\n"
            "            alive = alive * not_done[t + k]\n",
            "            alive = alive * not_done[t + k]\n"
            "            total = total + discount * alive * rewards[t + k]\n",
            "ends with step 1",
        ),
        # off by one: bootstraps from the value one step too early
        (
            "values_ext[t + horizon]",
            "values_ext[t + horizon - 1]",
            "n=2",
        ),
    ],
    "gae": [
        # the recursion runs on past a done
        ("gamma * lam * not_done[t] * running", "gamma * lam * running", "gae"),
        # the TD error bootstraps past a done
        ("gamma * next_values * not_done - values", "gamma * next_values - values", "done"),
        # lambda forgotten in the recursion: lam = 1 whatever is asked
        ("gamma * lam * not_done[t] * running", "gamma * not_done[t] * running", "lam=0.5"),
        # V(S_t) instead of V(S_{t+1}) in the TD error: next_values not shifted
        (
            "next_values = np.concatenate([values[1:], last_value[None]])",
            "next_values = values",
            "two environments",
        ),
        # returns the lambda-returns (advantages + values) instead of the advantages
        ("    return advantages\n", "    return advantages + values\n", "gae("),
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
        # fixed for every step but the last, which still never terminates (the given code's
        # special case kept)
        (
            "not_done = 1.0 - dones[t]  #",
            "not_done = 1.0 if t == n_steps - 1 else 1.0 - dones[t]  #",
            "last step",
        ),
    ],
    "sarsa": [
        # bootstraps from the greedy action: that is Q-learning, the edge path
        (
            "Q[next_state, next_action] * (not terminated)",
            "Q[next_state].max() * (not terminated)",
            "Q-learning's path",
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
        # a typo: bootstraps from the current state's values instead of the next state's
        (
            "Q[next_state].max() * (not terminated)",
            "Q[state].max() * (not terminated)",
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
        # samples without replacement: NumPy raises when the batch is larger than the buffer
        (
            "self.rng.integers(0, self.size, size=batch_size)",
            "self.rng.choice(self.size, size=batch_size, replace=False)",
            "replacement",
        ),
        # the count is not capped: len grows past the capacity
        (
            "self.size = min(self.size + 1, self.capacity)",
            "self.size = self.size + 1",
            "len after 5 adds",
        ),
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
        # returns a Python float: the optimiser has nothing to call backward() on
        (
            "return nn.functional.smooth_l1_loss(q, targets)",
            "return nn.functional.smooth_l1_loss(q, targets).item()",
            "requires grad",
        ),
        # Q(s, a) computed under no_grad too: the loss has no gradient at all
        (
            "    q = q_net(obs).gather(1, actions[:, None]).squeeze(1)\n",
            "    with torch.no_grad():\n"
            "        q = q_net(obs).gather(1, actions[:, None]).squeeze(1)\n",
            "requires grad",
        ),
        # the max over the whole batch instead of over each row's actions
        ("target_net(next_obs).max(dim=1).values", "target_net(next_obs).max()", "by hand"),
        # Q(s, a) of the greedy action instead of the action taken
        (
            "q_net(obs).gather(1, actions[:, None]).squeeze(1)",
            "q_net(obs).max(dim=1).values",
            "by hand",
        ),
    ],
    "train_dqn": [
        # the reset step of next-step autoreset goes into the buffer
        ("for i in np.flatnonzero(~autoreset):", "for i in range(args.n_envs):", "autoreset"),
        # gradients accumulate over the updates: optimizer.zero_grad() forgotten
        ("            optimizer.zero_grad()\n", "", "greedy policy"),
        # the target network is never refreshed: it stays the random initial network
        ("target_net.load_state_dict(q_net.state_dict())", "pass", "greedy policy"),
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
