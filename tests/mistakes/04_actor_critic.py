"""Lesson 04 (actor-critic): typical mistakes per answer cell, and the seed sweep.

Read by tests/test_lesson_mistakes.py (see tests/lesson_runner.MistakeTable).
"""

# Test cells of well under a second that must keep passing when another answer is wrong.
CHEAP = [
    "test_ActorCritic",
    "test_actor_critic_loss",
    "test_baseline_variance",
    "test_learning_mask",
    "test_segment_returns",
    "test_localised_bugs",
    "test_quiz",
]

# {answer grade_id: [(old text, new text, words the failure message must contain)]}
MISTAKES = {
    "ActorCritic": [
        # the value head's [batch, 1] output left unsqueezed: broadcasts into [batch, batch] later
        (
            "self.value_head(features).squeeze(-1)",
            "self.value_head(features)",
            "squeeze",
        ),
        # the width argument ignored
        (
            "        super().__init__()\n",
            "        super().__init__()\n        hidden = 64\n",
            "hidden",
        ),
        # squeeze() instead of squeeze(-1): a batch of one loses its batch dimension
        (
            "self.value_head(features).squeeze(-1)",
            "self.value_head(features).squeeze()",
            "squeeze(-1)",
        ),
        # the head's raw outputs taken as probabilities: Categorical raises on negative numbers
        ("Categorical(logits=self.logits_head", "Categorical(probs=self.logits_head", "logits"),
    ],
    "actor_critic_loss": [
        # the advantage not detached: the actor's term moves the critic
        ("advantages = (returns - values).detach()", "advantages = returns - values", "detach"),
        # gradient ascent on the actor's term
        (
            "actor = -(dist.log_prob(actions) * advantages).mean()",
            "actor = (dist.log_prob(actions) * advantages).mean()",
            "actor term",
        ),
        # value_coef ignored
        ("actor + value_coef * critic", "actor + critic", "value_coef"),
        # the entropy added instead of subtracted
        ("- entropy_coef * entropy", "+ entropy_coef * entropy", "entropy_coef"),
        # a sum instead of the mean in the actor's term
        (
            "actor = -(dist.log_prob(actions) * advantages).mean()",
            "actor = -(dist.log_prob(actions) * advantages).sum()",
            "actor term",
        ),
        # the critic's term built from the detached advantages: nothing trains the critic
        (
            "critic = ((values - returns) ** 2).mean()",
            "critic = (advantages**2).mean()",
            "critic",
        ),
        # the loss returned as a Python number: backward() has nothing to follow
        (
            "return actor + value_coef * critic - entropy_coef * entropy",
            "return (actor + value_coef * critic - entropy_coef * entropy).item()",
            "gradients",
        ),
        # a sum instead of the mean in the critic's term
        (
            "critic = ((values - returns) ** 2).mean()",
            "critic = ((values - returns) ** 2).sum()",
            "MSE",
        ),
    ],
    "baseline_variance": [
        # the population variance instead of torch's default unbiased one
        (".var(dim=0)", ".var(dim=0, correction=0)", "unbiased"),
        # the baseline added instead of subtracted
        ("(returns - values)[..., None]", "(returns + values)[..., None]", "var_with"),
        # averaged over the batches instead of within each batch
        (
            "without = (returns[..., None] * scores).mean(dim=1)",
            "without = (returns[..., None] * scores).mean(dim=0)",
            "var_without",
        ),
        # the standard deviation instead of the variance
        (".var(dim=0)", ".std(dim=0)", "unbiased variance"),
        # one variance of all the numbers instead of the sum of the per-component variances
        (
            "return without.var(dim=0).sum(), with_baseline.var(dim=0).sum()",
            "return without.var(), with_baseline.var()",
            "each of the P components",
        ),
        # the pair in the wrong order
        (
            "return without.var(dim=0).sum(), with_baseline.var(dim=0).sum()",
            "return with_baseline.var(dim=0).sum(), without.var(dim=0).sum()",
            "var_without",
        ),
    ],
    "learning_mask": [
        # masks out the step that ended the episode instead of the reset step after it
        ("return ~previous_done", "return ~done", "reset step"),
        # a truncation is not counted as the end of an episode
        ("done = terminated | truncated", "done = terminated", "OR truncated"),
        # the mask inverted: True on the reset steps
        ("return ~previous_done", "return previous_done", "reset step"),
        # the previous segment's last step forgotten: step 0 is always learned from
        (
            "torch.cat([first_after_done[None], done[:-1]])",
            "torch.cat([torch.zeros_like(first_after_done)[None], done[:-1]])",
            "first_after_done",
        ),
    ],
    "segment_returns": [
        # the planted bug of buggy_segment_returns: truncation treated as termination
        (
            "next_return = torch.where(truncated[t], values[t + 1], future)\n"
            "        next_return = torch.where(terminated[t], 0.0, next_return)\n"
            "        future = rewards[t] + gamma * next_return",
            "ended = (terminated[t] | truncated[t]).float()\n"
            "        future = rewards[t] + gamma * (1.0 - ended) * future",
            "truncated episode goes on",
        ),
        # half a fix: only termination ends the return; right when the truncation is the
        # segment's last step (future = values[T] already), wrong in the middle of the segment
        (
            "next_return = torch.where(truncated[t], values[t + 1], future)\n"
            "        next_return = torch.where(terminated[t], 0.0, next_return)\n"
            "        future = rewards[t] + gamma * next_return",
            "ended = terminated[t].float()\n"
            "        future = rewards[t] + gamma * (1.0 - ended) * future",
            "next episode",
        ),
        # bootstraps a truncation from V of the last observation acted in
        ("values[t + 1], future)", "values[t], future)", "final observation"),
        # the returns written into the rewards tensor: the caller's rewards are overwritten
        ("returns = torch.zeros_like(rewards)", "returns = rewards", "in place"),
        # the discount forgotten
        ("future = rewards[t] + gamma * next_return", "future = rewards[t] + next_return", "gamma"),
        # truncation wins over termination when both are set
        (
            "next_return = torch.where(truncated[t], values[t + 1], future)\n"
            "        next_return = torch.where(terminated[t], 0.0, next_return)",
            "next_return = torch.where(terminated[t], 0.0, future)\n"
            "        next_return = torch.where(truncated[t], values[t + 1], next_return)",
            "really ended",
        ),
        # no bootstrap at the segment's end
        ("future = values[n_steps]", "future = torch.zeros_like(rewards[0])", "values[T]"),
        # the values not detached: the targets carry gradients
        ("    values = values.detach()\n", "", "targets"),
    ],
    "train_a2c": [
        # ascends the loss: the pole falls at once
        (
            "        loss.backward()\n",
            "        (-loss).backward()\n",
            "greedy policy's mean return",
        ),
    ],
    "train_on_probe": [
        # the expected values read with expected_values()'s default gamma (0.99), not the run's
        (
            "probe.expected_values(args.gamma)",
            "probe.expected_values()",
            "expected_values(args.gamma)",
        ),
        # a signed difference: a value below the expected one passes
        (
            "abs(values[o] - expected_values[o]) <= args.value_tol",
            "values[o] - expected_values[o] <= args.value_tol",
            "abs(",
        ),
        # CartPole's two actions hard-coded: Probes 1-3 have one, and reject action 1
        ("ActorCritic(1, envs.single_action_space.n,", "ActorCritic(1, 2,", "single_action_space"),
        # the observations fed to the model as a flat vector instead of a batch [k, 1]
        ("device=DEVICE)[:, None])", "device=DEVICE))", "[k, 1]"),
        # the gradients never cleared: each step follows the sum of all the gradients so far
        ("        optimizer.zero_grad()\n", "", "zero_grad"),
        # one observation within its tolerance is enough
        (
            "passed = all(",
            "passed = any(",
            "passed",
            "needs a run in which one observation passes and another fails; the visible part "
            "keeps to four short runs, and the hidden part has one (Probe 3, no discount)",
        ),
        # not seeded: two runs with the same seed differ
        (
            "    rlhelpers.seed_everything(seed)\n    envs = gym.make_vec(probe_id",
            "    envs = gym.make_vec(probe_id",
            "seed",
            "only a second run with the same seed shows it; the hidden part makes one, the "
            "visible part keeps to four short runs",
        ),
    ],
    "localised_bugs": [
        # a number given as a string (a wrong value only costs its sixth of the points:
        # tests/test_lesson_04.py checks the partial credit)
        ("first_failure_1 = 4", 'first_failure_1 = "4"', "first_failure_1"),
        # a letter that is not one of the choices
        ('broken_part_2 = "a"', 'broken_part_2 = "(a)"', "broken_part_2"),
    ],
    "quiz": [
        # a number given as a string: the visible format check (a wrong value only costs its
        # question's half point: tests/test_lesson_04.py checks the partial credit)
        ("answer_q4 = 782", 'answer_q4 = "782"', "answer_q4"),
        # a letter that is not one of the choices
        ('answer_q1 = "b"', 'answer_q1 = "b)"', "answer_q1"),
    ],
}

# {grade cell: seed offsets}: the real grade cell passes with every seed=N shifted by 0..n-1.
SEED_SWEEPS = {
    "test_train_on_probe": 10,
    "test_train_a2c": 10,
}
