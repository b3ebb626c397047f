"""Lesson 06 (PPO, KL estimators, GRPO, DPO): typical mistakes per answer cell, seed sweeps.

Read by tests/test_lesson_mistakes.py (see tests/lesson_runner.MistakeTable).
"""

# Test cells of well under a second that must keep passing when another answer is wrong.
CHEAP = [
    "test_ppo_clip_loss",
    "test_gae",
    "test_kl_estimates",
    "test_group_relative_advantages",
    "test_dpo_loss",
    "test_sequence_log_probs",
    "test_quiz",
]

# {answer grade_id: [(old text, new text, words the failure message must contain)]}
MISTAKES = {
    "gae": [
        # the recursion carried on through the end of an episode
        (
            "running = deltas[t] + gamma * lam * not_done[t] * running",
            "running = deltas[t] + gamma * lam * running",
            "dones [0, 1, 0]",
        ),
        # the bootstrap not masked: the next episode's first value leaks back
        (
            "deltas = rewards + gamma * next_values * not_done - values",
            "deltas = rewards + gamma * next_values - values",
            "dones [0, 1, 0]",
        ),
        # lambda forgotten
        (
            "running = deltas[t] + gamma * lam * not_done[t] * running",
            "running = deltas[t] + gamma * not_done[t] * running",
            "lam 0.5",
        ),
        # last_value ignored: a cut episode bootstrapped from 0
        (
            "np.concatenate([values[1:], last_value[None]])",
            "np.concatenate([values[1:], np.zeros_like(values[:1])])",
            "last_value 1.0",
        ),
    ],
    "ppo_clip_loss": [
        # the clipped term alone, without the min: an update the wrong way is not pulled back fully
        (
            "return -torch.min(ratio * advantages, clipped * advantages).mean()",
            "return -(clipped * advantages).mean()",
            "unclipped",
        ),
        # max instead of min: an optimistic bound that keeps pushing past the clip range
        ("torch.min(ratio * advantages", "torch.max(ratio * advantages", "clipped"),
        # the sum over the samples instead of the mean
        (
            "clipped * advantages).mean()",
            "clipped * advantages).sum()",
            "mean",
        ),
        # the ratio the wrong way round: pi_old / pi_new
        (
            "torch.exp(new_log_probs - old_log_probs)",
            "torch.exp(old_log_probs - new_log_probs)",
            "ratio 1.1",
        ),
        # the minus sign forgotten: the objective returned as the loss, so descent lowers it
        (
            "return -torch.min(ratio * advantages, clipped * advantages).mean()",
            "return torch.min(ratio * advantages, clipped * advantages).mean()",
            "minus the mean",
        ),
        # a detached ratio: no gradient reaches the policy (backward would crash)
        (
            "ratio = torch.exp(new_log_probs - old_log_probs)",
            "ratio = torch.exp(new_log_probs - old_log_probs).detach()",
            "requires_grad",
        ),
        # the clip range hard-coded instead of the clip_eps argument
        (
            "torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps)",
            "torch.clamp(ratio, 0.8, 1.2)",
            "clip_eps",
        ),
    ],
    "train_ppo": [
        # new and old log-probs swapped in the call: the ratio the wrong way, the policy unlearns
        (
            "dist.log_prob(actions[index]), old_log_probs[index], adv, args.clip_eps",
            "old_log_probs[index], dist.log_prob(actions[index]), adv, args.clip_eps",
            "greedy policy",
        ),
    ],
    "kl_estimates": [
        # k1 with the wrong sign (log pi_ref - log pi)
        ("return -log_ratio, torch.exp", "return log_ratio, torch.exp", "k1"),
        # r = pi / pi_ref in k3: biased
        (
            "torch.exp(log_ratio) - 1.0 - log_ratio",
            "torch.exp(-log_ratio) - 1.0 + log_ratio",
            "k3",
        ),
        # k3 with the sign of log r flipped: (r - 1) + log r, neither unbiased nor >= 0
        (
            "torch.exp(log_ratio) - 1.0 - log_ratio",
            "torch.exp(log_ratio) - 1.0 + log_ratio",
            "k3",
        ),
        # the mean over the samples instead of one estimate per sample
        ("return -log_ratio, torch.exp", "return -log_ratio.mean(), torch.exp", "k1"),
    ],
    "group_relative_advantages": [
        # the population std (ddof 0) instead of torch's default
        (
            "groups.std(dim=1, keepdim=True)",
            "groups.std(dim=1, keepdim=True, correction=0)",
            "sample",
        ),
        # no 1e-4: a group of equal rewards gives nan
        ("(groups.std(dim=1, keepdim=True) + 1e-4)", "groups.std(dim=1, keepdim=True)", "std 0"),
        # one mean over the whole batch instead of each group's
        ("groups - groups.mean(dim=1, keepdim=True)", "groups - rewards.mean()", "group"),
        # interleaved groups: reshape(G, -1) puts rewards G apart in one "group"
        (
            "groups = rewards.reshape(-1, group_size)",
            "groups = rewards.reshape(group_size, -1)",
            "consecutive groups",
        ),
        # the statistics over the wrong dimension (across the groups)
        (
            "centred = groups - groups.mean(dim=1, keepdim=True)\n"
            "    return (centred / (groups.std(dim=1, keepdim=True) + 1e-4))",
            "centred = groups - groups.mean(dim=0, keepdim=True)\n"
            "    return (centred / (groups.std(dim=0, keepdim=True) + 1e-4))",
            "group_relative_advantages",
        ),
        # the advantages left as [n_groups, G], not flattened back to [B]
        (
            "(centred / (groups.std(dim=1, keepdim=True) + 1e-4)).reshape(-1)",
            "centred / (groups.std(dim=1, keepdim=True) + 1e-4)",
            "shape",
        ),
    ],
    "dpo_loss": [
        # log(sigmoid(.)) instead of logsigmoid: inf at large margins
        (
            "-nn.functional.logsigmoid(beta * (chosen - rejected)).mean()",
            "-torch.log(torch.sigmoid(beta * (chosen - rejected))).mean()",
            "logsigmoid",
        ),
        # beta forgotten
        ("logsigmoid(beta * (chosen - rejected))", "logsigmoid(chosen - rejected)", "beta 0.5"),
        # chosen and rejected the wrong way round
        (
            "logsigmoid(beta * (chosen - rejected))",
            "logsigmoid(beta * (rejected - chosen))",
            "margin",
        ),
        # the log-ratios the wrong way round (reference minus policy)
        (
            "chosen = policy_chosen_logps - ref_chosen_logps\n"
            "    rejected = policy_rejected_logps - ref_rejected_logps",
            "chosen = ref_chosen_logps - policy_chosen_logps\n"
            "    rejected = ref_rejected_logps - policy_rejected_logps",
            "log-ratio",
        ),
        # each policy log-prob paired with the other response's reference log-prob
        (
            "chosen = policy_chosen_logps - ref_chosen_logps\n"
            "    rejected = policy_rejected_logps - ref_rejected_logps",
            "chosen = policy_chosen_logps - ref_rejected_logps\n"
            "    rejected = policy_rejected_logps - ref_chosen_logps",
            "log-ratio",
        ),
        # beta on the chosen log-ratio only
        (
            "logsigmoid(beta * (chosen - rejected))",
            "logsigmoid(beta * chosen - rejected)",
            "beta 0.5",
        ),
        # the sum over the pairs instead of the mean
        ("(chosen - rejected)).mean()", "(chosen - rejected)).sum()", "averaged over the pairs"),
    ],
    "sequence_log_probs": [
        # the planted bug left in: the mask forgotten, the padding's log-probabilities summed too
        ("(token_log_probs * mask).sum(dim=1)", "token_log_probs.sum(dim=1)", "padding"),
        # the mean over the padded length, which depends on the batch
        ("(token_log_probs * mask).sum(dim=1)", "(token_log_probs * mask).mean(dim=1)", "SUM"),
        # the mean over the real tokens: a length-normalised score, not log pi(y | x)
        (
            "(token_log_probs * mask).sum(dim=1)",
            "(token_log_probs * mask).sum(dim=1) / mask.sum(dim=1)",
            "SUM",
        ),
    ],
    "quiz": [
        # a number given as a string: the visible format check
        ("answer_q2 = 12", 'answer_q2 = "12"', "answer_q2"),
        # a letter that is not one of the choices
        ('answer_q4 = "b"', 'answer_q4 = "d"', "answer_q4"),
    ],
}

# {grade cell: seed offsets}: the real grade cell passes with every seed=N shifted by 0..n-1.
SEED_SWEEPS = {
    "test_train_ppo": 10,
}
