# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 07: RLHF end to end, from preferences to a tuned policy
#
# Lesson 06 built PPO, the KL estimators and the losses of GRPO and DPO. This
# lesson runs the whole InstructGPT pipeline (Ouyang et al., 2022) in
# miniature, every stage a real one, on a laptop CPU: a tiny causal
# transformer pretrained on generated text (the SFT stage), simulated
# labellers who compare two of its answers and carry a bias, a reward model
# trained on their choices, PPO against that reward model with a per-token KL
# penalty, and DPO and GRPO on the same data, side by side. Then it measures
# what goes wrong when a policy optimises a learned reward too hard, and
# tests the two causes of a broken set-up from a cautionary story, one at a
# time.
#
# **Goals.** After this lesson you can
# - say what a causal transformer's state is and show it on an attention map;
# - write the Bradley-Terry loss and train a reward model on preference pairs,
#   and say what it learns from biased labellers;
# - set up RLHF as an RL problem: the state (prompt + every token so far), the
#   per-token reward (KL penalty, the score on the last real token), the
#   log-probabilities of a response, and find the bug that breaks them;
# - run PPO, DPO and GRPO on the same task and compare them on what matters:
#   the true quality, the KL to the reference, the cost;
# - measure over-optimisation (the learned reward rises while the true utility
#   falls) and read each line of TRL's trainers as one of yours.
#
# **Points: 19** (17 autograded in 7 exercises, 2 for a written answer).
# **Time:** about 3 hours: the exercises' headings add up to 1 hour and
# 35 minutes, the written answer takes about 15 minutes, and the sections to
# read and run add up to 1 hour and 20 minutes. The whole notebook runs in one
# to three minutes on a laptop CPU (about 80 CPU-seconds), depending on how
# busy it is.
#
# **How you are graded.** Each exercise states its points. Pressing *Validate*
# runs only the **visible** tests in the test cells. The grade is decided by
# **hidden tests** in the same cells, which use fresh random inputs and edge
# cases (responses of every length, other seeds), so a function that only
# reproduces the visible examples will not pass. The training exercise states
# its threshold and budget; the grader trains with your functions on a fixed
# seed, and the reference solution passes on every one of 10 seeds we tried.
#
# **Partial credit.** A quiz scores each question and an exercise with parts
# scores each part; any other test cell is all or nothing.
#
# Write your code between the answer cells' markers (replace the
# `raise NotImplementedError()`), and do not change the test cells. Each
# exercise has hints that you can open when stuck; the first only nudges, the
# last gives the key idea (never the whole answer).

# %% [markdown]
# > **Notation.** The book (Sutton & Barto) numbers time so that the action
# > A_t taken in state S_t is followed by the reward R_{t+1} and the state
# > S_{t+1}, and the return is G_t = R_{t+1} + gamma R_{t+2} + gamma^2 R_{t+3} + ...
# > The arrays of the code are indexed by the step instead: `rewards[t]` is the
# > reward that follows `actions[t]`, taken in `states[t]` (the book's R_{t+1}),
# > so `returns[t] = rewards[t] + gamma * rewards[t+1] + ...` is the book's G_t,
# > and `dones[t] = 1` means the episode ended with step t.

# %% [markdown]
# As in the earlier lessons, `rlhelpers.device()` gives torch one thread and
# picks a GPU when there is one; every tensor goes through `DEVICE`.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

import rlhelpers
from rlhelpers import labellers, rlhf, tinylm, tinytask
from rlhelpers.testing import check, check_close, check_shape

DEVICE = rlhelpers.device()  # (it also sets one torch thread)
print("torch device:", DEVICE)
DEMO_SEED = 1  # the grader uses seed 0

# %% [markdown]
# ## The policy: a tiny transformer (about 10 min of reading)
#
# The task (`rlhelpers.tinytask`) is a prompt `describe <subject>` (a cat, a tree, the
# sun, ...) and a short answer in a vocabulary of 45 words that ends with
# `<end>`. The policy is `rlhelpers.tinylm.TinyTransformer`, a GPT in
# miniature: token and position embeddings, two pre-norm blocks of causal
# self-attention (4 heads) and an MLP, width 64, about 75,000 parameters.
# `forward(tokens [B, S])` returns the next-token logits `[B, S, V]`, where
# position $j$'s logits predict the token at $j + 1$.
#
# `tinylm.pretrained_policy(seed)` is the **SFT stage**: it trains the
# transformer on text the package writes itself (true and false descriptions,
# "i do not know", ...) by next-token prediction, in a few CPU-seconds, and
# returns it frozen. That policy is also the **reference** $\pi_\text{ref}$ of
# every KL below. Here are a few of its answers:

# %%
policy = tinylm.pretrained_policy(seed=0)
show_generator = torch.Generator(DEVICE).manual_seed(DEMO_SEED)
show_prompts = tinytask.sample_prompts(6, show_generator)
show_responses = tinylm.generate(policy, show_prompts, 16, show_generator)
for prompt, response in zip(show_prompts, show_responses, strict=True):
    print(tinytask.decode(prompt)[0], "->", tinytask.decode(response)[0])

# %% [markdown]
# **The state is the whole prefix.** The state of a language model, as an
# RL agent, is the prompt followed by every token generated so far. A
# transformer reads exactly that: at position $s$, causal self-attention mixes
# the vectors of positions $0, \dots, s$ with weights that it computes from
# their content, and nothing after $s$. The maps below are the attention
# weights of one answer, averaged over each block's 4 heads: row $s$ is the
# distribution over the positions that position $s$ reads (the upper triangle
# is 0: the future is masked).

