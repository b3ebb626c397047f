"""Lesson 03 (REINFORCE): typical mistakes per answer cell, and the seed sweeps.

Read by tests/test_lesson_mistakes.py (see tests/lesson_runner.MistakeTable).
"""

# Test cells of well under a second that must keep passing when another answer is wrong.
CHEAP = [
    "test_sequence_prob_and_log_prob",
    "test_analytic_gradient",
    "test_score_function_gradients",
    "test_discounted_returns",
    "test_reinforce_loss",
    "test_entropy_bonus",
    "test_fixed_rollout_loss",
    "test_quiz",
]

# {answer grade_id: [(old text, new text, words the failure message must contain)]}
MISTAKES = {
    "sequence_prob_and_log_prob": [
        # log of the underflowed product: -inf for the 1000-token response
        ("log_prob = torch.log(token_probs).sum(dim=-1)", "log_prob = torch.log(prob)", "log"),
        # computes in float64, where 0.9**1000 does not underflow: misses the point
        (
            "token_probs = torch.as_tensor(token_probs, dtype=torch.float32)",
            "token_probs = torch.as_tensor(token_probs, dtype=torch.float64)",
            "float32",
        ),
    ],
    "analytic_gradient": [
        # forgot to subtract J: d pi_a / d theta_a only
        ("pi * (mean_rewards - expected_reward)", "pi * mean_rewards", "analytic_gradient"),
        # pi * (1 - pi) * mu: only the diagonal of the softmax Jacobian
        ("pi * (mean_rewards - expected_reward)", "pi * (1 - pi) * mean_rewards", "J"),
    ],
    "score_function_gradients": [
        # grad log pi without the "- pi": biased
        ("rewards[:, None] * (one_hot - pi)", "rewards[:, None] * one_hot", "onehot"),
        # R * grad pi(A) instead of R * grad log pi(A): biased
        (
            "rewards[:, None] * (one_hot - pi)",
            "rewards[:, None] * pi[actions][:, None] * (one_hot - pi)",
            "score_function_gradients",
        ),
        # biased, yet zero at theta = 0 so the hand-computed rows still match: the 4-SE check
        (
            "rewards[:, None] * (one_hot - pi)",
            "rewards[:, None] * (one_hot - pi) + 0.5 * (pi - 1.0 / pi.shape[-1])",
            "standard errors",
        ),
    ],
    "discounted_returns": [
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
    "reinforce_loss": [
        # gradient ascent on the surrogate: the minus sign forgotten
        ("return -(log_probs * returns).mean()", "return (log_probs * returns).mean()", "minus"),
        # a sum instead of the mean
        ("return -(log_probs * returns).mean()", "return -(log_probs * returns).sum()", "mean"),
        # returns not detached: gradient flows into them
        ("returns = returns.detach()", "returns = returns", "detach"),
        # population std instead of torch's default
        ("returns.std() + 1e-8", "returns.std(correction=0) + 1e-8", "std"),
    ],
    "entropy_bonus": [
        # log(softmax): 0 * log(0) = nan for large logits
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
    "fixed_rollout_loss": [
        # the planted bug of buggy_rollout_loss: the done of step t + 1 cuts step t (another
        # codebase's convention), so returns leak from one episode into the one before
        (
            "ended = dones[t].float()",
            "ended = dones[t + 1].float() if t + 1 < n_steps else torch.zeros_like(future)",
            "episode A",
        ),
        # the dones ignored: the returns run on into the next episode of the column
        ("gamma * (1.0 - ended) * future", "gamma * future", "ends with step 1"),
        # the mask ignored: the cut-off episodes enter the normalisation and the loss
        (
            "    g = returns[mask]\n",
            "    mask = torch.ones_like(mask)\n    g = returns[mask]\n",
            "masked steps only",
        ),
        # normalised over every step, the mask applied only afterwards
        (
            "    g = returns[mask]\n    g_hat = (g - g.mean()) / (g.std() + 1e-8)\n",
            "    g_hat = ((returns - returns.mean()) / (returns.std() + 1e-8))[mask]\n",
            "masked steps only",
        ),
        # the log-probs of the greedy actions instead of the actions taken
        (
            ".log_prob(actions[mask])",
            ".log_prob(logits[mask].argmax(-1))",
            "actions taken",
        ),
    ],
    "train_pick_action": [
        # ascends the loss: learns to avoid the rewarded action
        (
            "loss = reinforce_loss(log_probs, returns, normalize=args.normalize)",
            "loss = -reinforce_loss(log_probs, returns, normalize=args.normalize)",
            "probability of action 2",
        ),
        # the environment always rewards action 2 (hidden test with target_action=0)
        (
            "target_action=args.target_action,",
            "",
            "action 0",
            "a second training run with target_action=0: Validate trains once, with the defaults",
        ),
        # the entropy bonus is ignored (hidden test with entropy_coef=1)
        (
            "if args.entropy_coef:\n            loss = loss -",
            "if False:\n            loss = loss -",
            "entropy",
            "a second training run with entropy_coef=1: Validate trains once, with the defaults",
        ),
    ],
    "train_gridworld": [
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
    "train_cartpole": [
        # ascends the loss: the pole falls at once (short episodes, so this case is cheap)
        (
            "loss = reinforce_loss(log_probs, returns, normalize=True)",
            "loss = -reinforce_loss(log_probs, returns, normalize=True)",
            "greedy policy's mean return",
        ),
    ],
    "quiz": [
        # a number given as a string: the visible format check (a wrong value only costs its
        # question's half point: tests/test_lesson_03.py checks the partial credit)
        ("answer_q1 = 1075", 'answer_q1 = "1075"', "answer_q1"),
        # a letter that is not one of the choices
        ('answer_q4 = "b"', 'answer_q4 = "b)"', "answer_q4"),
    ],
}

# {grade cell: seed offsets}: the real grade cell passes with every seed=N shifted by 0..n-1.
SEED_SWEEPS = {
    "test_train_pick_action": 10,
    "test_train_gridworld": 10,
    "test_train_cartpole": 10,
}
