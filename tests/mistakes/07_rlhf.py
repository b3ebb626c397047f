"""Lesson 07 (RLHF end to end): typical mistakes per answer cell, and the seed sweeps.

Read by tests/test_lesson_mistakes.py (see tests/lesson_runner.MistakeTable).
"""

# Test cells of well under a second that must keep passing when another answer is wrong.
CHEAP = [
    "test_bradley_terry_loss",
    "test_build_state",
    "test_kl_penalized_rewards",
    "test_response_log_probs",
    "test_ppo_functions",
    "test_preference_functions",
    "test_quiz",
]

# {answer grade_id: [(old text, new text, words the failure message must contain)]}
MISTAKES = {
    "bradley_terry_loss": [
        # the margin the wrong way round: the model learns to prefer the rejected answers
        (
            "logsigmoid(chosen_scores - rejected_scores)",
            "logsigmoid(rejected_scores - chosen_scores)",
            "margins +1",
        ),
        # log(sigmoid(.)): -inf once sigmoid underflows in float32
        (
            "-nn.functional.logsigmoid(chosen_scores - rejected_scores).mean()",
            "-torch.log(torch.sigmoid(chosen_scores - rejected_scores)).mean()",
            "logsigmoid",
        ),
        # the sum over the pairs instead of the mean
        ("rejected_scores).mean()", "rejected_scores).sum()", "averaged over the pairs"),
        # the minus sign forgotten: the log-likelihood returned as the loss, so descent lowers it
        (
            "return -nn.functional.logsigmoid(",
            "return nn.functional.logsigmoid(",
            "3 pairs scored equally",
        ),
        # the probability instead of its log: a loss whose gradient vanishes on badly ranked pairs
        (
            "-nn.functional.logsigmoid(chosen_scores - rejected_scores).mean()",
            "-torch.sigmoid(chosen_scores - rejected_scores).mean()",
            "3 pairs scored equally",
        ),
    ],
    "train_reward_model": [
        # chosen and rejected swapped in the loss: the reward model learns the opposite ranking
        (
            "loss = bradley_terry_loss(chosen, rejected)",
            "loss = bradley_terry_loss(rejected, chosen)",
            "preference accuracy",
        ),
        # the optimiser's step forgotten: the reward model never changes
        ("        optimizer.step()\n", "", "preference accuracy"),
        # the reward model returned trainable: it would keep learning inside the RL loop's graph
        ("return reward_model.eval().requires_grad_(False)", "return reward_model", "frozen"),
    ],
    "build_state": [
        # the generated tokens first, then the prompt
        ("[prompt_tokens, generated_tokens]", "[generated_tokens, prompt_tokens]", "prompt first"),
        # only the last generated token
        (
            "[prompt_tokens, generated_tokens]",
            "[prompt_tokens, generated_tokens[:, -1:]]",
            "generated [",
        ),
        # concatenated along the batch dimension
        (
            "[prompt_tokens, generated_tokens], dim=1",
            "[prompt_tokens, generated_tokens], dim=0",
            "shape",
        ),
    ],
    "kl_penalized_rewards": [
        # TRL's old bug: the score on the first padding token
        ("last = mask.long().sum(dim=1) - 1", "last = mask.long().sum(dim=1)", "LAST REAL"),
        # the KL term not masked: padding gets rewards
        (
            "rewards = -beta * (log_probs - ref_log_probs) * real",
            "rewards = -beta * (log_probs - ref_log_probs)",
            "mask",
        ),
        # the KL term with the wrong sign: a bonus for leaving the reference
        ("rewards = -beta * (log_probs", "rewards = beta * (log_probs", "kl_penalized_rewards"),
        # the index of the last token from a float mask: a float index
        ("last = mask.long().sum(dim=1) - 1", "last = mask.sum(dim=1) - 1", "mask.long()"),
        # beta forgotten
        (
            "rewards = -beta * (log_probs - ref_log_probs)",
            "rewards = -(log_probs - ref_log_probs)",
            "beta 0.1",
        ),
        # the score on the last column, whatever the response's length
        (
            "rewards[torch.arange(len(scores), device=rewards.device), last]",
            "rewards[torch.arange(len(scores), device=rewards.device), -1]",
            "LAST REAL",
        ),
    ],
    "response_log_probs": [
        # the planted bug left in: the logits of the same position score the token
        (
            "logits[:, prompt_length - 1 : -1]",
            "logits[:, prompt_length:]",
            "P - 1",
        ),
        # logits taken for log-probabilities
        (
            "torch.log_softmax(logits[:, prompt_length - 1 : -1], dim=-1)",
            "logits[:, prompt_length - 1 : -1]",
            "demo's log-probs",
        ),
        # the softmax over the positions instead of the vocabulary
        (
            "torch.log_softmax(logits[:, prompt_length - 1 : -1], dim=-1)",
            "torch.log_softmax(logits[:, prompt_length - 1 : -1], dim=1)",
            "after the prompt [0] (by hand)",
            "the visible counting model's one-hot logits of 20 put each response token's mass at "
            "one position as well as on one word, so either softmax gives it log-prob 0; only the "
            "hidden random logits tell them apart (the visible case is the debugging demo's)",
        ),
    ],
    "ppo_functions": [
        # the clipped term alone: wrong wherever the unclipped term is the smaller one
        (
            "return -torch.min(ratio * advantages, clipped * advantages).mean()",
            "return -(clipped * advantages).mean()",
            "advantages [-1, +1]",
        ),
        # max instead of min: an optimistic objective
        ("return -torch.min(ratio", "return -torch.max(ratio", "advantages [+1, -1]"),
        # the ratio upside down
        (
            "ratio = torch.exp(new_log_probs - old_log_probs)",
            "ratio = torch.exp(old_log_probs - new_log_probs)",
            "ppo_clip_loss at ratios",
        ),
        # the objective returned instead of the loss
        ("return -torch.min(ratio", "return torch.min(ratio", "advantages [+1, -1]"),
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
        # lambda forgotten: the Monte Carlo-like sum of TD errors
        (
            "running = deltas[t] + gamma * lam * not_done[t] * running",
            "running = deltas[t] + gamma * not_done[t] * running",
            "lam 0.5",
        ),
        # last_value ignored: a cut episode bootstrapped from 0
        (
            "np.concatenate([values[1:], last_value[None]])",
            "np.concatenate([values[1:], np.zeros_like(values[:1])])",
            "last_value 2.0",
        ),
    ],
    "preference_functions": [
        # beta forgotten
        (
            "logsigmoid(beta * (chosen - rejected))",
            "logsigmoid(chosen - rejected)",
            "beta 0.5",
        ),
        # log(sigmoid(.)): -inf once sigmoid underflows in float32
        (
            "-nn.functional.logsigmoid(beta * (chosen - rejected)).mean()",
            "-torch.log(torch.sigmoid(beta * (chosen - rejected))).mean()",
            "margin of -200",
        ),
        # the sum over the pairs instead of the mean
        ("(chosen - rejected)).mean()", "(chosen - rejected)).sum()", "dpo_loss of two pairs"),
        # chosen and rejected swapped: the policy learns the rejected answers
        ("beta * (chosen - rejected)", "beta * (rejected - chosen)", "dpo_loss of two pairs"),
        # the log-ratio upside down for the chosen answer
        (
            "chosen = policy_chosen_logps - ref_chosen_logps",
            "chosen = ref_chosen_logps - policy_chosen_logps",
            "dpo_loss of two pairs",
        ),
        # groups interleaved: the rewards of one prompt are consecutive
        (
            "groups = rewards.reshape(-1, group_size)",
            "groups = rewards.reshape(group_size, -1).T",
            "group_size=3",
        ),
        # the population std instead of torch's default sample std
        (
            "groups.std(dim=1, keepdim=True)",
            "groups.std(dim=1, keepdim=True, correction=0)",
            "group_size=3",
        ),
        # no epsilon: a group of equal rewards divides 0 by 0
        ("keepdim=True) + 1e-4)", "keepdim=True))", "group_size=3"),
    ],
    "quiz": [
        # a number given as a string: the visible format check
        ("answer_q4 = 1", 'answer_q4 = "1"', "answer_q4"),
        # a letter that is not one of the choices
        ('answer_q2 = "c"', 'answer_q2 = "d"', "answer_q2"),
    ],
}

# {grade cell: seed offsets}: the real grade cell passes with every seed=N shifted by 0..n-1.
SEED_SWEEPS = {
    "test_train_reward_model": 10,
}