# %%
attention_tokens = torch.cat([show_prompts[2], show_responses[2]])
attention_tokens = attention_tokens[attention_tokens != tinytask.PAD_ID]
attention_words = [tinytask.VOCAB[token] for token in attention_tokens.tolist()]
attention = policy.attention_maps(attention_tokens).mean(dim=1).cpu()  # [layers, S, S]
fig, axes = plt.subplots(1, len(attention), figsize=(10, 4.2))
for layer, ax in enumerate(axes):
    ax.imshow(attention[layer], cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(attention_words)), attention_words, rotation=90, fontsize=8)
    ax.set_yticks(range(len(attention_words)), attention_words, fontsize=8)
    ax.set(xlabel="position read (key)", ylabel="position reading (query)")
    ax.set_title(f"block {layer + 1}: attention, mean of 4 heads", fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# Each row is a probability distribution over the prefix. The rows of the
# later tokens do not only read their own position: they put much of their
# weight on the subject (in the prompt, and where the answer names it) and on
# words already written, so the next token depends on the whole prefix.

# %% [markdown]
# ## Preferences from biased labellers (about 10 min of reading)
#
# In InstructGPT, labellers ranked 4 to 9 of the models' answers to a prompt,
# each ranking giving every pair of them as a comparison; here, the
# comparisons are pairs, as in Stiennon et al. (2020). Here
# `rlhelpers.labellers` simulates them. Each answer has a hidden **true
# utility** (`labellers.true_utility`): +1 for naming the prompt's subject,
# +0.5 for each distinct adjective true of it, -1 for each false one or other
# subject, -0.5 for each repeated word, -1 for an answer that never ends. The
# labellers compare two answers to the same prompt and choose with the
# Bradley-Terry model, $P(a \succ b) = \sigma((u(a) - u(b)) / 0.5)$, so they
# are noisy, and they are **biased**: the $u$ they judge by is the true
# utility plus 0.5 for each `very` and 0.1 for each word. Neither emphasis nor
# length is worth anything in truth.
#
# `labellers.preference_pairs(policy, n, seed)` samples two different answers
# per prompt from the policy and has the labellers choose: the chosen answer
# $y_w$ and the rejected one $y_l$, with their true utilities for evaluation
# only. The last quarter is held out to test the reward model.

# %%
pairs = labellers.preference_pairs(policy, 2000, seed=0)
train_pairs, test_pairs = pairs.split(0.25)
true_agrees = (pairs.chosen_utility > pairs.rejected_utility).float().mean().item()
true_ties = (pairs.chosen_utility == pairs.rejected_utility).float().mean().item()
best_accuracy = torch.maximum(pairs.chosen_probability, 1 - pairs.chosen_probability).mean().item()
print(f"{len(train_pairs)} training pairs, {len(test_pairs)} held out")
print(
    f"the chosen answer is truly better in {true_agrees:.0%} of the pairs, as good in {true_ties:.0%}"
)
print(f"the best accuracy any model of the labellers can expect: {best_accuracy:.0%}")
for i in range(3):
    print(
        f"  {tinytask.decode(pairs.prompts[i])[0]}: chosen {tinytask.decode(pairs.chosen[i])[0]!r}"
        f" over {tinytask.decode(pairs.rejected[i])[0]!r}"
    )

# %% [markdown]
# ## Exercise 1: the Bradley-Terry loss (2 points, about 10 min, easy)
#
# A reward model $r_\phi(x, y)$ gives one number per answer. Bradley and
# Terry's (1952) model of paired comparisons
# turns two such numbers into a probability of preference,
# $P(y_w \succ y_l \mid x) = \sigma(r_\phi(x, y_w) - r_\phi(x, y_l))$, and the
# reward model is fitted by maximum likelihood on the labellers' choices:
#
# $$\mathcal{L}(\phi) = -\mathbb{E}_{(x, y_w, y_l)}\bigl[\log \sigma\bigl(r_\phi(x, y_w) - r_\phi(x, y_l)\bigr)\bigr].$$
#
# Only the difference of the two scores enters, so adding a constant to every
# score changes nothing: a reward model's scale and offset are arbitrary
# (that is why RLHF code often normalises them).
#
# Write `bradley_terry_loss(chosen_scores, rejected_scores)`: two float tensors
# `[B]` (the reward model's scores of each pair's chosen and rejected answers)
# -> the scalar mean of the loss over the $B$ pairs. As in lesson 06's DPO
# loss, $\log\sigma(z)$ must stay finite when $\sigma(z)$ underflows in float32.
#
# <details><summary>Hint 1: the shape of it</summary>
#
# This is lesson 06's DPO loss with a different margin: which number plays
# the role of $\beta$ times the difference of the log-ratios?
#
# </details>
#
# <details><summary>Hint 2: the key idea</summary>
#
# Lesson 06's DPO loss used a torch function that gives $\log\sigma(z)$
# without computing $\sigma(z)$ first, so it never underflows. Then check the
# sign of your margin: a pair the model already ranks right must cost less
# than $\log 2$.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "bradley_terry_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def bradley_terry_loss(chosen_scores, rejected_scores):
    """The reward model's loss, -mean(log sigmoid(chosen_scores - rejected_scores)).

    Args:
        chosen_scores, rejected_scores: float tensors [B], r(x, y_w) and r(x, y_l).

    Returns:
        a scalar tensor.
    """
    ### BEGIN SOLUTION
    return -nn.functional.logsigmoid(chosen_scores - rejected_scores).mean()
    ### END SOLUTION


# %%
print(
    "a reward model that cannot tell the answers apart:",
    float(bradley_terry_loss(*torch.zeros(2, 4))),
)

# %% nbgrader={"grade": true, "grade_id": "test_bradley_terry_loss", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""bradley_terry_loss: hand-computed values, its gradient's direction, no overflow at large margins."""
import numpy as np
import torch

from rlhelpers.testing import check, check_close, check_shape, checks_passed

_loss = bradley_terry_loss(torch.zeros(3), torch.zeros(3))
check_shape(_loss, (), "the loss (one number: the mean over the pairs)")
check_close(
    _loss,
    np.log(2),
    "bradley_terry_loss of 3 pairs scored equally",
    hint="-log sigmoid(0) for each pair, averaged over the pairs",
)
check_close(
    bradley_terry_loss(torch.tensor([1.5, -1.0]), torch.tensor([0.5, 1.0])),
    (np.log1p(np.exp(-1.0)) + np.log1p(np.exp(2.0))) / 2,
    "bradley_terry_loss for margins +1 (1.5 vs 0.5) and -2 (-1 vs 1)",
    atol=1e-6,
    hint="the margin is chosen minus rejected; a pair ranked right (margin +1) costs "
    "log(1 + e^-1) = 0.31, one ranked wrong (margin -2) log(1 + e^2) = 2.13",
)
check_close(
    bradley_terry_loss(torch.tensor([-150.0]), torch.tensor([50.0])),
    200.0,
    "bradley_terry_loss for a margin of -200 (float32)",
    atol=1e-3,
    hint="use torch.nn.functional.logsigmoid: log(sigmoid(-200)) is -inf in float32",
)
checks_passed("bradley_terry_loss")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(11)
_c, _r = (torch.tensor(_rng.normal(0, 2, 64)) for _ in range(2))
check_close(
    bradley_terry_loss(_c, _r),
    np.log1p(np.exp(-(_c - _r).numpy())).mean(),
    "bradley_terry_loss on 64 random pairs",
    atol=1e-8,
    hint="the mean over the pairs of -log sigmoid(chosen - rejected)",
)
_chosen = torch.tensor([0.3], requires_grad=True)
_rejected = torch.tensor([0.3], requires_grad=True)
bradley_terry_loss(_chosen, _rejected).backward()
check(
    _chosen.grad is not None and float(_chosen.grad) < 0 < float(_rejected.grad),
    "the gradient of the loss w.r.t. the (chosen, rejected) scores",
    expected="negative for the chosen one, positive for the rejected one (descent raises the chosen)",
    got=None if _chosen.grad is None else (float(_chosen.grad), float(_rejected.grad)),
)
check_close(
    bradley_terry_loss(torch.tensor([0.0, 400.0]), torch.tensor([300.0, 0.0])),
    150.0,
    "bradley_terry_loss for margins -300 and +400 (float32)",
    atol=1e-3,
    hint="use torch.nn.functional.logsigmoid: it is exact at both ends",
)
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 2: train the reward model (4 points, about 25 min, medium)
#
# InstructGPT's reward model is the SFT model with its next-token head
# replaced by a scalar head, read on the last token of the answer.
# `tinylm.with_scalar_head(policy, seed=seed)` returns exactly that: a
# trainable `TinyTransformer(head="scalar")` that starts from the policy's
# trunk (the head is new, initialised from `seed`), and
# `reward_model.score(prompts, responses)` reads it on each answer's last
# real token: float `[B]`.
#
# Write `train_reward_model(policy, data, seed=0, steps=300, batch_size=32, lr=1e-3)`:
# start from `with_scalar_head(policy, seed=seed)`, take `steps` Adam steps
# (learning rate `lr`), each on `batch_size` pairs of `data` (a
# `labellers.PreferenceData`: `.prompts [N, 2]`, `.chosen [N, L]`,
# `.rejected [N, L]`) drawn at random with `np.random.default_rng(seed)`, on
# your `bradley_terry_loss`, and return the reward model frozen
# (`.eval().requires_grad_(False)`). About 5 CPU-seconds.
#
# **Graded:** with the first 1,500 of `labellers.preference_pairs(tinylm.pretrained_policy(0), 2000, seed=0)`
# as `data` and `seed=0`, the reward model must rank the chosen answer above
# the rejected one on at least **66 %** of the 500 held-out pairs. (The
# labellers' own noise caps any model near 84 %, and the true utility itself,
# used as a reward model, scores about 82 %: measured on these pairs.)
#
# <details><summary>Hint 1: one step</summary>
#
# Score the batch's chosen answers and its rejected answers with the same
# reward model, then it is lesson 03's loop: loss, `zero_grad`, `backward`,
# `step`. The random rows can be drawn once for all steps:
# `rng.integers(len(data), size=(steps, batch_size))`.
#
# </details>
#
# <details><summary>Hint 2: the key idea</summary>
#
# Both answers of a pair are scored by the same model, and the loss only sees
# the difference of their scores. Every weight is fine-tuned, not only the
# new head. (Indexing tensors on the data's device needs index tensors on
# that device too.)
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "train_reward_model", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_reward_model(policy, data, seed=0, steps=300, batch_size=32, lr=1e-3):
    """A Bradley-Terry reward model fine-tuned from the policy's trunk on preference pairs.

    Args:
        policy: the SFT TinyTransformer (its trunk is copied, never changed).
        data: a labellers.PreferenceData (prompts, chosen, rejected).
        seed: seeds the new head and the random batches.
        steps, batch_size, lr: Adam steps, pairs per step, learning rate.

    Returns:
        a frozen TinyTransformer(head="scalar"); its .score(prompts, responses) is r(x, y).
    """
    ### BEGIN SOLUTION
    reward_model = tinylm.with_scalar_head(policy, seed=seed)
    optimizer = torch.optim.Adam(reward_model.parameters(), lr=lr)
    rows = np.random.default_rng(seed).integers(len(data), size=(steps, batch_size))
    for batch in torch.as_tensor(rows, device=data.prompts.device):
        chosen = reward_model.score(data.prompts[batch], data.chosen[batch])
        rejected = reward_model.score(data.prompts[batch], data.rejected[batch])
        loss = bradley_terry_loss(chosen, rejected)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return reward_model.eval().requires_grad_(False)
    ### END SOLUTION


# %% [markdown]
# `preference_accuracy` (given) is the measure of the grade: the fraction of
# held-out pairs whose chosen answer the reward model scores higher.


# %%
@torch.no_grad()
def preference_accuracy(reward_model, data):
    """How often the reward model scores the chosen answer above the rejected one (ties: half)."""
    chosen = reward_model.score(data.prompts, data.chosen)
    rejected = reward_model.score(data.prompts, data.rejected)
    return ((chosen > rejected).float() + 0.5 * (chosen == rejected).float()).mean().item()


reward_model = train_reward_model(policy, train_pairs, seed=0)
print(f"held-out accuracy: {preference_accuracy(reward_model, test_pairs):.1%}")

# %% nbgrader={"grade": true, "grade_id": "test_train_reward_model", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
"""train_reward_model: held-out preference accuracy >= 0.66 (pairs and reward model of seed 0, 1,500 pairs, 300 steps)."""
import torch

from rlhelpers import labellers, tinylm
from rlhelpers.testing import check, check_between, check_type, checks_passed

_policy = tinylm.pretrained_policy(0)
_train, _test = labellers.preference_pairs(_policy, 2000, seed=0).split(0.25)
_model = train_reward_model(_policy, _train, seed=0)
check_type(_model, tinylm.TinyTransformer, "the reward model returned by train_reward_model")
with torch.no_grad():
    _chosen = _model.score(_test.prompts, _test.chosen)
    _rejected = _model.score(_test.prompts, _test.rejected)
_accuracy = ((_chosen > _rejected).float() + 0.5 * (_chosen == _rejected).float()).mean().item()
check_between(
    _accuracy,
    0.66,
    1.0,
    "the reward model's held-out preference accuracy (500 pairs, seed 0)",
    hint="below 0.5 means chosen and rejected are swapped somewhere; about 0.5 means no learning: "
    "check that the optimiser holds reward_model.parameters(), and zero_grad, backward and step",
)
check(
    not any(_p.requires_grad for _p in _model.parameters()),
    "the returned reward model's parameters",
    expected="frozen (requires_grad False): it is a fixed judge from now on",
    got="some still require gradients",
    hint="return reward_model.eval().requires_grad_(False)",
)
checks_passed("train_reward_model")
### BEGIN HIDDEN TESTS
_fresh = tinylm.pretrained_policy(0)
check(
    all(
        torch.equal(_a, _b)
        for _a, _b in zip(_policy.state_dict().values(), _fresh.state_dict().values(), strict=True)
    ),
    "the policy after train_reward_model",
    expected="unchanged (the reward model starts from a copy of its trunk)",
    got="its weights changed",
    hint="start from tinylm.with_scalar_head(policy, seed=seed), which copies the trunk",
)
_correlation = torch.corrcoef(
    torch.stack(
        [torch.cat([_chosen, _rejected]), torch.cat([_test.chosen_utility, _test.rejected_utility])]
    )
)[0, 1].item()
check(
    _correlation > 0.3,
    "the correlation of the reward model's held-out scores with the true utility",
    expected="above 0.3 (the reference: 0.42 to 0.66 on seeds 0-9)",
    got=round(_correlation, 3),
)
### END HIDDEN TESTS

# %% [markdown]
# What did the reward model learn? Below, each held-out answer's score against
# its true utility (which the reward model never saw), split by whether the
# answer says `very`. The labellers paid for `very` and the true utility does
# not: at the same true utility, the emphatic answers score higher.

# %%
with torch.no_grad():
    held_out_prompts = torch.cat([test_pairs.prompts, test_pairs.prompts])
    held_out_responses = torch.cat([test_pairs.chosen, test_pairs.rejected])
    held_out_scores = reward_model.score(held_out_prompts, held_out_responses).cpu()
held_out_utility = labellers.true_utility(held_out_prompts, held_out_responses).cpu()
says_very = (held_out_responses == tinytask.VERY_ID).any(dim=1).cpu()
rm_very_gap = {}
fig, ax = plt.subplots(figsize=(6, 3.5))
for emphatic, colour in ((False, "tab:blue"), (True, "tab:orange")):
    rows = says_very == emphatic
    jitter = 0.08 * torch.randn(int(rows.sum()), generator=torch.Generator().manual_seed(0))
    label = "says 'very'" if emphatic else "no 'very'"
    ax.scatter(
        held_out_utility[rows] + jitter,
        held_out_scores[rows],
        s=6,
        alpha=0.5,
        c=colour,
        label=label,
    )
for utility in (0.5, 1.0, 1.5):
    at = held_out_utility == utility
    if (at & says_very).sum() >= 5 and (at & ~says_very).sum() >= 5:
        gap = held_out_scores[at & says_very].mean() - held_out_scores[at & ~says_very].mean()
        rm_very_gap[utility] = gap.item()
ax.set(xlabel="true utility (hidden from every model)", ylabel="reward-model score")
ax.legend(fontsize=8)
plt.show()
print(
    "mean score of 'very' answers minus the others, at equal true utility:",
    {u: round(g, 2) for u, g in rm_very_gap.items()},
)

# %% [markdown]
# ## RLHF as an RL problem
#
# A language model is a policy: the **state** is the prompt followed by every
# token generated so far, the **action** is the next token, and the episode
# ends with `<end>` or at the length limit. The reward model scores the
# finished answer once. The RL loop of this lesson, `rlhelpers.rlhf.train_ppo`,
# is PPO on this problem with **your** functions passed in: the next three
# exercises write the three that make PPO into RLHF, and the loop calls each
# of them on every batch.

# %% [markdown]
# ## Exercise 3: the state the policy sees (1 point, about 5 min, easy)
#
# Write `build_state(prompt_tokens, generated_tokens)`: long tensors
# `[B, P]` (the prompts) and `[B, t]` (the tokens generated so far, `t` may be
# 0) -> `[B, P + t]`, the prompt followed by the generated tokens, row by
# row. The loop feeds it to the transformer before every token it samples,
# and lays out the policy's, the reference's and the critic's outputs from it.
#
# <details><summary>Hint</summary>
#
# Which torch function joins tensors along a dimension they already have,
# and which dimension of `[B, P]` counts the tokens?
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "build_state", "locked": false, "schema_version": 3, "solution": true, "task": false}
def build_state(prompt_tokens, generated_tokens):
    """The policy's state before the next token: the prompt, then every token generated so far.

    Args:
        prompt_tokens: long tensor [B, P].
        generated_tokens: long tensor [B, t], t >= 0.

    Returns:
        long tensor [B, P + t].
    """
    ### BEGIN SOLUTION
    return torch.cat([prompt_tokens, generated_tokens], dim=1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_build_state", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""build_state: prompt then generated tokens, row by row, for t = 0 and t > 0."""
import torch

from rlhelpers.testing import check_close, check_shape, checks_passed

_prompt = torch.tensor([[5, 6], [7, 8]])
_state = build_state(_prompt, torch.tensor([[1, 3], [2, 4]]))
check_shape(_state, (2, 4), "build_state(prompts [2, 2], generated [2, 2])")
check_close(
    _state,
    [[5, 6, 1, 3], [7, 8, 2, 4]],
    "build_state([[5, 6], [7, 8]], [[1, 3], [2, 4]])",
    hint="the prompt first, then every generated token so far, along the token dimension",
)
checks_passed("build_state")
### BEGIN HIDDEN TESTS
_empty = build_state(_prompt, torch.zeros(2, 0, dtype=torch.long))
check_close(_empty, [[5, 6], [7, 8]], "build_state with no generated token yet (t = 0)")
_gen = torch.randint(1, 40, (3, 7), generator=torch.Generator().manual_seed(2))
_p = torch.randint(1, 40, (3, 2), generator=torch.Generator().manual_seed(3))
_state = build_state(_p, _gen)
check_shape(_state, (3, 9), "build_state(prompts [3, 2], generated [3, 7])")
check_close(
    _state[:, 2:],
    _gen,
    "the generated part of the state (t = 7)",
    hint="every token generated so far, not only the last one",
)
check_close(_state[:, :2], _p, "the prompt part of the state")
### END HIDDEN TESTS

# %% [markdown]
# ## The per-token reward of RLHF
#
# The reward model gives one number per **answer**; PPO needs a reward per
# **token**. InstructGPT's recipe (and TRL's PPO trainer) builds it from two
# parts, for an answer of $n$ real tokens with log-probabilities
# $\log\pi(a_t \mid s_t)$ under the policy that sampled it and
# $\log\pi_\text{ref}(a_t \mid s_t)$ under the reference:
#
# $$r_t = -\beta \bigl(\log\pi(a_t \mid s_t) - \log\pi_\text{ref}(a_t \mid s_t)\bigr)
#   + [t = n - 1]\; \text{score},$$
#
# a KL penalty on every real token (lesson 06's $k_1$: its sum over the
# answer estimates the sequence's KL) and the score on the **last real
# token**, the action that completed the answer. Answers in a batch have
# different lengths, so the tensors are padded to the longest, with a `mask`
# that is 1 on real tokens and 0 on padding; padding gets reward 0. (TRL's PPO
# trainer adds the score at index `sequence_lengths + 1`, which is
# `mask.sum()` here: the **first padding token**, one step after the answer
# ended, falling back to the last token when an answer fills the whole length.
# TRL issues #1893 and #3750 discuss it; this lesson puts the score where the
# answer ended, and a hidden test checks that.)

# %% [markdown]
# ## Exercise 4: KL-penalised per-token rewards (3 points, about 20 min, medium)
#
# Write `kl_penalized_rewards(scores, log_probs, ref_log_probs, beta, mask)`:
# `scores` `[B]`; `log_probs`, `ref_log_probs` and `mask` `[B, L]` (the mask
# 1 on each response's real tokens, which come first, then 0 on padding;
# every response has at least one real token; it may be float or bool) and a
# number `beta` -> the float rewards `[B, L]` defined above.
#
# <details><summary>Hint 1: the two parts</summary>
#
# Two parts: a KL term on every token that the mask (as floats) zeroes on
# the padding, then the score, added to one entry of each row. Which entry?
#
# </details>
#
# <details><summary>Hint 2: the key idea</summary>
#
# The number of real tokens of a row minus one is the index of its last real
# token; make it an integer tensor (`mask.long()`), since a float cannot index.
# Indexing `rewards` with a tensor of row numbers (`torch.arange`) and a
# tensor of column numbers picks one entry per row.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "kl_penalized_rewards", "locked": false, "schema_version": 3, "solution": true, "task": false}
def kl_penalized_rewards(scores, log_probs, ref_log_probs, beta, mask):
    """Per-token rewards: -beta * (log pi - log pi_ref) on real tokens, + the score on the last one.

    Args:
        scores: float tensor [B], the reward model's score of each whole response.
        log_probs, ref_log_probs: float tensors [B, L], per token, under the policy and the reference.
        beta: the KL coefficient.
        mask: [B, L], 1 (or True) on real tokens (first), 0 on padding.

    Returns:
        float tensor [B, L].
    """
    ### BEGIN SOLUTION
    real = mask.to(log_probs.dtype)
    rewards = -beta * (log_probs - ref_log_probs) * real
    last = mask.long().sum(dim=1) - 1
    rewards[torch.arange(len(scores), device=rewards.device), last] += scores.to(rewards.dtype)
    return rewards
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_kl_penalized_rewards", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""kl_penalized_rewards: by hand; the score on the last real token (not the first padding one); 0 on padding."""
import torch

from rlhelpers.testing import check, check_close, check_shape, checks_passed

_mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
# the padding holds log-probs too (of whatever token fills it): they must not leak into the rewards
_lp = torch.tensor([[-1.0, -2.0, -0.5, -0.7], [-1.0, -0.3, -2.0, -0.1]])
_ref = torch.tensor([[-1.5, -1.0, -0.5, -0.2], [-3.0, -0.9, -0.4, -0.6]])
try:
    _rewards = kl_penalized_rewards(torch.tensor([2.0, -1.0]), _lp, _ref, 0.1, _mask)
except IndexError as _error:  # a float index (the sum of a float mask) cannot pick a column
    check(
        False,
        "kl_penalized_rewards with a float mask",
        expected="the rewards",
        got=f"IndexError: {_error}",
        hint="an index must be an integer tensor: mask.long().sum(dim=1) - 1",
    )
check_shape(_rewards, (2, 4), "the rewards of 2 responses padded to 4 tokens")
check_close(
    _rewards,
    [[-0.05, 0.1, 2.0, 0.0], [-1.2, 0.0, 0.0, 0.0]],
    "kl_penalized_rewards(scores [2, -1], ..., beta 0.1, responses of 3 and 1 tokens)",
    atol=1e-6,
    hint="the score goes on the LAST REAL token (index mask.sum() - 1), not on the first padding "
    "one; padding gets 0 (multiply the KL term by the mask)",
)
checks_passed("kl_penalized_rewards")
### BEGIN HIDDEN TESTS
_gen = torch.Generator().manual_seed(5)
_B, _L = 6, 7
_lengths = torch.tensor([1, 7, 3, 5, 7, 2])  # full-length responses have no padding at all
_mask = (torch.arange(_L)[None] < _lengths[:, None]).float()
_lp = -torch.rand(_B, _L, generator=_gen) * 3 * _mask
_ref = -torch.rand(_B, _L, generator=_gen) * 3 * _mask
_scores = torch.randn(_B, generator=_gen)
_expected = -0.05 * (_lp - _ref) * _mask
_expected[torch.arange(_B), _lengths - 1] += _scores
check_close(
    kl_penalized_rewards(_scores, _lp, _ref, 0.05, _mask),
    _expected,
    "rewards of 6 responses of lengths [1, 7, 3, 5, 7, 2] (two of full length), beta 0.05",
    atol=1e-6,
    hint="the score on each row's last real token; padding gets exactly 0",
)
_noisy_lp = _lp + 5.0 * (1 - _mask)  # garbage on the padding must not leak into the rewards
check_close(
    kl_penalized_rewards(_scores, _noisy_lp, _ref, 0.05, _mask.bool()),
    _expected,
    "rewards with a bool mask and non-zero log-probs on the padding",
    atol=1e-6,
    hint="multiply the KL term by the mask (as a float)",
)
check_close(
    kl_penalized_rewards(_scores, _lp, _ref, 0.0, _mask).sum(1),
    _scores,
    "the row sums of the rewards with beta = 0 (only the scores are left)",
    atol=1e-6,
)
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 5: debugging the log-probabilities of a response (3 points, about 15 min, medium)
#
# Every RLHF and DPO implementation needs the log-probability of each token
# of a response under a causal model. The model reads the whole sequence
# (prompt and response, `[B, S]`) in one pass and returns logits `[B, S, V]`,
# where **position j's logits predict the token at position j + 1**. The given
# function below is meant to return the log-probabilities `[B, S - P]` of the
# response tokens `sequences[:, P:]` (P the prompt's length). It runs, its
# output has the right shape, and it is wrong: the demo below shows the
# symptom on a model that always predicts "the next token is this one plus
# 1", fed with sequences that count upwards, so every response token is
# predicted with near certainty and its log-probability should be about 0.
#
# Copy it into the answer cell as `response_log_probs`, find the one bug and
# fix it. It matters beyond this cell: `rlhf.train_ppo`, `train_dpo` and
# `train_grpo` take every log-probability they use (the policy's, the old
# policy's, the reference's) from your `response_log_probs`.
#
# <details><summary>Hint 1: where to look</summary>
#
# Which logits score the first response token, `sequences[:, P]`? Count the
# positions on a sequence of length 4 with a prompt of 2.
#
# </details>
#
# <details><summary>Hint 2: the key idea</summary>
#
# Position $j$'s logits are the prediction of the token at $j + 1$, not of
# the token at $j$.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "buggy_response_log_probs", "locked": true, "schema_version": 3, "solution": false, "task": false}
def buggy_response_log_probs(logits, sequences, prompt_length):
    """The log-probability of each response token (WITH A PLANTED BUG).

    Args:
        logits: float tensor [B, S, V], the model's output on `sequences`.
        sequences: long tensor [B, S], the prompts (first prompt_length tokens) and responses.
        prompt_length: P >= 1.

    Returns:
        float tensor [B, S - P]: log p(sequences[:, j] | sequences[:, :j]) for j = P .. S - 1.
    """
    log_probs = torch.log_softmax(logits[:, prompt_length:], dim=-1)
    return log_probs.gather(-1, sequences[:, prompt_length:, None]).squeeze(-1)


# %%
def counting_logits(sequences, vocab_size=10):
    """A toy causal 'model': at every position it predicts 'the next token is this one + 1'."""
    return 20.0 * nn.functional.one_hot((sequences + 1) % vocab_size, vocab_size).float()


counting = torch.tensor([[1, 2, 3, 4, 5, 6], [4, 5, 6, 7, 8, 9]])
print("log-probs of the responses (given, buggy):")
print(buggy_response_log_probs(counting_logits(counting), counting, prompt_length=2))


# %% nbgrader={"grade": false, "grade_id": "response_log_probs", "locked": false, "schema_version": 3, "solution": true, "task": false}
def response_log_probs(logits, sequences, prompt_length):
    """The log-probability of each response token under the model that gave `logits`.

    Args:
        logits: float tensor [B, S, V], the model's output on `sequences`.
        sequences: long tensor [B, S], the prompts (first prompt_length tokens) and responses.
        prompt_length: P >= 1.

    Returns:
        float tensor [B, S - P]: log p(sequences[:, j] | sequences[:, :j]) for j = P .. S - 1.
    """
    ### BEGIN SOLUTION
    log_probs = torch.log_softmax(logits[:, prompt_length - 1 : -1], dim=-1)
    return log_probs.gather(-1, sequences[:, prompt_length:, None]).squeeze(-1)
    ### END SOLUTION


# %%
print("log-probs of the responses (yours):")
print(response_log_probs(counting_logits(counting), counting, prompt_length=2))

# %% nbgrader={"grade": true, "grade_id": "test_response_log_probs", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""response_log_probs: the demo's counting model; a hand-computed case; random models against a loop."""
import torch
from torch import nn

from rlhelpers.testing import check_close, check_shape, checks_passed


def _counting_logits(sequences, vocab_size=10):
    return 20.0 * nn.functional.one_hot((sequences + 1) % vocab_size, vocab_size).float()


_seq = torch.tensor([[1, 2, 3, 4, 5, 6], [4, 5, 6, 7, 8, 9]])
_got = response_log_probs(_counting_logits(_seq), _seq, 2)
check_shape(_got, (2, 4), "the log-probs of 2 responses of 4 tokens after a prompt of 2")
check_close(
    _got,
    torch.zeros(2, 4),
    "the demo's log-probs (the counting model predicts every response token)",
    atol=1e-6,
    hint="position j's logits predict the token at j + 1 (P - 1 predicts the first response token): which positions' logits score the response?",
)
checks_passed("response_log_probs")
### BEGIN HIDDEN TESTS
_logits = torch.log(torch.tensor([[[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]]]))
check_close(
    response_log_probs(_logits, torch.tensor([[0, 1, 2]]), 1),
    torch.log(torch.tensor([[0.25, 0.1]])),
    "the log-probs of the response [1, 2] after the prompt [0] (by hand)",
    atol=1e-6,
)
_gen = torch.Generator().manual_seed(9)
for _p in (1, 3):
    _seq = torch.randint(0, 7, (4, 8), generator=_gen)
    _logits = torch.randn(4, 8, 7, generator=_gen)
    _expected = torch.stack(
        [
            torch.log_softmax(_logits[:, j - 1], -1)[torch.arange(4), _seq[:, j]]
            for j in range(_p, 8)
        ],
        1,
    )
    check_close(
        response_log_probs(_logits, _seq, _p),
        _expected,
        f"the log-probs of random responses after a prompt of {_p} token(s)",
        atol=1e-5,
    )
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 6: your functions from lessons 05 and 06 (1 + 1 points, about 10 min, easy)
#
# The loops below also need four functions you wrote before: lesson 06's
# clipped objective `ppo_clip_loss`, lesson 05's `gae` (PPO's loop),
# lesson 06's `dpo_loss` and `group_relative_advantages` (DPO's and GRPO's).
# Paste yours into the two cells below, with the contracts of their lessons
# (repeated in the docstrings). If one of them lost points in its own lesson,
# fix it now: the visible checks under each cell are small cases worked out by
# hand, and the hidden ones compare your functions with the formulas on
# random inputs. The demos below train with whatever these names hold, and no
# later grade cell calls them, so a mistake here costs its point once.
#
# <details><summary>Hint 1</summary>
#
# Each function is a few lines, and each of its lesson's hints still applies.
# Run the checks one function at a time: paste one, run the test cell, read
# which case fails.
# </details>
#
# <details><summary>Hint 2</summary>
#
# The checks are built to catch the usual slips: PPO with only the clipped
# term (a positive advantage with a ratio below the range, or a negative one
# with a ratio above it, tells them apart),
# GAE whose recursion carries on through the end of an episode, DPO without
# $\beta$ or with `log(sigmoid(.))` (which is $-\infty$ in float32 for a
# margin of -200), and groups taken with `reshape(group_size, -1)`, which
# interleaves them: the rewards of one prompt are consecutive.
# </details>


# %% nbgrader={"grade": false, "grade_id": "ppo_functions", "locked": false, "schema_version": 3, "solution": true, "task": false}
def ppo_clip_loss(new_log_probs, old_log_probs, advantages, clip_eps=0.2):
    """Lesson 06: PPO's clipped surrogate loss, -mean(min(r A, clip(r, 1 - eps, 1 + eps) A)).

    Args: float tensors [N] (new_log_probs with gradient); clip_eps the clipping range.
    Returns: a scalar tensor, the loss to minimise.
    """
    ### BEGIN SOLUTION
    ratio = torch.exp(new_log_probs - old_log_probs)
    clipped = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    return -torch.min(ratio * advantages, clipped * advantages).mean()
    ### END SOLUTION


def gae(rewards, values, dones, gamma, lam, last_value):
    """Lesson 05: A_t = delta_t + gamma * lam * (1 - d_t) * A_{t+1}, time first.

    Args: rewards, values, dones: arrays [T] or [T, num_envs] (dones[t] = 1: the episode
    ended with step t); last_value: V(S_T), a number or an array [num_envs].
    Returns: float array of rewards' shape, the advantages.
    """
    ### BEGIN SOLUTION
    rewards = np.asarray(rewards, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    not_done = 1.0 - np.asarray(dones, dtype=np.float64)
    last_value = np.asarray(last_value, dtype=np.float64)
    next_values = np.concatenate([values[1:], last_value[None]])
    deltas = rewards + gamma * next_values * not_done - values
    advantages = np.zeros_like(rewards)
    running = np.zeros(rewards.shape[1:])
    for t in reversed(range(rewards.shape[0])):
        running = deltas[t] + gamma * lam * not_done[t] * running
        advantages[t] = running
    return advantages
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_ppo_functions", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""ppo_clip_loss and gae: cases worked out by hand; random inputs against the formulas."""
import numpy as np
import torch

from rlhelpers.testing import check, check_close, check_shape, checks_passed

# ratios 1.5 and 0.5 (old log-probs 0)
_new = torch.log(torch.tensor([1.5, 0.5]))
_loss = ppo_clip_loss(_new, torch.zeros(2), torch.tensor([1.0, -1.0]))
check_shape(_loss, (), "ppo_clip_loss (one number: the mean over the samples)")
check_close(
    _loss,
    -0.2,
    "ppo_clip_loss at ratios [1.5, 0.5] with advantages [+1, -1]",
    atol=1e-6,
    hint="both samples are past the clip range on the side where it binds: "
    "min(1.5 * 1, 1.2 * 1) = 1.2 and min(0.5 * -1, 0.8 * -1) = -0.8",
)
check_close(
    ppo_clip_loss(_new, torch.zeros(2), torch.tensor([-1.0, 1.0])),
    0.5,
    "ppo_clip_loss at ratios [1.5, 0.5] with advantages [-1, +1]",
    atol=1e-6,
    hint="here the unclipped term is the smaller one: min(-1.5, -1.2) = -1.5 and "
    "min(0.5, 0.8) = 0.5; a loss of the clipped term alone gives 0.2",
)
# one episode that ends at step 1, then a new one cut after step 2 (bootstrapped from 2.0)
_adv = gae([1.0, 1.0, 1.0], [0.5, 0.5, 0.5], [0, 1, 0], 0.9, 0.5, 2.0)
check_shape(_adv, (3,), "gae of 3 steps")
check_close(
    _adv,
    [1.175, 0.5, 2.3],
    "gae(rewards [1, 1, 1], values [0.5, 0.5, 0.5], dones [0, 1, 0], gamma 0.9, lam 0.5, "
    "last_value 2.0)",
    atol=1e-6,
    hint="deltas: 1 + 0.9 * 0.5 - 0.5 = 0.95; 1 - 0.5 = 0.5 (step 1 ends its episode: "
    "no bootstrap); 1 + 0.9 * 2.0 - 0.5 = 2.3. Then A_t = delta_t + 0.45 * (1 - d_t) * A_(t+1)",
)
checks_passed("ppo_clip_loss and gae")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(70)
_new = torch.tensor(_rng.normal(0, 0.3, 64))
_old = torch.tensor(_rng.normal(0, 0.3, 64))
_a = torch.tensor(_rng.normal(size=64))
_r = np.exp(_new.numpy() - _old.numpy())
_expected = -np.minimum(_r * _a.numpy(), np.clip(_r, 0.9, 1.1) * _a.numpy()).mean()
check_close(
    ppo_clip_loss(_new, _old, _a, 0.1),
    _expected,
    "ppo_clip_loss on 64 random samples, clip_eps 0.1",
    atol=1e-8,
    hint="the ratio is exp(new - old); clip it to [1 - clip_eps, 1 + clip_eps]",
)
_param = torch.log(torch.tensor([1.5, 1.1])).requires_grad_(True)
_out = ppo_clip_loss(_param, torch.zeros(2), torch.tensor([1.0, 1.0]))
check(
    getattr(_out, "requires_grad", False),
    "the gradient of ppo_clip_loss w.r.t. new_log_probs",
    expected="a torch loss connected to new_log_probs",
    got="a loss without gradient",
    hint="no .detach(), .item() or numpy on the way",
)
_out.backward()
check_close(
    _param.grad,
    [0.0, -0.55],
    "d loss / d new_log_probs at ratios [1.5, 1.1], A = +1 (the first clipped)",
    atol=1e-6,
    hint="a clipped sample sends no gradient; inside the range d(-r A / 2)/d log r = -r A / 2",
)
_T, _N = 7, 3
_rew, _val = _rng.normal(size=(_T, _N)), _rng.normal(size=(_T, _N))
_done = _rng.random((_T, _N)) < 0.3
_last = _rng.normal(size=_N)
_expected = np.zeros((_T, _N))
_next_adv, _next_val = np.zeros(_N), _last
for _t in reversed(range(_T)):
    _delta = _rew[_t] + 0.97 * _next_val * (1 - _done[_t]) - _val[_t]
    _next_adv = _delta + 0.97 * 0.8 * (1 - _done[_t]) * _next_adv
    _expected[_t], _next_val = _next_adv, _val[_t]
check_close(
    gae(_rew, _val, _done, 0.97, 0.8, _last),
    _expected,
    "gae on 3 random environments of 7 steps (boolean dones), gamma 0.97, lam 0.8",
    atol=1e-8,
    hint="time first: step t of every environment at once; 1 - dones must be a float "
    "(dones may be booleans)",
)
### END HIDDEN TESTS


# %% nbgrader={"grade": false, "grade_id": "preference_functions", "locked": false, "schema_version": 3, "solution": true, "task": false}
def dpo_loss(
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta
):
    """Lesson 06: -mean(log sigmoid(beta * (chosen log-ratio - rejected log-ratio))).

    Args: four float tensors [B] of summed log-probabilities, log pi(y | x); beta > 0.
    Returns: a scalar tensor.
    """
    ### BEGIN SOLUTION
    chosen = policy_chosen_logps - ref_chosen_logps
    rejected = policy_rejected_logps - ref_rejected_logps
    return -nn.functional.logsigmoid(beta * (chosen - rejected)).mean()
    ### END SOLUTION


def group_relative_advantages(rewards, group_size):
    """Lesson 06: (reward - group mean) / (group std + 1e-4), over consecutive groups.

    Args: rewards, a float tensor [B] (B a multiple of group_size); group_size: answers a prompt.
    Returns: a float tensor [B]. The std is torch's default (the sample std).
    """
    ### BEGIN SOLUTION
    groups = rewards.reshape(-1, group_size)
    centred = groups - groups.mean(dim=1, keepdim=True)
    return (centred / (groups.std(dim=1, keepdim=True) + 1e-4)).reshape(-1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_preference_functions", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""dpo_loss and group_relative_advantages: cases worked out by hand; random inputs against the formulas."""
import numpy as np
import torch

from rlhelpers.testing import check_close, check_shape, checks_passed

_loss = dpo_loss(
    torch.tensor([-1.0, 0.0]),
    torch.tensor([-4.0, 0.0]),
    torch.tensor([-2.0, 0.0]),
    torch.tensor([-3.0, 0.0]),
    0.5,
)
check_shape(_loss, (), "dpo_loss (one number: the mean over the pairs)")
check_close(
    _loss,
    (np.log1p(np.exp(-1.0)) + np.log(2)) / 2,
    "dpo_loss of two pairs, beta 0.5: log-ratios +1 (chosen) and -1 (rejected), then all 0",
    atol=1e-6,
    hint="pair 1: the margin is 0.5 * (1 - (-1)) = 1, loss log(1 + e^-1) = 0.313; "
    "pair 2: log 2 = 0.693; the loss is their mean",
)
check_close(
    dpo_loss(
        torch.tensor([-2000.0]), torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([0.0]), 0.1
    ),
    200.0,
    "dpo_loss for a margin of -200 (float32)",
    atol=1e-3,
    hint="torch.nn.functional.logsigmoid stays finite where log(sigmoid(-200)) is -inf",
)
_adv = group_relative_advantages(torch.tensor([1.0, 2.0, 3.0, 5.0, 5.0, 5.0]), 3)
check_shape(_adv, (6,), "the advantages of 6 rewards in groups of 3")
check_close(
    _adv,
    [-1 / (1 + 1e-4), 0.0, 1 / (1 + 1e-4), 0.0, 0.0, 0.0],
    "group_relative_advantages([1, 2, 3, 5, 5, 5], group_size=3)",
    atol=1e-5,
    hint="consecutive groups [1, 2, 3] (mean 2, sample std 1) and [5, 5, 5] (std 0: "
    "the 1e-4 keeps it finite); rewards.reshape(-1, group_size) has one group per row",
)
checks_passed("dpo_loss and group_relative_advantages")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(71)
_x = [torch.tensor(_rng.normal(-20, 5, 40)) for _ in range(4)]
_z = 0.2 * ((_x[0] - _x[2]) - (_x[1] - _x[3])).numpy()
check_close(
    dpo_loss(*_x, 0.2),
    np.logaddexp(0.0, -_z).mean(),
    "dpo_loss on 40 random pairs, beta 0.2",
    atol=1e-8,
    hint="the reference's log-probs are subtracted from the policy's, then beta times the "
    "chosen minus the rejected log-ratio",
)
_r = _rng.normal(size=(4, 5))
_expected = (_r - _r.mean(1, keepdims=True)) / (_r.std(1, ddof=1, keepdims=True) + 1e-4)
check_close(
    group_relative_advantages(torch.tensor(_r.reshape(-1)), 5),
    _expected.reshape(-1),
    "the advantages of 4 random groups of 5",
    atol=1e-6,
    hint="consecutive groups, torch's default std (the sample std, ddof 1)",
)
### END HIDDEN TESTS


# %% [markdown]
# ## PPO against the reward model (about 10 min)
#
# `rlhf.train_ppo(reward_model, config, build_state=..., kl_penalized_rewards=..., response_log_probs=..., ppo_clip_loss=..., gae=...)`
# runs the InstructGPT loop. Each of its iterations
# 1. samples an answer to each of 64 prompts, the transformer reading your
#    `build_state` before every token;
# 2. computes the policy's and the frozen reference's log-probabilities of
#    every answer token (your `response_log_probs`) and the critic's values
#    (a second transformer with a scalar head, on the SFT trunk);
# 3. scores each answer once with **your** reward model and turns scores and
#    log-probabilities into per-token rewards (your `kl_penalized_rewards`);
# 4. estimates advantages with GAE ($\gamma = 1$, $\lambda = 0.95$, one
#    episode per answer) and takes 4 epochs of `ppo_clip_loss` plus the
#    critic's squared error on the whole batch.
#
# After training, `rlhf.evaluate` measures the policy on 256 fresh prompts:
# the reward model's mean score, the **true utility** (which no model ever
# trained on), the KL to the reference (exact per token, summed over the
# answer, in nats) and the **win rate** against the reference's own answers to
# the same prompts under the true utility (ties count half).

# %%
RLHF_FUNCTIONS = {
    "build_state": build_state,
    "kl_penalized_rewards": kl_penalized_rewards,
    "response_log_probs": response_log_probs,
    "ppo_clip_loss": ppo_clip_loss,
    "gae": gae,
}
reference_eval = rlhf.evaluate(policy, reward_model)
ppo_run = rlhf.train_ppo(reward_model, rlhf.PPOConfig(beta=0.1), progress=True, **RLHF_FUNCTIONS)


def describe(name, evaluation):
    """One line of an evaluation: score, true utility, KL, win rate, diversity."""
    return (
        f"{name:<10} reward-model score {evaluation.score:5.2f}  true utility {evaluation.true_utility:5.2f}  "
        f"KL {evaluation.kl:5.2f} nats  win rate {evaluation.win_rate:4.0%}  distinct {evaluation.distinct:4.0%}"
    )


print(describe("reference", reference_eval))
print(describe("PPO", ppo_run.final))
print(*ppo_run.final.examples, sep="\n  ")

# %% [markdown]
# The run, iteration by iteration: the reward-model score of each batch, its
# true utility and its KL to the reference.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
iterations = range(1, len(ppo_run.history) + 1)
axes[0].plot(iterations, [h["score"] for h in ppo_run.history], label="reward-model score")
axes[0].plot(iterations, [h["true_utility"] for h in ppo_run.history], label="true utility")
axes[0].set(
    xlabel="PPO iteration (64 answers each)",
    ylabel="batch mean",
    title="what PPO optimises, and what is true",
)
axes[0].legend(fontsize=8)
axes[1].plot(iterations, [h["kl"] for h in ppo_run.history])
axes[1].set(
    xlabel="PPO iteration (64 answers each)",
    ylabel="KL to the reference (nats)",
    title="distance to the reference",
)
plt.tight_layout()
plt.show()

# %% [markdown]
# ### The implementation details the loop uses
#
# Huang, Liu and von Werra (2023), "The N implementation details of RLHF with PPO",
# list what OpenAI's original RLHF code did beyond the textbook algorithm.
# `train_ppo` uses these (each is marked `# Detail:` in `rlhelpers/rlhf.py`,
# and `rlhf.PPOConfig` switches most of them):
# - **advantage whitening**: the advantages are made mean 0 and std 1 over the
#   batch's real tokens (`whiten_advantages`);
# - **the EOS trick** (TRL's version: OpenAI's original code replaced such an
#   answer's score by -1; TRL subtracts a penalty, off by default): an answer
#   cut at the length limit without `<end>` gets
#   a fixed penalty on its score (`missing_eos_penalty`, TRL's option of the
#   same name). The reward model, trained on finished answers, cannot be
#   trusted to know that an unfinished one is bad;
# - **logits divided by the sampling temperature**, in sampling and in every
#   log-probability of the update (`temperature`), so that the ratio of PPO
#   compares the same distributions that sampled;
# - **the critic starts from the SFT trunk with its value head initialised to
#   zero** (Huang et al. also start the reward model's head with a standard
#   deviation of $1/\sqrt{\text{width} + 1}$; the `with_scalar_head` of
#   Exercise 2 keeps PyTorch's default initialisation);
# - **reward normalisation**: the reward model's scores of the reference's
#   answers are made mean 0 and std 1 once, before training
#   (`normalize_reward`), so that $\beta$ means the same whatever the reward
#   model's arbitrary scale (Exercise 1);
# - **an adaptive KL coefficient** (Ziegler et al., 2019): $\beta$ grows when
#   the KL is above a target and shrinks below it (`target_kl`; off by
#   default here).
#
# **A truncated answer is terminal here.** Lesson 04 bootstraps an episode
# cut by a time limit from $V(s)$, because the task would have gone on. An
# answer cut at the length limit is different: it is what the user receives,
# nothing comes after it whose value $V$ could estimate, so its last token is
# terminal and the reward model judges it as it stands (with the EOS
# trick's penalty).
#
# Here are the lines of `rlhelpers/rlhf.py` that carry them:

# %%
import inspect

for number, line in enumerate(inspect.getsource(rlhf).splitlines(), start=1):
    if "Detail" in line and "``" not in line:
        print(f"rlhf.py:{number:<4} {line.strip()}")

# %% [markdown]
# ## DPO and GRPO on the same task (about 10 min)
#
# **DPO** (Rafailov et al., 2023; lesson 06's loss, now trained) learns from the same 1,500
# preference pairs that trained the reward model, with no reward model and no
# sampling: `rlhf.train_dpo(train_pairs, rlhf.DPOConfig(beta=...), dpo_loss=..., response_log_probs=...)`
# takes steps on random batches of pairs, the reference being the SFT policy.
# (The reward model is passed only so that the evaluation can report its
# score.)
#
# **GRPO** (DeepSeekMath, Shao et al. 2024) samples a **group** of 4 answers
# to each of 16 prompts, scores them with the reward model, and gives every
# token of an answer that answer's group-relative advantage (lesson 06's
# function): no critic, no GAE. Its KL to the reference is a $k_3$ term in the
# **loss** (coefficient 0.2) rather than in the reward, as in the GRPO paper
# (TRL's `GRPOTrainer` now sets that coefficient to 0 by default).

# %%
dpo_run = rlhf.train_dpo(
    train_pairs,
    rlhf.DPOConfig(beta=0.3),
    dpo_loss=dpo_loss,
    response_log_probs=response_log_probs,
    reward_model=reward_model,
    progress=True,
)
grpo_run = rlhf.train_grpo(
    reward_model,
    rlhf.GRPOConfig(kl_coef=0.2),
    group_relative_advantages=group_relative_advantages,
    ppo_clip_loss=ppo_clip_loss,
    response_log_probs=response_log_probs,
    progress=True,
)
for name, run in (("PPO", ppo_run), ("DPO", dpo_run), ("GRPO", grpo_run)):
    print(describe(name, run.final))

# %% [markdown]
# ## Over-optimisation, measured (about 10 min)
#
# The reward model is a proxy: fitted to biased labellers on 1,500 pairs, it
# likes `very` and length, which the true utility does not pay for. Gao et
# al. (2022) measured what happens when a policy optimises such a proxy
# harder and harder, with the KL to the reference as the measure of "how
# hard": the proxy's score keeps rising, while the true quality (there, a
# much larger "gold" reward model) rises at first, then falls. Below, PPO
# with four KL coefficients $\beta$ on the same seed (the run above is the
# $\beta = 0.1$ one), and DPO with three values of its $\beta$ (the run
# above is the 0.3 one): each run's final reward-model score and true
# utility against its final KL to the reference. Gao et al. measured the
# same for best-of-$n$ sampling and RL; DPO's $\beta$ plays the role of the KL
# coefficient, since DPO optimises the same KL-penalised objective. Nothing
# is planted: the proxy's flaws come from the labellers' bias and the finite
# data.

# %%
SWEEP_BETAS = (0.0, 0.3, 1.0)
DPO_SWEEP_BETAS = (0.1, 1.0)
sweep_runs = dict(
    zip(
        SWEEP_BETAS,
        rlhf.kl_sweep(reward_model, SWEEP_BETAS, rlhf.PPOConfig(), progress=True, **RLHF_FUNCTIONS),
        strict=True,
    )
)
sweep_runs[0.1] = ppo_run
sweep_runs = dict(sorted(sweep_runs.items(), reverse=True))  # from the largest beta (smallest KL)
dpo_sweep_runs = dict(
    zip(
        DPO_SWEEP_BETAS,
        rlhf.dpo_sweep(
            train_pairs,
            DPO_SWEEP_BETAS,
            reward_model=reward_model,
            progress=True,
            dpo_loss=dpo_loss,
            response_log_probs=response_log_probs,
        ),
        strict=True,
    )
)
dpo_sweep_runs[0.3] = dpo_run
dpo_sweep_runs = dict(sorted(dpo_sweep_runs.items(), reverse=True))


def plot_series(ax, runs, read, label, style):
    """One method's runs as a line from the reference (KL 0), each point labelled by its beta."""
    finals = [reference_eval] + [run.final for run in runs.values()]
    ax.plot([e.kl for e in finals], [read(e) for e in finals], style, label=label)
    for beta, run in runs.items():
        ax.annotate(
            f"{beta}",
            (run.final.kl, read(run.final)),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )


fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharex=True)
for ax, (what, read) in zip(
    axes,
    (
        ("reward-model score (the proxy)", lambda e: e.score),
        ("true utility (hidden)", lambda e: e.true_utility),
    ),
    strict=True,
):
    plot_series(ax, sweep_runs, read, "PPO (KL coefficient beta)", "o-")
    plot_series(ax, dpo_sweep_runs, read, "DPO (beta)", "s--")
    ax.set(xlabel="KL to the reference (nats per answer; 0: the reference)", ylabel=what)
axes[0].legend(fontsize=8)
plt.tight_layout()
plt.show()
for beta, run in sweep_runs.items():
    print(describe(f"PPO {beta}", run.final), "e.g.", repr(run.final.examples[0]))
for beta, run in dpo_sweep_runs.items():
    print(describe(f"DPO {beta}", run.final))

# %% [markdown]
# Read the two panels together, and the answers printed under them.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_over_optimisation", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# ### Written answer (2 points, graded by hand)
#
# Describe what the policy learned at $\beta = 0$ (its answers, and where it
# lies on the two panels), and explain, with the per-token reward of
# Exercise 4, why a larger $\beta$ prevents it. What does a too large $\beta$
# cost? Why is a high reward-model score alone no evidence that the model got
# better, and what did this lesson measure instead?
#
# ### BEGIN SOLUTION
# At beta = 0 the only reward is the reward model's score, and the policy
# pushed it up with what the labellers over-paid: "very", repeated ("this
# tree is very very old"). Its reward-model score is about the
# highest of the sweep, its KL to the reference the largest, its answers the
# least diverse, and its true utility below that of the runs with beta > 0:
# each repeated "very" costs 0.5 in truth and pays in the reward model.
# The per-token reward -beta * (log pi - log pi_ref) charges every token the
# policy makes more likely than the reference did; summed over an answer it is
# beta times the answer's log-ratio, whose mean is the sequence KL. Exploiting
# the proxy needs many tokens the reference would rarely write, so its price
# grows with beta until it no longer pays, while honest improvements (naming
# the subject, a true adjective) are cheap because the reference already
# writes such text. A too large beta keeps the policy at the reference: the
# score and the true utility barely move. The reward model is a proxy fitted
# to biased, noisy labellers on finite data; pushed hard, a policy finds where
# it is wrong (Goodhart's law), so a rising score must be checked against
# something it was not trained on: here the true utility and the win rate
# against the reference, and the KL and the diversity (in practice, fresh
# human judgements, as in the case study below).
# ### END SOLUTION

# %% [markdown]
# ## After the written answer: over-optimisation is gradual
#
# Read the two panels together. The PPO runs' reward-model score is highest
# at the smallest $\beta$, and the answers there are full of `very`: the policy has
# found what the proxy over-pays. The true utility does not follow it all the
# way: it rises from the reference's as the policy moves away from it, and
# it is lowest of the four PPO runs where the KL is largest. That is Gao et
# al.'s shape, here at the scale of a CPU: past some KL, more optimisation of
# the proxy buys less true quality, or loses what the peak had (at
# $\beta = 0$ the true utility is still about the reference's, far below the
# best run's). The best PPO run of this sweep is the most penalised one, at
# the smallest KL; the peak lies somewhere between 0 and 1.2 nats. DPO's series
# has the same rise and fall at larger KLs, and one difference: its
# reward-model score rises above the reference's at the first beta, then
# stops following the KL (it stays between about 0 and 0.3, however far the
# policy moves), because DPO never sees the reward model. It is fitted to
# the labellers' pairs themselves, biases and noise included, and with a
# small $\beta$ it moves far from the reference to separate them, until its
# true utility falls below the reference's.
# A reward model with one planted flaw (say, a bonus for every
# `very`) should be hacked abruptly, once the policy finds the flaw (the
# course's earlier toy measured that: at $\beta = 0$ its proxy score rose from
# about 1 to 4.6 while an honest judge's fell to about -4); a reward model
# learned from biased, noisy, finite data is wrong in many small ways, and
# the damage is gradual.

# %% [markdown]
# ## Case study: a reward that would not rise (about 15 min)
#
# The story is illustrative (a composite of a common kind of bug, with no
# published source): a legal-tech team tuned a model with PPO against a
# reward model trained on their lawyers' preferences, and for two weeks the
# reward-model score did not move. The bug was in the set-up of the RL problem, not in PPO: their
# environment wrapper gave the policy **the prompt alone as the state** of
# every step, and they had set **$\gamma = 0$** ("each token is its own
# decision"). Fixed (state = prompt + tokens so far, $\gamma = 0.99$, the KL
# penalty kept), the score rose by 34 % over 3,000 steps and human raters
# preferred the tuned model's answers 71 % of the time. (These two figures
# are the story's, illustrative; nothing here measured them. A percentage of
# a reward-model score means little anyway: its offset is arbitrary,
# Exercise 1.)
#
# The story names two causes at once. Below they are tested separately: the 2 x 2 of
# the state (`rlhf.prompt_only_state`, the team's `lambda prompt, generated:
# prompt`, or your `build_state`) and $\gamma$ (0 or 0.99), the four runs on
# the same seed, with the same KL penalty and budget, with your functions
# (`rlhf.case_study`). With the prompt as the whole state, the reference and
# the policy read the same two tokens before every token they write.

# %%
case_runs = rlhf.case_study(reward_model, rlhf.PPOConfig(beta=0.1), progress=True, **RLHF_FUNCTIONS)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for (state, gamma), run in case_runs.items():
    label = f"{state}, gamma {gamma}"
    axes[0].plot([h["score"] for h in run.history], label=label)
    axes[1].plot([h["true_utility"] for h in run.history], label=label)
axes[0].set(xlabel="PPO iteration (64 answers each)", ylabel="reward-model score (batch mean)")
axes[1].set(xlabel="PPO iteration (64 answers each)", ylabel="true utility (batch mean)")
axes[0].legend(fontsize=7)
plt.tight_layout()
plt.show()
print(
    f"{'state':<12} {'gamma':>5}  {'score: first -> final':>22}  {'true utility':>12}  {'KL':>5}  unfinished"
)
for (state, gamma), run in case_runs.items():
    print(
        f"{state:<12} {gamma:>5}  {run.history[0]['score']:>10.2f} -> {run.final.score:>8.2f}  "
        f"{run.final.true_utility:>12.2f}  {run.final.kl:>5.2f}  {run.final.unfinished:>9.0%}"
    )
print(
    "reference (full state):",
    f"score {reference_eval.score:.2f}, true utility {reference_eval.true_utility:.2f}",
)

# %% [markdown]
# Your table comes from your own functions. Here is the same table from the
# reference solutions of Exercises 2-5 (measured here, seed 0, CPU); if your
# functions pass their tests, yours matches it or comes close. The quiz below
# is about **this** table, so that a bug in an earlier exercise is not
# charged twice.
#
# | state | gamma | score: first batch -> final | true utility | KL (nats) | unfinished |
# |---|---|---|---|---|---|
# | prompt only | 0 | -0.95 -> 0.01 | -6.56 | 3.88 | 100 % |
# | prompt only | 0.99 | -0.95 -> 0.26 | -6.62 | 5.03 | 100 % |
# | full | 0 | -0.96 -> -0.28 | -0.13 | 8.71 | 21 % |
# | full | 0.99 | -0.96 -> 0.85 | 1.04 | 3.24 | 0 % |
#
# The reference (full state): score -0.90, true utility 0.61.

# %% [markdown]
# ## Exercise 7: reading the case study (2 points, about 10 min, easy)
#
# Answer from the reference table above (and, for question 3, the
# per-token reward of Exercise 4). Set each variable to your answer. Each
# question is worth half a point; once the quiz is graded, the feedback
# explains every question you got right.
#
# 1. `answer_q1`: the two prompt-only runs end with a higher reward-model
#    score than they started with. Their final true utility, compared with
#    the reference's, is (a) higher; (b) about the same; (c) far lower. A
#    letter.
# 2. `answer_q2`: with the full state and $\gamma = 0$, the final true utility,
#    compared with the reference's, (a) rose about as much as with
#    $\gamma = 0.99$; (b) stayed about the same; (c) fell. A letter.
# 3. `answer_q3`: with $\gamma = 0$, the advantage (GAE's, before the
#    whitening) of a token that is not its answer's last is computed from
#    (a) its own KL penalty and the critic's values, the score never reaching it; (b) the score, discounted once per
#    token; (c) the score, undiscounted. A letter.
# 4. `answer_q4`: how many of the four runs end with a true utility above
#    the reference's? An integer.
#
# <details><summary>Hint: how to check your answers</summary>
#
# Questions 1, 2 and 4: the columns "score", "true utility" and "unfinished"
# of the table, and the reference's line under it. Question 3: write GAE's
# $\delta_t$ with $\gamma = 0$: what is left of the next state's value?
#
# </details>

# %% nbgrader={"grade": false, "grade_id": "quiz", "locked": false, "schema_version": 3, "solution": true, "task": false}
# Replace None by your answers, then delete the `raise NotImplementedError()` line.
answer_q1 = None  # a letter: "a", "b" or "c"
answer_q2 = None  # a letter: "a", "b" or "c"
answer_q3 = None  # a letter: "a", "b" or "c"
answer_q4 = None  # an integer
### BEGIN SOLUTION
answer_q1 = "c"
answer_q2 = "c"
answer_q3 = "a"
answer_q4 = 1
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_quiz", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""quiz: the answers have the right form (visible); each right answer scores half a point (hidden)."""
from rlhelpers.testing import Quiz, checks_passed

_quiz = Quiz(points=2)
_quiz.answered("answer_q1", answer_q1, choices="abc")
_quiz.answered("answer_q2", answer_q2, choices="abc")
_quiz.answered("answer_q3", answer_q3, choices="abc")
_quiz.answered("answer_q4", answer_q4, number=True)
checks_passed("quiz")
### BEGIN HIDDEN TESTS
_quiz.question(
    "answer_q1",
    answer_q1,
    "c",
    explanation="with the prompt as the whole state the transformer reads the same two tokens before "
    "every token it writes, so it samples every position from one distribution: it cannot write a "
    "sentence or decide to end, and every answer is word salad cut at the length limit. PPO still "
    "shifts that one bag of words towards the words the reward model likes, so the score rises: a "
    "rising reward-model score is no proof of a better model.",
)
_quiz.question(
    "answer_q2",
    answer_q2,
    "c",
    explanation="with gamma 0 the score reaches only the last token of each answer (the <end> or the "
    "word that was cut): every earlier token is pushed only by its KL penalty, so nothing rewards a good "
    "beginning, and the only lever on the score is how and when the answer ends. The policy drifts from "
    "the reference without being led anywhere better, and the true utility falls.",
)
_quiz.question(
    "answer_q3",
    answer_q3,
    "a",
    explanation="delta_t = r_t + gamma V(s_t+1) - V(s_t) and the GAE sum is discounted by gamma * lambda: "
    "with gamma 0, A_t = r_t - V(s_t), and r_t of a token before the last is its KL penalty alone.",
)
_quiz.question(
    "answer_q4",
    answer_q4,
    1,
    explanation="only the fixed run (full state, gamma 0.99) beats the reference in true utility: each "
    "fix alone is not enough, which is why the story needed both.",
)
### END HIDDEN TESTS
_quiz.score()

# %% [markdown]
# What each cause does, separately. **The prompt-only state** breaks the
# policy itself: a transformer that reads the same two tokens before every
# token writes every position from one distribution, so its answers are word
# salad that never ends, whatever $\gamma$. Every position shares that one
# distribution, so PPO can still move it towards the words the reward model
# likes, and the score *rises* while nothing gets better. **$\gamma = 0$**
# breaks the credit assignment: the score reaches
# only the last token, every other token learns only from its KL penalty, and
# the policy drifts without learning to write a better answer. Only the fix
# of both, with the KL penalty kept, raises the true utility. The bug is not
# in PPO: the same loop with the same functions learns as soon as the state
# and the discount are right. Note what no run here shows: the story's flat
# score. Each broken set-up raises the proxy a little while its true utility
# falls, which is the more dangerous failure, since the score looks like
# progress. (TRL discounts with $\gamma = 1$: an answer is
# short and its score is all that counts, so nothing needs discounting; what
# the story broke was $\gamma = 0$, not $\gamma < 1$.)

# %% [markdown]
# ## The comparison a practitioner wants (about 5 min)
#
# PPO, DPO and GRPO, each as run above, against the reference, on the same
# 256 evaluation prompts: the win rate against the reference's own answers
# under the true utility (ties count half; the reference against itself is
# about 50 %), the true utility, the KL to the reference, the seconds of the
# training loop on this machine, and how many answers the reward model scored
# during training (DPO needs none: it learns from the pairs directly).

# %%
comparison = {"reference": (reference_eval, None), "PPO": (ppo_run.final, ppo_run)}
comparison |= {"DPO": (dpo_run.final, dpo_run), "GRPO": (grpo_run.final, grpo_run)}
print(
    f"{'':<10} {'win rate':>8} {'true utility':>12} {'KL (nats)':>9} {'wall s':>7} {'RM calls':>8}"
)
for name, (evaluation, run) in comparison.items():
    seconds = f"{run.wall_seconds:7.1f}" if run else f"{'-':>7}"
    calls = f"{run.reward_model_calls:8d}" if run else f"{'-':>8}"
    print(
        f"{name:<10} {evaluation.win_rate:8.0%} {evaluation.true_utility:12.2f} "
        f"{evaluation.kl:9.2f} {seconds} {calls}"
    )

# %% [markdown]
# One seed, and 256 evaluation prompts: each win rate carries about $\pm 3$
# points of sampling noise ($\sqrt{0.25 / 256}$), so differences of a few
# points are not rankings. Read the true-utility and KL columns too: a method
# can win less often against the reference and still have the higher mean
# true utility.

# %% [markdown]
# ## Your functions in TRL's trainers (about 10 min of reading)
#
# TRL (Hugging Face's library for RLHF) has one trainer per stage of this
# lesson. Their code is longer (batching over GPUs, padding on either side,
# logging), but the lines that do the work are the ones you wrote or used.
# (Quoted from TRL's source as of mid-2026, where `PPOTrainer` lives in
# `trl.experimental.ppo` since version 0.26; names change from time to time.)
#
# | TRL | what the line does | in this lesson |
# |---|---|---|
# | `RewardTrainer`: the model is `AutoModelForSequenceClassification` with `num_labels=1`, read on the last non-padding token | a scalar head on the SFT trunk | `tinylm.with_scalar_head`, `reward_model.score` |
# | `RewardTrainer.compute_loss`: `loss = -nn.functional.logsigmoid(rewards_chosen - rewards_rejected).mean()` | the Bradley-Terry loss | your `bradley_terry_loss` (Exercise 1), trained by your `train_reward_model` (Exercise 2) |
# | `PPOTrainer`: `logits = output.logits[:, context_length - 1 : -1]`, `logits /= args.temperature + 1e-7`, then the log-softmax gathered at the response tokens | the log-probabilities of the response, at the sampling temperature | your `response_log_probs` (Exercise 5); the temperature detail |
# | `PPOTrainer`: `logr = ref_logprobs - logprobs`; `kl = -logr` ($k_1$; `kl_estimator="k3"` gives $k_3$ in the reward); `non_score_reward = -args.kl_coef * kl`; the score added at one index per row | the per-token reward | your `kl_penalized_rewards` (Exercise 4; TRL's index is the first padding token, see its hidden test) |
# | `PPOTrainer`: `scores[~contain_eos_token] -= args.missing_eos_penalty` | the EOS trick | `PPOConfig.missing_eos_penalty` |
# | `PPOTrainer`: the GAE loop with `args.gamma` (default 1) and `args.lam` (0.95), then `advantages = masked_whiten(advantages, ~padding_mask)` | advantages per token, whitened | your `gae` (Exercise 6); `PPOConfig.whiten_advantages` |
# | `PPOTrainer`: `pg_losses = -mb_advantage * ratio`, `pg_losses2 = -mb_advantage * torch.clamp(ratio, 1 - cliprange, 1 + cliprange)`, `torch.max` of the two | the clipped objective | your `ppo_clip_loss` (Exercise 6) |
# | `PPOTrainer`: `vf_losses` with `vpredclipped`, within `cliprange_value` of the old values | the critic's loss, with value clipping | unclipped here: the plain squared error |
# | `DPOTrainer`: the summed log-probabilities of the chosen and rejected completions under the policy and the reference, then `-F.logsigmoid(self.beta * delta_score)` with `delta_score = chosen_scores - rejected_scores` (the two log-ratios) | the DPO loss | your `dpo_loss` (Exercise 6), with your `response_log_probs` summed over each answer |
# | `GRPOTrainer`: `rewards.view(-1, self.num_generations)`, minus the group mean, divided by the group std + 1e-4 when `scale_rewards="group"` (the default; `"batch"` and `"none"` are the others) | group-relative advantages | your `group_relative_advantages` (Exercise 6) |
# | `GRPOTrainer`: the clipped ratio per token, plus `self.beta * per_token_kl` with `per_token_kl = exp(ref - logps) - (ref - logps) - 1` when `beta` is not 0 (default 0) | the clipped loss and the $k_3$ KL in the loss | `rlhf.train_grpo` (its `kl_coef`) |

# %% [markdown]
# **Value clipping**, the one line above with no counterpart here, keeps the
# critic's new prediction within `cliprange_value` of the value it had when
# the batch was collected and takes the larger of the clipped and unclipped
# squared errors: a pessimistic loss, like the policy's. It comes from
# OpenAI's original PPO code; Engstrom et al. (2020) and Andrychowicz et al.
# (2021) found that it does not help, and can hurt. Neither clip bounds the
# KL: clipping only stops the samples already past the range from pushing
# further, while the other samples, over several epochs, can still move the
# policy well beyond it. That is why trainers log the approximate KL of
# lesson 06 and may stop an update early on it.

# %% [markdown]
# ## Summary
#
# - A causal transformer's state is the whole prefix: its attention reads
#   every earlier position and nothing later.
# - A reward model is fitted to pairwise choices with the Bradley-Terry loss;
#   it learns the labellers' taste, their biases included, and its scale is
#   arbitrary.
# - RLHF is RL only if the RL problem is set up right: the state is the prompt
#   and every token so far, the log-probabilities are read one position
#   early, the score goes on the last real token, the discount lets it reach
#   the earlier tokens, and the KL penalty keeps the policy where the reward
#   model can be trusted.
# - Optimised hard, a learned reward is over-optimised: its score keeps
#   rising while the true quality stops rising and falls. Judge a tuned model
#   by something it was not trained on.
# - PPO, DPO and GRPO trade differently: PPO needs a reward model and a
#   critic, GRPO drops the critic for groups of samples, DPO drops the reward
#   model and the sampling and learns from fixed pairs.
#
# **Closing note: what was measured here.** On the course's 2-core CPU while
# it was busy with other work, one torch thread, seed 0 throughout (other
# seeds and a GPU give other numbers). **The reward model** (the reference
# `train_reward_model`, about 5 CPU-seconds) ranked 72.8 % of the 500
# held-out pairs right; with the preference pairs and reward models of seeds
# 0-9 (the SFT policy of seed 0) it ranked
# 67.2 % to 74.2 % right (the grade asks 66 %; the labellers' noise caps any
# model near 84 %). **Over-optimisation** (PPO with beta 1, 0.3, 0.1 and
# 0): the true utility was highest at the smallest KL measured, 1.06 at
# 0.3 nats (beta 1; the reference: 0.61), then 1.04 at 1.2 nats, 0.93 at
# 3.9 and 0.65 at 8.3, while the reward model's score rose from
# -0.35 to 1.25. DPO with beta 1, 0.3 and 0.1: true utility 1.26 at 1.3 nats,
# 1.10 at 6.7 and 0.15 at 22.7, its reward-model score between -0.04 and
# 0.30. **The comparison** (win rate against the reference's answers under
# the true utility; KL): PPO (beta 0.1) 58 %, 3.9 nats; DPO (beta 0.3) 59 %,
# 6.7 nats; GRPO 66 %, 2.8 nats. The reward model scored 2,176 answers for
# PPO (256 of them to normalise its scores), 1,920 for GRPO, none for DPO.
# **The case study's 2 x 2:** with the prompt as the state, every answer was
# cut at the length limit and the true utility ended at -6.6 with either
# gamma, while the score rose from -0.95 to 0.01 (gamma 0) and 0.26
# (gamma 0.99); with the full state and gamma 0 the true utility fell to
# -0.13 (21 % of the answers unfinished); the fix (full state, gamma 0.99)
# reached 1.04, the only run above the reference. Each training run took 4
# to 8 CPU-seconds, the whole notebook 81 s (78 CPU-seconds) on the idle
# 2-core machine (`make bench` rows 1 and 9); on a GPU it runs unchanged (`rlhelpers.device()`), though
# with networks this small, expect no speed-up. **Points: 19** (17
# autograded, 2 by hand).
