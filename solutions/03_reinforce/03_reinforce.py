# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 03: Policy gradients and REINFORCE
#
# Lesson 02 found good behaviour by first computing values and then acting
# greedily on them. This lesson takes the other road, the one RLHF takes: we
# keep a **stochastic policy** $\pi_\theta(a \mid s)$, a network with
# parameters $\theta$, and change $\theta$ directly so that episodes with a
# high return become more likely. An LLM already *is* such a policy: a network
# that maps a context (the state) to logits over the vocabulary (the actions).
# REINFORCE is the simplest algorithm that tunes it from a score of its
# complete responses, and everything in lessons 04 to 06 (actor-critic, PPO,
# the KL penalty of RLHF) is REINFORCE with improvements bolted on.
#
# **Goals.** After this lesson you can
# - sample actions from a policy network with `torch.distributions.Categorical`
#   and explain why we always work with log-probabilities;
# - show numerically that the score-function (REINFORCE) gradient estimate is
#   unbiased;
# - compute discounted returns for a batch of episodes with done masks, the
#   REINFORCE loss with return normalisation, and an entropy bonus;
# - find and fix a bug in a REINFORCE loss for rollouts whose columns hold
#   several episodes, as vectorised environments produce them;
# - train REINFORCE on a one-step "pick an action" task, on the GridWorld of
#   lesson 02, and on CartPole, and read its learning curves;
# - explain exploration collapse and its two cures, the entropy bonus and a KL
#   penalty to a reference policy.
#
# **Points: 34** (28 autograded in 10 exercises, 6 for three written answers).
# **Time:** about 4 hours: the exercises' headings add up to 3 hours, the
# three written answers take about 30 minutes, and reading the theory and
# watching the experiments about 30 more. The whole notebook runs in about a
# minute on a laptop CPU.
#
# **How you are graded.** Each exercise states its points. Pressing *Validate*
# runs only the **visible** tests in the test cells. The grade is decided by
# **hidden tests** in the same cells, which use fresh random inputs and edge
# cases (episode ends in the middle of a batch, huge logits, other seeds), so a
# function that only reproduces the visible examples will not pass. Training
# exercises state their pass threshold and budget; the grader trains your
# function on a fixed seed with that budget, and the reference solution passes
# on every one of 10 seeds we tried.
#
# **Partial credit.** A quiz scores each question and an exercise with parts
# scores each part; any other test cell is all or nothing.
#
# Write your code between the answer cells' markers (replace the
# `raise NotImplementedError()`), and do not change the test cells. Each
# exercise has hints that you can open when stuck; the first only nudges, the
# last gives the key line.

# %% [markdown]
# > **Notation.** The book (Sutton & Barto) numbers time so that the action
# > A_t taken in state S_t is followed by the reward R_{t+1} and the state
# > S_{t+1}, and the return is G_t = R_{t+1} + gamma R_{t+2} + gamma^2 R_{t+3} + ...
# > The arrays of the code are indexed by the step instead: `rewards[t]` is the
# > reward that follows `actions[t]`, taken in `states[t]` (the book's R_{t+1}),
# > so `returns[t] = rewards[t] + gamma * rewards[t+1] + ...` is the book's G_t,
# > and `dones[t] = 1` means the episode ended with step t.

# %%
import copy
from dataclasses import dataclass
from typing import NamedTuple

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical
from tqdm.auto import tqdm

import rlhelpers
from rlhelpers.plotting import plot_action_probs, plot_learning_curves, plot_value_heatmap
from rlhelpers.testing import check, check_between, check_close, check_shape, check_type

DEVICE = rlhelpers.device()
print("torch device:", DEVICE)

# %% [markdown]
# ## A policy is a network that outputs logits
#
# For a discrete action space a policy network ends in one number per action,
# the **logits** $z_\theta(s) \in \mathbb{R}^{|A|}$, and the policy is their
# softmax:
#
# $$\pi_\theta(a \mid s) = \frac{e^{z_\theta(s)_a}}{\sum_{b} e^{z_\theta(s)_b}}.$$
#
# This is exactly an LLM's last layer: the context goes in, one logit per
# vocabulary entry comes out, and generating a token means sampling from the
# softmax. PyTorch wraps the distribution as
# `torch.distributions.Categorical(logits=...)`, which can `sample()` actions,
# give `log_prob(actions)` and `entropy()`, and works on a whole batch of
# states at once. Below, an untrained policy network for an environment with
# a 2-number observation and 4 actions: its probabilities are close to uniform,
# so it explores a lot.


# %%
def make_policy(obs_dim, n_actions, hidden=32):
    """A small MLP policy: observation [..., obs_dim] -> logits [..., n_actions]."""
    # ReLU rather than tanh: on a CPU torch runs tanh multi-threaded even on tiny
    # tensors, which makes step-by-step rollouts several times slower.
    return nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, n_actions))


rlhelpers.seed_everything(0)
demo_policy = make_policy(obs_dim=2, n_actions=4).to(DEVICE)
demo_states = torch.tensor([[0.5, -0.3], [-1.0, 1.0], [0.0, 0.0]], device=DEVICE)
demo_dist = Categorical(logits=demo_policy(demo_states))  # a batch of 3 distributions
demo_actions = demo_dist.sample()  # one action per state, shape [3]
print("probabilities:\n", demo_dist.probs.detach().cpu().numpy().round(3))
print("sampled actions:", demo_actions.tolist())
print("log pi(a|s):", demo_dist.log_prob(demo_actions).detach().cpu().numpy().round(3))
print(
    "entropies:",
    demo_dist.entropy().detach().cpu().numpy().round(3),
    " (log 4 =",
    round(np.log(4), 3),
    ")",
)
plot_action_probs(
    {f"state {i}": p for i, p in enumerate(demo_dist.probs.detach().cpu().numpy())},
    title="an untrained policy is nearly uniform",
)
plt.show()

# %% [markdown]
# ## Exercise 1: why log-probabilities (2 points, about 10 min, easy)
#
# A response of $T$ tokens has probability
# $\pi(y \mid x) = \prod_{k=1}^{T} \pi(y_k \mid x, y_{<k})$, a product of $T$
# numbers below one. For a 1000-token answer in which every token had
# probability 0.9, that is $0.9^{1000} \approx 1.7 \times 10^{-46}$, and no
# float32 can hold it: the smallest positive float32 is $2^{-149} \approx 1.4
# \times 10^{-45}$ (a *subnormal* number; the normal float32s end near
# $1.2 \times 10^{-38}$). The product **underflows**, and what comes out depends
# on the order of the multiplications: `torch.prod` returns exactly 0, while a
# Python loop gets stuck at $4 \times 2^{-149} \approx 5.6 \times 10^{-45}$
# (0.9 times that number rounds back to it), about 30 times the true value. Either
# way the number is garbage, and so is every gradient through it. With token
# probabilities of 0.5 there is no such subtlety: every partial product is a
# power of two, exact down to $2^{-149}$, and halving that rounds to 0, so
# 1000 tokens of probability 0.5 give **exactly 0** in float32 whatever the
# order. The logarithm turns the product into a sum,
#
# $$\log \pi(y \mid x) = \sum_{k=1}^{T} \log \pi(y_k \mid x, y_{<k}),$$
#
# about $-105.4$ for the 0.9 example: an ordinary number. Three more reasons to
# prefer logs: frameworks compute `log_softmax` directly from the logits
# without ever forming tiny probabilities; the gradient of a sum is the sum of
# the per-token gradients; and, as the next exercise shows, $\nabla_\theta
# \log \pi_\theta$ is precisely the quantity the policy gradient needs.
#
# Write `sequence_prob_and_log_prob(token_probs)` that returns both the
# product of the probabilities (computed naively in float32: `torch.prod`, or
# any other way of multiplying float32 numbers) and the sum of their logs. The
# demo below shows the first collapse while the second stays finite.
#
# <details><summary>Hint 1: which dimension?</summary>
#
# Both results reduce over the **last** dimension (`dim=-1`) and keep all the
# others: token probabilities of shape [3, 5, 40] give results of shape [3, 5].
#
# </details>
#
# <details><summary>Hint 2: the two key lines</summary>
#
# `prob = torch.prod(token_probs, dim=-1)` and
# `log_prob = torch.log(token_probs).sum(dim=-1)`. Do not compute the
# log-probability as `torch.log(prob)`: that is `log(0) = -inf` once the
# product has underflowed.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "sequence_prob_and_log_prob", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sequence_prob_and_log_prob(token_probs):
    """Probability of a whole response, computed two ways.

    Args:
        token_probs: float32 tensor [..., T], the probability of each of the T
            tokens of a response (the last dimension runs over the tokens).

    Returns:
        (prob, log_prob): two float32 tensors [...]: the product of the T
        probabilities over the last dimension, multiplied in float32 (e.g. with
        torch.prod), and the sum of their natural logarithms.
    """
    ### BEGIN SOLUTION
    token_probs = torch.as_tensor(token_probs, dtype=torch.float32)
    prob = torch.prod(token_probs, dim=-1)
    log_prob = torch.log(token_probs).sum(dim=-1)
    return prob, log_prob
    ### END SOLUTION


# %%
for token_prob in (0.9, 0.5):
    for n_tokens in (10, 100, 500, 1000):
        p, lp = sequence_prob_and_log_prob(torch.full((n_tokens,), token_prob))
        print(
            f"{n_tokens:5d} tokens of probability {token_prob}: "
            f"product = {p.item():.3e}, log-prob = {lp.item():9.3f}"
        )

# %% nbgrader={"grade": true, "grade_id": "test_sequence_prob_and_log_prob", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""sequence_prob_and_log_prob: a short response by hand; 1000 tokens of 0.5 underflow the float32 product, not the log."""
import numpy as np
import torch

from rlhelpers.testing import check, check_close, check_shape, checks_passed

_result = sequence_prob_and_log_prob(torch.tensor([0.5, 0.25, 0.8]))
check(
    isinstance(_result, tuple) and len(_result) == 2,
    "what sequence_prob_and_log_prob returns",
    expected="a pair (prob, log_prob)",
    got=repr(_result)[:80],
    hint="end the function with `return prob, log_prob`",
)
_p, _lp = _result
check_close(_p, 0.1, "the probability of a response with token probabilities [0.5, 0.25, 0.8]")
check_close(
    _lp,
    np.log(0.1),
    "the log-probability of a response with token probabilities [0.5, 0.25, 0.8]",
    atol=1e-5,
    hint="sum the logs of the token probabilities",
)
_p, _lp = sequence_prob_and_log_prob(torch.full((1000,), 0.5))
check(
    str(_p.dtype).endswith("float32"),
    "the dtype of the product",
    expected="float32",
    got=str(_p.dtype),
    hint="multiply the float32 probabilities as they are: do not convert them to float64",
)
check(
    _p.item() == 0.0,
    "the float32 product of 1000 probabilities of 0.5",
    expected="exactly 0.0 (0.5**1000 is about 9.3e-302, far below 2**-149, the smallest float32)",
    got=_p.item(),
    hint="multiply in float32, as the exercise asks; in float64 this product would not underflow yet",
)
check_close(
    _lp,
    1000 * np.log(0.5),
    "the log-probability of 1000 tokens of probability 0.5",
    rtol=1e-4,
    hint="sum the per-token logs; log(product) is log(0) = -inf once the product underflowed",
)
_p, _lp = sequence_prob_and_log_prob(torch.full((1000,), 0.9))
check_close(
    _lp,
    1000 * np.log(0.9),
    "the log-probability of 1000 tokens of probability 0.9",
    rtol=1e-4,
    hint="sum the per-token logs; log(product) is log(0) = -inf once the product underflowed",
)
checks_passed("sequence_prob_and_log_prob")
### BEGIN HIDDEN TESTS
_gen = torch.Generator().manual_seed(31)
_probs = 0.02 + 0.98 * torch.rand(3, 5, 40, generator=_gen)
_p, _lp = sequence_prob_and_log_prob(_probs)
check_shape(
    _p,
    (3, 5),
    "the products for token_probs of shape [3, 5, 40]",
    hint="reduce over the last dimension only",
)
check_shape(
    _lp,
    (3, 5),
    "the log-probs for token_probs of shape [3, 5, 40]",
    hint="reduce over the last dimension only",
)
check(
    _lp.dtype == torch.float32,
    "the dtype of log_prob",
    expected="torch.float32",
    got=str(_lp.dtype),
)
_ref64 = _probs.double()
check_close(
    _p, _ref64.prod(-1), "the products of random token probabilities", rtol=1e-4, atol=1e-30
)
check_close(
    _lp, _ref64.log().sum(-1), "the log-probs of random token probabilities", rtol=1e-4, atol=1e-4
)
# a batch where one response is long: only its product underflows
_mixed = torch.stack([torch.full((2000,), 0.95), torch.ones(2000)])
_p, _lp = sequence_prob_and_log_prob(_mixed)
check_close(_p, [0.0, 1.0], "the products of 2000 tokens of 0.95 and of 2000 tokens of 1.0")
check_close(
    _lp,
    [2000 * np.log(0.95), 0.0],
    "the log-probs of 2000 tokens of 0.95 and of 1.0",
    rtol=1e-4,
    atol=1e-4,
)
### END HIDDEN TESTS

# %% [markdown]
# ## The policy gradient, and the score-function trick
#
# We want to maximise the expected return $J(\theta) = \mathbb{E}_{\tau \sim
# \pi_\theta}[G(\tau)]$, where $\tau$ is a whole episode (a response) and
# $G(\tau)$ its return (the reward model's score). The expectation is a sum over
# episodes weighted by their probability, and only the probability depends on
# $\theta$:
#
# $$\nabla_\theta J = \sum_\tau G(\tau)\, \nabla_\theta p_\theta(\tau)
#   = \sum_\tau p_\theta(\tau)\, G(\tau)\, \nabla_\theta \log p_\theta(\tau)
#   = \mathbb{E}_{\tau \sim \pi_\theta}\bigl[G(\tau)\, \nabla_\theta \log p_\theta(\tau)\bigr],$$
#
# using $\nabla p = p\, \nabla \log p$ (the **log-derivative** or
# **score-function** trick). The environment's transition probabilities do
# not depend on $\theta$, so $\nabla_\theta \log p_\theta(\tau) = \sum_t
# \nabla_\theta \log \pi_\theta(A_t \mid S_t)$, and because an action cannot
# influence rewards that came before it, each step only needs the return from
# that step on, $G_t = R_{t+1} + \gamma R_{t+2} + \dots$ (see the notation box):
#
# $$\nabla_\theta J \approx \mathbb{E}\Bigl[\sum_t G_t\, \nabla_\theta \log \pi_\theta(A_t \mid S_t)\Bigr].$$
#
# This is **REINFORCE** (Williams, 1992). It needs no model of the environment
# and no differentiable reward: sample episodes, and nudge the log-probability
# of every action in proportion to the return that followed it. The reward
# model of RLHF is a black box to the policy in exactly this way.
#
# Why "$\approx$"? With $\gamma < 1$ the objective is the discounted return from
# the start, $J = \mathbb{E}[G_0]$, and seen from the start the rewards after
# step $t$ are discounted by $\gamma^t$ more, so the exact gradient is
# $\mathbb{E}[\sum_t \gamma^t G_t\, \nabla_\theta \log \pi_\theta(A_t \mid S_t)]$.
# Almost every implementation drops the $\gamma^t$, and so does this lesson:
# with it, late steps would hardly learn at all ($0.99^{300} \approx 0.05$), while
# in practice $\gamma$ is a device to shorten the horizon and reduce the
# variance, not a wish that late actions matter less. The price is that the
# update is no longer exactly the gradient of any objective (Nota and Thomas,
# 2020, "Is the policy gradient a gradient?"). For $\gamma = 1$, the usual
# choice for LLM responses, the two coincide.
#
# The expectation is estimated from samples. Is the estimate right on average,
# i.e. **unbiased**? On a problem small enough to solve by hand we can check.

# %% [markdown]
# ## Exercise 2: the score-function estimator is unbiased (4 points, about 25 min, medium)
#
# A $K$-armed bandit with a softmax policy $\pi = \mathrm{softmax}(\theta)$,
# $\theta \in \mathbb{R}^K$, and arm $a$ paying a reward with mean $\mu_a$. The
# expected reward and its gradient have closed forms:
#
# $$J(\theta) = \sum_a \pi_a \mu_a, \qquad
# \frac{\partial J}{\partial \theta_k} = \pi_k \,(\mu_k - J)
# \quad\text{(from } \partial \pi_a / \partial \theta_k = \pi_a (\mathbb{1}[a = k] - \pi_k)\text{)}.$$
#
# The score-function estimate from **one** sample (action $A \sim \pi$,
# reward $R$) is $R\, \nabla_\theta \log \pi_A$, and for a softmax
# $\nabla_\theta \log \pi_A = e_A - \pi$ (the one-hot vector of $A$ minus the
# probabilities). It has a lot of noise, but its mean over many samples should
# converge to the analytic gradient.
#
# Write
# 1. `analytic_gradient(theta, mean_rewards)`: $\nabla_\theta J$, shape [K];
# 2. `score_function_gradients(theta, actions, rewards)`: one row
#    $R_i (e_{A_i} - \pi)$ per sample, shape [n, K]. (You may use autograd
#    instead of the formula, but the formula is one line.)
#
# The demo draws 20,000 samples and compares the running mean of your
# estimates with the analytic gradient; the test does the same with a
# tolerance of 4 standard errors, $4\, \hat\sigma / \sqrt{n}$. The two parts are
# graded separately, 2 points each.
#
# <details><summary>Hint 1: the analytic gradient</summary>
#
# Three lines: `pi = torch.softmax(theta, dim=-1)`, then $J$ as
# `(pi * mean_rewards).sum()`, then `pi * (mean_rewards - J)`. If every arm pays
# the same, your gradient must be 0.
#
# </details>
#
# <details><summary>Hint 2: one row per sample</summary>
#
# `nn.functional.one_hot(actions, num_classes=K)` gives the $e_{A_i}$ as an
# [n, K] matrix (convert it to float); subtract `pi` (broadcast over the rows)
# and multiply row $i$ by $R_i$ with `rewards[:, None]`. Do not multiply by
# $\pi_{A_i}$: that is $\nabla \pi$, not $\nabla \log \pi$, and it is biased.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "analytic_gradient", "locked": false, "schema_version": 3, "solution": true, "task": false}
def analytic_gradient(theta, mean_rewards):
    """Exact gradient of J(theta) = sum_a softmax(theta)_a * mean_rewards_a.

    Args:
        theta: float tensor [K], the logits of the softmax policy.
        mean_rewards: float tensor [K], the expected reward of each arm.

    Returns:
        float tensor [K]: dJ/dtheta_k = pi_k * (mean_rewards_k - J).
    """
    ### BEGIN SOLUTION
    pi = torch.softmax(theta, dim=-1)
    expected_reward = (pi * mean_rewards).sum()
    return pi * (mean_rewards - expected_reward)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "score_function_gradients", "locked": false, "schema_version": 3, "solution": true, "task": false}
def score_function_gradients(theta, actions, rewards):
    """One REINFORCE gradient estimate per sample: R_i * grad_theta log pi(A_i).

    Args:
        theta: float tensor [K], the logits of the softmax policy.
        actions: long tensor [n], the sampled arms A_i.
        rewards: float tensor [n], the rewards R_i received.

    Returns:
        float tensor [n, K]: row i is R_i * (onehot(A_i) - softmax(theta)).
    """
    ### BEGIN SOLUTION
    pi = torch.softmax(theta, dim=-1)
    one_hot = nn.functional.one_hot(actions, num_classes=theta.shape[-1]).to(pi.dtype)
    return rewards[:, None] * (one_hot - pi)
    ### END SOLUTION


# %%
bandit_theta = torch.tensor([0.5, -0.5])
bandit_means = torch.tensor([1.0, 2.0])
bandit_gen = torch.Generator().manual_seed(0)
n_bandit = 20_000
bandit_actions = torch.multinomial(
    torch.softmax(bandit_theta, -1), n_bandit, replacement=True, generator=bandit_gen
)
bandit_rewards = bandit_means[bandit_actions] + torch.randn(
    n_bandit, generator=bandit_gen
)  # noise std 1
estimates = score_function_gradients(bandit_theta, bandit_actions, bandit_rewards)
exact = analytic_gradient(bandit_theta, bandit_means).numpy()
# A tempting but wrong estimator: R * grad pi(A) (the gradient of the probability, not of its log)
pi_bandit = torch.softmax(bandit_theta, -1)
wrong = (
    bandit_rewards[:, None]
    * pi_bandit[bandit_actions][:, None]
    * (nn.functional.one_hot(bandit_actions, 2).float() - pi_bandit)
)
counts = torch.arange(1, n_bandit + 1)[:, None]
running = (torch.cumsum(estimates, 0) / counts).numpy()
running_wrong = (torch.cumsum(wrong, 0) / counts).numpy()
stderr = estimates.std(0).numpy() / np.sqrt(counts.numpy())
fig, ax = plt.subplots(figsize=(8, 4))
ax.plot(counts[:, 0], running[:, 1], label=r"mean of $R\,\nabla \log \pi(A)$ (REINFORCE)")
ax.fill_between(
    counts[:, 0],
    exact[1] - 2 * stderr[:, 1],
    exact[1] + 2 * stderr[:, 1],
    alpha=0.2,
    label="analytic $\\pm$ 2 standard errors",
)
ax.plot(counts[:, 0], running_wrong[:, 1], label=r"mean of $R\,\nabla \pi(A)$ (wrong)")
ax.axhline(exact[1], color="black", ls="--", label=r"analytic $\partial J / \partial \theta_1$")
ax.set_xscale("log")
ax.set_ylim(-0.5, 1.0)
ax.set_xlabel("number of samples")
ax.set_ylabel("gradient estimate (component 1)")
ax.set_title("The score-function estimate converges to the true gradient")
ax.legend(fontsize=8)
plt.show()
z_scores = (estimates.mean(0).numpy() - exact) / (estimates.std(0).numpy() / np.sqrt(n_bandit))
print("analytic:", exact.round(4), " REINFORCE mean:", estimates.mean(0).numpy().round(4))
print("z-scores (should be within about +-2):", z_scores.round(2))

# %% nbgrader={"grade": true, "grade_id": "test_analytic_gradient", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""analytic_gradient: two arms by hand; random bandits against autograd."""
import torch

from rlhelpers.testing import check_close, checks_passed

check_close(
    analytic_gradient(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0])),
    [0.25, -0.25],
    "analytic_gradient(theta=[0, 0], mean_rewards=[1, 0])",
    hint="pi = [0.5, 0.5], J = 0.5, and dJ/dtheta_k = pi_k * (mu_k - J)",
)
check_close(
    analytic_gradient(torch.tensor([0.0, 0.0]), torch.tensor([3.0, 3.0])),
    [0.0, 0.0],
    "analytic_gradient when both arms pay the same",
    hint="if every arm has the same mean, no change of the policy can change J",
)
checks_passed("analytic_gradient")
### BEGIN HIDDEN TESTS
_gen = torch.Generator().manual_seed(5)
for _k in (2, 3, 7):
    _theta = torch.randn(_k, generator=_gen, dtype=torch.float64)
    _mu = torch.randn(_k, generator=_gen, dtype=torch.float64)
    _t = _theta.clone().requires_grad_(True)
    (torch.softmax(_t, -1) * _mu).sum().backward()
    check_close(
        analytic_gradient(_theta, _mu),
        _t.grad,
        f"analytic_gradient on a random {_k}-armed bandit",
        atol=1e-8,
    )
# a shift of every mean by a constant leaves the gradient unchanged
check_close(
    analytic_gradient(_theta, _mu + 10.0),
    _t.grad,
    "analytic_gradient after adding 10 to every arm's mean",
    atol=1e-8,
    hint="subtract J = sum_a pi_a mu_a",
)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_score_function_gradients", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""score_function_gradients: two samples by hand; the mean of many is within 4 standard errors of the analytic gradient."""
import numpy as np
import torch

from rlhelpers.testing import check, check_close, check_shape, checks_passed

_rows = score_function_gradients(
    torch.tensor([0.0, 0.0]), torch.tensor([0, 1]), torch.tensor([1.0, 2.0])
)
check_close(
    _rows,
    [[0.5, -0.5], [-1.0, 1.0]],
    "score_function_gradients(theta=[0, 0], actions=[0, 1], rewards=[1, 2])",
    hint="row i is R_i * (onehot(A_i) - pi); here pi = [0.5, 0.5]",
)


def _unbiased_check(theta, means, n, seed, what):
    gen = torch.Generator().manual_seed(seed)
    pi = torch.softmax(theta, -1)
    actions = torch.multinomial(pi, n, replacement=True, generator=gen)
    rewards = means[actions] + torch.randn(n, generator=gen)
    rows = score_function_gradients(theta, actions, rewards)
    check_shape(
        rows,
        (n, len(theta)),
        f"score_function_gradients for {n} samples",
        hint="one row per sample",
    )
    t = theta.clone().requires_grad_(True)
    (torch.softmax(t, -1) * means).sum().backward()
    half_width = 4 * rows.std(0) / np.sqrt(n) + 1e-6
    check(
        ((rows.mean(0) - t.grad).abs() <= half_width).all(),
        f"the mean of {n} score-function estimates ({what})",
        expected=f"within 4 standard errors (+-{half_width.numpy().round(4)}) of the analytic gradient {t.grad.numpy().round(4)}",
        got=rows.mean(0),
        hint="use grad log pi(A) = onehot(A) - pi, not grad pi(A); multiply by the reward",
    )


_unbiased_check(torch.tensor([0.5, -0.5]), torch.tensor([1.0, 2.0]), 20_000, 0, "2 arms")
checks_passed("score_function_gradients")
### BEGIN HIDDEN TESTS
_gen = torch.Generator().manual_seed(8)
_theta = torch.randn(4, generator=_gen, dtype=torch.float64)
_acts = torch.randint(0, 4, (6,), generator=_gen)
_rews = torch.randn(6, generator=_gen, dtype=torch.float64)
_expected = []
for _a, _r in zip(_acts, _rews, strict=True):
    _t = _theta.clone().requires_grad_(True)
    (_r * torch.log_softmax(_t, -1)[_a]).backward()
    _expected.append(_t.grad)
check_close(
    score_function_gradients(_theta, _acts, _rews),
    torch.stack(_expected),
    "score_function_gradients on random samples of a 4-armed bandit (against autograd)",
    atol=1e-8,
)
_unbiased_check(torch.tensor([1.0, 0.0, -1.0]), torch.tensor([0.5, -1.0, 3.0]), 30_000, 1, "3 arms")
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 3: discounted returns for a batch of episodes (3 points, about 20 min, medium)
#
# REINFORCE weights step $t$ by the return from that step on,
#
# $$G_t = R_{t+1} + \gamma\, R_{t+2} + \gamma^2 R_{t+3} + \dots = R_{t+1} + \gamma\, G_{t+1},$$
#
# so all returns of an episode come from one **backward** pass over time. In
# the arrays (see the notation box) this reads
# `returns[t] = rewards[t] + gamma * returns[t + 1]`. In practice we collect
# many episodes at once and store them as arrays with time first,
# `rewards[t, n]` for step $t$ of copy $n$ of the environment. A copy's
# episode can end in the middle: `dones[t, n] = True` means the episode ended
# with step $t$ (after receiving `rewards[t, n]`), and whatever follows in that
# column belongs to a new episode, so the return must **not** leak across the
# end:
#
# `returns[t] = rewards[t] + gamma * (1 - dones[t]) * returns[t + 1]`.
#
# Loop backwards over time, but do **not** loop over the episodes or the
# columns: one line per time step handles all columns at once. `dones=None`
# means no episode ends inside the array.
#
# In LLM terms: one column is one response; if the reward model's score
# arrives at the last token and $\gamma = 1$, every token of the response gets
# the same $G_t$, the response's score.
#
# <details><summary>Hint 1: the shape of the loop</summary>
#
# Keep one running tensor `future` of shape `rewards.shape[1:]` (one entry per
# column), the return from the next step on, starting at zeros. Walk
# `for t in reversed(range(rewards.shape[0]))`, update `future` from
# `rewards[t]`, and store it in `returns[t]`.
#
# </details>
#
# <details><summary>Hint 2: the key line</summary>
#
# `future = rewards[t] + gamma * not_done[t] * future`, with
# `not_done = 1.0 - dones.float()` (or all ones when `dones` is None). Bool
# tensors cannot be subtracted from 1: convert them first.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "discounted_returns", "locked": false, "schema_version": 3, "solution": true, "task": false}
def discounted_returns(rewards, gamma, dones=None):
    """Returns returns[t] = rewards[t] + gamma * (1 - dones[t]) * returns[t + 1], backwards in time.

    (returns[t] is the book's G_t = R_{t+1} + gamma * G_{t+1}; see the notation box.)

    Args:
        rewards: float tensor [T] or [T, N] (time first; T may be 0).
        gamma: discount factor in [0, 1].
        dones: None, or a bool (or 0/1 float) tensor of the same shape as rewards;
            dones[t] true means an episode ended with step t.

    Returns:
        float tensor of the same shape, dtype and device as rewards.
    """
    ### BEGIN SOLUTION
    rewards = torch.as_tensor(rewards)
    if dones is None:
        not_done = torch.ones_like(rewards)
    else:
        not_done = 1.0 - torch.as_tensor(dones, device=rewards.device).to(rewards.dtype)
    returns = torch.zeros_like(rewards)
    future = torch.zeros(rewards.shape[1:], dtype=rewards.dtype, device=rewards.device)  # G_{t+1}
    for t in reversed(range(rewards.shape[0])):
        future = rewards[t] + gamma * not_done[t] * future
        returns[t] = future
    return returns
    ### END SOLUTION


# %%
print(discounted_returns(torch.tensor([0.0, 0.0, 1.0]), gamma=0.9))
print(
    discounted_returns(
        torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]]),
        0.5,
        dones=torch.tensor([[False, False], [True, False], [False, True]]),
    )
)

# %% nbgrader={"grade": true, "grade_id": "test_discounted_returns", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""discounted_returns: one episode by hand; two columns whose first episode ends in the middle."""
import numpy as np
import torch

from rlhelpers.testing import check_close, check_shape, checks_passed

check_close(
    discounted_returns(torch.tensor([1.0, 1.0, 1.0]), 0.9),
    [2.71, 1.9, 1.0],
    "discounted_returns([1, 1, 1], gamma=0.9)",
    hint="G_2 = 1, G_1 = 1 + 0.9 * 1, G_0 = 1 + 0.9 * 1.9; loop backwards over time",
)
check_close(
    discounted_returns(torch.tensor([0.0, 0.0, 1.0]), 0.5),
    [0.25, 0.5, 1.0],
    "discounted_returns([0, 0, 1], gamma=0.5)",
    hint="the reward at the end reaches earlier steps discounted by gamma per step",
)
_rewards = torch.tensor([[1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])
_dones = torch.tensor([[False, False], [True, False], [False, True]])
check_close(
    discounted_returns(_rewards, 0.5, dones=_dones),
    [[2.0, 1.75], [2.0, 1.5], [3.0, 1.0]],
    "discounted_returns for two columns, rewards [[1, 1], [2, 1], [3, 1]], gamma=0.5, column 0 ends at t=1",
    hint="returns[t] = rewards[t] + gamma * (1 - dones[t]) * returns[t + 1]: the 3 at t=2 of column 0 belongs to the next episode "
    "(convert bool dones with .float() before 1 - dones)",
)


checks_passed("discounted_returns")


### BEGIN HIDDEN TESTS
def _reference_returns(r, g, d):
    r, d = np.asarray(r, dtype=np.float64), np.asarray(d, dtype=bool)
    out = np.zeros_like(r)
    for col in range(r.shape[1]):
        acc = 0.0
        for t in reversed(range(r.shape[0])):
            acc = r[t, col] + (0.0 if d[t, col] else g * acc)
            out[t, col] = acc
    return out


_rng = np.random.default_rng(77)
for _gamma in (0.0, 0.9, 0.99, 1.0):
    _r = _rng.normal(size=(40, 6))
    _d = _rng.random((40, 6)) < 0.1
    _d[-1, 0] = True
    _got = discounted_returns(torch.tensor(_r, dtype=torch.float32), _gamma, dones=torch.tensor(_d))
    check_close(
        _got,
        _reference_returns(_r, _gamma, _d),
        f"discounted_returns on random [40, 6] rewards with random dones, gamma={_gamma}",
        atol=1e-4,
        rtol=1e-4,
    )
# float 0/1 dones work like bool dones
_got = discounted_returns(
    torch.tensor(_r, dtype=torch.float32), 0.9, dones=torch.tensor(_d, dtype=torch.float32)
)
check_close(
    _got,
    _reference_returns(_r, 0.9, _d),
    "discounted_returns with 0/1 float dones",
    atol=1e-4,
    rtol=1e-4,
)
# one long episode, no dones: the closed form sum_k gamma^k rewards[t + k]
_r = _rng.normal(size=25)
_closed = np.array([sum(0.95**k * _r[t + k] for k in range(25 - t)) for t in range(25)])
_got = discounted_returns(torch.tensor(_r, dtype=torch.float32), 0.95)
check_shape(_got, (25,), "discounted_returns of a [25] reward vector")
check_close(
    _got, _closed, "discounted_returns of one random episode, gamma=0.95", atol=1e-4, rtol=1e-4
)
# the input is not modified, and an empty batch works
_r_t = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
discounted_returns(_r_t, 0.9, dones=torch.tensor([[True, False], [False, False]]))
check_close(
    _r_t,
    [[1.0, 2.0], [3.0, 4.0]],
    "the rewards tensor after calling discounted_returns",
    hint="do not modify the input in place",
)
check_shape(
    discounted_returns(torch.zeros(0, 3), 0.9),
    (0, 3),
    "discounted_returns of an empty [0, 3] batch",
    hint="T may be 0: do not index rewards[0]",
)
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 4: the REINFORCE loss (3 points, about 15 min, easy)
#
# PyTorch minimises, so we hand it a **surrogate loss** whose gradient is minus
# the REINFORCE estimate, averaged over all the $B$ steps of the batch (step
# $i$ took action $a_i$ in state $s_i$ and has return $G_i$):
#
# $$L(\theta) = -\frac{1}{B} \sum_{i=1}^{B} \log \pi_\theta(a_i \mid s_i)\, \hat G_i .$$
#
# Three details matter.
# - The returns are data, not functions of $\theta$: no gradient may flow
#   into them (`detach()` them).
# - **Return normalisation**: $\hat G = (G - \mathrm{mean}(G)) / (\mathrm{std}(G) + 10^{-8})$
#   over the batch. Subtracting the mean acts as a *baseline*: actions better
#   than the batch average are pushed up, worse ones pushed down, and the
#   variance of the estimate drops a lot (lesson 04 makes this precise).
#   Dividing by the standard deviation keeps the step size independent of the
#   reward scale. Use `torch.std` with its default (unbiased) estimate.
# - Normalisation is not free: the batch's mean and std are computed from the
#   same returns they rescale, so they are not constants, and the estimate
#   becomes slightly **biased**, by an amount of order one over the number of
#   episodes in the batch. For $B$ independent one-step episodes, subtracting
#   the batch mean multiplies the expected gradient by exactly $1 - 1/B$ (each
#   return is partly subtracted from itself); dividing by the batch's std
#   instead of the true one adds a bias of the same order, which is not even a
#   pure rescaling. With batches of dozens of episodes this is small next to
#   the noise, and it is usually accepted. It comes back in LLM training: GRPO
#   normalises the rewards of a small group of responses to the same prompt by
#   the group's mean and std in just this way, while RLOO subtracts from each
#   reward the mean of the group's *other* $B - 1$ rewards, which removes the
#   bias.
# - $L$ is not "the performance": its value can go up while the policy
#   improves. Only its gradient means something.
#
# This is the loss a minimal RLHF loop would use: the log-probabilities of the
# response's tokens times the (normalised) reward-model score.
#
# <details><summary>Hint 1: the order of the steps</summary>
#
# Detach the returns first, then (if `normalize`) normalise them over **all**
# their entries, then multiply by the log-probs, take the mean and flip the
# sign.
#
# </details>
#
# <details><summary>Hint 2: the key lines</summary>
#
# `returns = (returns - returns.mean()) / (returns.std() + 1e-8)` and
# `return -(log_probs * returns).mean()`.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "reinforce_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def reinforce_loss(log_probs, returns, normalize=True):
    """The REINFORCE surrogate loss -mean(log_probs * G_hat).

    Args:
        log_probs: float tensor of any shape [...], log pi(a|s) of the actions
            taken (carries the gradient).
        returns: float tensor of the same shape, the returns G (treated as
            constants: no gradient flows into them).
        normalize: if True, G_hat = (G - G.mean()) / (G.std() + 1e-8) over all
            entries; else G_hat = G.

    Returns:
        a scalar tensor.
    """
    ### BEGIN SOLUTION
    returns = returns.detach()
    if normalize:
        returns = (returns - returns.mean()) / (returns.std() + 1e-8)
    return -(log_probs * returns).mean()
    ### END SOLUTION


# %%
demo_log_probs = torch.log(torch.tensor([0.5, 0.25])).requires_grad_(True)
demo_loss = reinforce_loss(demo_log_probs, torch.tensor([1.0, 3.0]), normalize=False)
demo_loss.backward()
print("loss:", demo_loss.item(), " d loss / d log_probs:", demo_log_probs.grad.tolist())

# %% nbgrader={"grade": true, "grade_id": "test_reinforce_loss", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""reinforce_loss: two steps by hand, with and without normalisation, and its gradient."""
import numpy as np
import torch

from rlhelpers.testing import check, check_close, check_shape, checks_passed

_lp = torch.log(torch.tensor([0.5, 0.25]))
check_close(
    reinforce_loss(_lp, torch.tensor([1.0, 3.0]), normalize=False),
    (np.log(2) * 1 + np.log(4) * 3) / 2,
    "reinforce_loss(log([0.5, 0.25]), returns=[1, 3], normalize=False)",
    hint="-(log_probs * returns).mean(): mind the minus sign and take the mean, not the sum",
)
check_close(
    reinforce_loss(_lp, torch.tensor([1.0, 3.0]), normalize=True),
    (np.log(2) * (-1) + np.log(4) * 1) / (2 * np.sqrt(2)),
    "reinforce_loss(log([0.5, 0.25]), returns=[1, 3], normalize=True)",
    atol=1e-5,
    hint="normalised returns are (G - mean) / (std + 1e-8) = [-0.7071, 0.7071] with torch's default std",
)
_lp = torch.tensor([-1.0, -2.0, -0.5], requires_grad=True)
reinforce_loss(_lp, torch.tensor([2.0, 0.0, 1.0]), normalize=False).backward()
check_close(
    _lp.grad,
    [-2 / 3, 0.0, -1 / 3],
    "the gradient of reinforce_loss w.r.t. log_probs (returns [2, 0, 1], normalize=False)",
    hint="d loss / d log_prob_i = -G_i / B",
)
_g = torch.tensor([2.0, 0.0, 1.0], requires_grad=True)
reinforce_loss(torch.tensor([-1.0, -2.0, -0.5], requires_grad=True), _g, normalize=True).backward()
check(
    _g.grad is None or bool((_g.grad == 0).all()),
    "the gradient that reaches returns that require grad",
    expected="none: returns are constants (detach them)",
    got=_g.grad,
    hint="call returns.detach() before using them",
)
checks_passed("reinforce_loss")
### BEGIN HIDDEN TESTS
_gen = torch.Generator().manual_seed(11)
_lp_data = -torch.rand(8, 5, generator=_gen) * 3
_ret = torch.randn(8, 5, generator=_gen) * 4 + 2
for _norm in (False, True):
    _lp = _lp_data.clone().requires_grad_(True)
    _g = _ret.clone().requires_grad_(True)
    _loss = reinforce_loss(_lp, _g, normalize=_norm)
    check_shape(
        _loss,
        (),
        f"reinforce_loss on a [8, 5] batch (normalize={_norm})",
        hint="return a scalar: the mean over every entry",
    )
    _ghat = (_ret - _ret.mean()) / (_ret.std() + 1e-8) if _norm else _ret
    check_close(
        _loss,
        -(_lp_data * _ghat).mean(),
        f"reinforce_loss on random [8, 5] inputs (normalize={_norm})",
        atol=1e-5,
    )
    _loss.backward()
    check_close(
        _lp.grad,
        -_ghat / _ghat.numel(),
        f"the gradient w.r.t. log_probs (normalize={_norm})",
        atol=1e-6,
    )
    check(
        _g.grad is None or bool((_g.grad == 0).all()),
        f"the gradient that reaches the returns (normalize={_norm})",
        expected="none: returns are constants (detach them)",
        got=_g.grad,
        hint="call returns.detach() before using them",
    )
# normalisation makes the loss invariant to shifting and scaling the returns
_lp = _lp_data.clone()
check_close(
    reinforce_loss(_lp, 100.0 + 10.0 * _ret, normalize=True),
    reinforce_loss(_lp, _ret, normalize=True),
    "reinforce_loss(normalize=True) after returns -> 100 + 10 * returns",
    atol=1e-4,
    hint="normalise with the batch mean and std of the returns",
)
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 5: the entropy bonus (2 points, about 10 min, easy)
#
# The **entropy** of a policy in state $s$,
# $H(\pi(\cdot \mid s)) = -\sum_a \pi(a \mid s) \log \pi(a \mid s)$,
# is $\log |A|$ for the uniform policy and 0 for a deterministic one. REINFORCE
# tends to drive it to zero: once an action is a bit more likely, it is sampled
# more, reinforced more, and becomes even more likely. If this happens before
# the good actions were found, the agent stops exploring for good
# (**exploration collapse**; for an LLM: the same safe answer to every prompt).
# Subtracting $\beta \cdot \bar H$ from the loss rewards keeping some
# randomness.
#
# Write `entropy_bonus(logits)`: the mean entropy over a batch of categorical
# distributions given by their logits. Compute it from `log_softmax`, never
# from `log(softmax(...))`: for logits like `[1000, 0]` the small probability
# underflows to 0, and `0 * log(0)` is `nan`.
#
# <details><summary>Hint 1: where the batch is</summary>
#
# The actions are the **last** dimension: sum $-p \log p$ over `dim=-1`, which
# leaves one entropy per distribution, then average those with `.mean()`.
#
# </details>
#
# <details><summary>Hint 2: the key lines</summary>
#
# `log_p = torch.log_softmax(logits, dim=-1)` and
# `return -(log_p.exp() * log_p).sum(dim=-1).mean()`.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "entropy_bonus", "locked": false, "schema_version": 3, "solution": true, "task": false}
def entropy_bonus(logits):
    """Mean entropy of the categorical distributions softmax(logits).

    Args:
        logits: float tensor [..., A]; the last dimension runs over actions.

    Returns:
        a scalar tensor: the entropy -sum_a p_a log p_a of each distribution,
        averaged over all leading dimensions (differentiable, finite for any
        finite logits).
    """
    ### BEGIN SOLUTION
    log_p = torch.log_softmax(logits, dim=-1)
    return -(log_p.exp() * log_p).sum(dim=-1).mean()
    ### END SOLUTION


# %%
print("uniform over 4:", entropy_bonus(torch.zeros(4)).item(), " log 4 =", np.log(4))
print("nearly deterministic:", entropy_bonus(torch.tensor([[50.0, 0.0, 0.0, 0.0]])).item())

# %% nbgrader={"grade": true, "grade_id": "test_entropy_bonus", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""entropy_bonus: uniform and two-action cases by hand, averaged over a batch."""
import numpy as np
import torch
from torch.distributions import Categorical

from rlhelpers.testing import check, check_close, checks_passed

check_close(
    entropy_bonus(torch.zeros(3, 4)),
    np.log(4),
    "entropy_bonus of three uniform distributions over 4 actions",
    hint="-sum p log p for each row, averaged over the rows; uniform gives log(A)",
)
_h = -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))
check_close(
    entropy_bonus(torch.tensor([[0.0, np.log(3.0)]])),
    _h,
    "entropy_bonus of logits [0, log 3] (probabilities [0.25, 0.75])",
    hint="H = -(0.25 log 0.25 + 0.75 log 0.75) = 0.5623",
)
check_close(
    entropy_bonus(torch.tensor([[0.0, np.log(3.0)], [0.0, 0.0]])),
    (_h + np.log(2)) / 2,
    "entropy_bonus of a batch of two distributions",
    hint="average the per-row entropies over the batch",
)
check_close(
    entropy_bonus(torch.tensor([[200.0, 0.0]])),
    0.0,
    "entropy_bonus of logits [200, 0] (probabilities [1, 1e-87])",
    atol=1e-6,
    hint="softmax rounds the small probability to 0 and 0 * log(0) is nan: use log_softmax",
)
checks_passed("entropy_bonus")
### BEGIN HIDDEN TESTS
_gen = torch.Generator().manual_seed(3)
_logits = torch.randn(4, 6, 5, generator=_gen) * 3
check_close(
    entropy_bonus(_logits),
    Categorical(logits=_logits).entropy().mean(),
    "entropy_bonus of random [4, 6, 5] logits",
    atol=1e-5,
)
check_close(
    entropy_bonus(torch.tensor([1000.0, 0.0, 0.0])),
    0.0,
    "entropy_bonus of logits [1000, 0, 0]",
    atol=1e-6,
    hint="use log_softmax: 0 * log(0) is nan",
)
check_close(
    entropy_bonus(torch.tensor([[500.0, 500.0, -500.0], [3.0, 3.0, 3.0]])),
    (np.log(2) + np.log(3)) / 2,
    "entropy_bonus of logits [[500, 500, -500], [3, 3, 3]]",
    atol=1e-5,
    hint="use log_softmax: softmax underflows for large logit gaps",
)
_x = (torch.randn(7, 3, generator=_gen) * 50).requires_grad_(True)
entropy_bonus(_x).backward()
check(
    _x.grad is not None and bool(torch.isfinite(_x.grad).all()),
    "the gradient of entropy_bonus for logits of size ~50",
    expected="finite",
    got=_x.grad,
    hint="compute from log_softmax so that autograd never sees log(0)",
)
### END HIDDEN TESTS

# %% [markdown]
# The second cure for collapse is to penalise moving away from a **reference
# policy** $\pi_{\text{ref}}$ (a frozen copy of the starting policy):
#
# $$\mathrm{KL}(\pi \,\|\, \pi_{\text{ref}}) = \sum_a \pi(a \mid s)\,
# \bigl(\log \pi(a \mid s) - \log \pi_{\text{ref}}(a \mid s)\bigr) \ge 0 .$$
#
# Adding $\beta \cdot \mathrm{KL}$ to the loss lets the policy improve only as
# far as the reward gain is worth the drift. This is the penalty of RLHF
# (lessons 06 and 07), where $\pi_{\text{ref}}$ is the supervised model: without it the
# policy can drift into text that fools the reward model. The helper below is
# given.


# %%
def kl_to_reference(logits, ref_logits):
    """Mean KL(pi || pi_ref) over a batch; logits and ref_logits: [..., A]."""
    log_p = torch.log_softmax(logits, dim=-1)
    log_ref = torch.log_softmax(ref_logits, dim=-1)
    return (log_p.exp() * (log_p - log_ref)).sum(dim=-1).mean()


print("KL(pi || pi) =", kl_to_reference(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])).item())
print(
    "KL([0.5, 0.5] || [0.9, 0.1]) =",
    kl_to_reference(
        torch.log(torch.tensor([0.5, 0.5])), torch.log(torch.tensor([0.9, 0.1]))
    ).item(),
)

# %% [markdown]
# ## Collecting a batch of episodes
#
# REINFORCE needs complete episodes. To use the CPU well we run $N$ copies of
# an environment side by side (a Gymnasium *vector* environment) and play one
# episode in each; the helper below (given) returns the batch as tensors with
# time first, `[T, N]`, ready for your `discounted_returns`. Episodes have
# different lengths, so `mask[t, n]` says whether step $t$ of column $n$ is part
# of its episode (later steps are padding; their reward is set to 0).
# Leave the padding out of the loss and out of the normalisation: those steps
# are what the environment did after the episode's end, and belong to no
# episode of the batch. Because each column holds a single episode followed by
# zero rewards, nothing can leak across an episode's end in these batches, so
# here the dones change no return; Exercise 6 shows batches in which they do.
#
# Two speed tricks, both worth copying. The rollout runs under
# `torch.no_grad()` and samples with `torch.multinomial` on the softmax (the
# same distribution as `Categorical(logits=...).sample()`, with less
# overhead); afterwards you recompute all log-probabilities in **one** batched
# forward pass, `Categorical(logits=policy(batch.obs)).log_prob(batch.actions)`,
# which gives exactly the values (and gradients) the rollout would have seen,
# since the parameters did not change in between.


# %%
class EpisodeBatch(NamedTuple):
    """One episode per environment copy, time first (T = length of the longest)."""

    obs: torch.Tensor  # [T, N, *obs_shape]: the observation each action was chosen in
    actions: torch.Tensor  # [T, N] long
    rewards: torch.Tensor  # [T, N] float32, 0 on padding steps
    dones: torch.Tensor  # [T, N] bool: the episode ended with this step
    mask: torch.Tensor  # [T, N] bool: this step belongs to the column's episode


def collect_episodes(envs, policy, max_steps, seed=None):
    """Play one episode in each copy of a vector environment with a stochastic policy.

    Args:
        envs: a Gymnasium vector environment (N copies).
        policy: module mapping a batch of observations [N, ...] to logits [N, A].
        max_steps: stop after this many steps even if an episode is still running.
        seed: passed to envs.reset (seed the first batch only; later batches
            continue the environments' random streams).

    Returns:
        an EpisodeBatch of tensors on DEVICE.
    """
    obs, _ = envs.reset(seed=seed)
    alive = np.ones(envs.num_envs, dtype=bool)
    steps = []
    with torch.no_grad():
        for _ in range(max_steps):
            obs_t = torch.as_tensor(obs, device=DEVICE)
            probs = torch.softmax(policy(obs_t), dim=-1)
            actions = torch.multinomial(probs, 1).squeeze(-1)
            obs, rewards, terminated, truncated, _ = envs.step(actions.cpu().numpy())
            done = np.logical_or(terminated, truncated)
            steps.append(
                (obs_t, actions, np.where(alive, rewards, 0.0), done & alive, alive.copy())
            )
            alive &= ~done
            if not alive.any():
                break
    obs_seq, act_seq, rew_seq, done_seq, mask_seq = zip(*steps, strict=True)

    def stack(arrays, dtype):
        return torch.as_tensor(np.stack(arrays), dtype=dtype, device=DEVICE)

    return EpisodeBatch(
        torch.stack(obs_seq),
        torch.stack(act_seq),
        stack(rew_seq, torch.float32),
        stack(done_seq, torch.bool),
        stack(mask_seq, torch.bool),
    )


demo_envs = gym.make_vec("rlhelpers/GridWorld-v0", num_envs=3, vectorization_mode="sync")
demo_batch = collect_episodes(demo_envs, nn.Embedding(16, 4).to(DEVICE), max_steps=100, seed=0)
print("shapes:", {k: tuple(v.shape) for k, v in demo_batch._asdict().items()})
print(
    "episode lengths:",
    demo_batch.mask.sum(0).tolist(),
    " returns:",
    demo_batch.rewards.sum(0).cpu().numpy().round(2),
)

# %% [markdown]
# ## Exercise 6: debugging a loss for rollouts with several episodes per column (2 points, about 20 min, medium)
#
# From lesson 04 on, batches are collected differently: every copy of the
# environment runs for a fixed number of steps $T$, and a copy whose episode
# ends is **reset automatically** and starts its next episode in the same
# column. A column then holds several episodes back to back, and its last one
# is usually cut off by the end of the rollout. Now the dones do real work:
# without them a return runs on into the next episode. REINFORCE can only use
# complete episodes, so in such a rollout `mask[t, n]` is true exactly on the
# steps of the episodes that ended inside it.
#
# A colleague ported the function below from a codebase with other
# conventions. It has **one** bug. Run the demo, compare what it prints with
# the returns you work out by hand (the notation box says what `dones` means),
# and find the bug. Then copy the body of `buggy_rollout_loss` into the answer
# cell `fixed_rollout_loss` and fix it there: the same arguments and the same
# results, without the bug. The test checks the returns of the steps inside
# the mask, the loss and its gradient, on the demo's rollout and on random
# ones.
#
# <details><summary>Hint 1: where to look</summary>
#
# The normalisation and the log-probabilities only ever see the masked steps,
# and they are the same as in your `reinforce_loss`. Look at the returns of
# the demo's first column: episode A (steps 0 and 1, rewards 0 and 1,
# $\gamma = 0.5$) should get the returns [0.5, 1.0].
#
# </details>
#
# <details><summary>Hint 2: which step's done?</summary>
#
# In this course `dones[t]` is true when the episode ended **with** step $t$,
# so it is step $t$ that must not receive the return of step $t + 1$. The
# given code asks whether the *next* step's done is set, which is the
# convention of codebases where the flag marks the first step of a new
# episode.
#
# </details>
#
# <details><summary>Hint 3: the key line</summary>
#
# `future = rewards[t] + gamma * (1.0 - dones[t].float()) * future`, for every
# $t$ (no special case for the last step).
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "buggy_rollout_loss", "locked": true, "schema_version": 3, "solution": false, "task": false}
def buggy_rollout_loss(logits, actions, rewards, dones, mask, gamma):
    """REINFORCE loss of a rollout whose columns hold several episodes back to back.

    Args:
        logits: float tensor [T, N, A], the policy's logits at every step (carries the gradient).
        actions: long tensor [T, N], the actions taken.
        rewards: float tensor [T, N], rewards[t] follows actions[t].
        dones: bool tensor [T, N], dones[t] true means an episode ended with step t.
        mask: bool tensor [T, N], true on the steps of the episodes that ended in the rollout.
        gamma: discount factor.

    Returns:
        (loss, returns): the scalar loss -mean(log pi(a|s) * G_hat) over the masked steps,
        G_hat the returns normalised over the masked steps; and the returns [T, N]
        (their values outside the mask do not matter).
    """
    n_steps = rewards.shape[0]
    returns = torch.zeros_like(rewards)
    future = torch.zeros_like(rewards[0])  # the return from the next step on
    for t in reversed(range(n_steps)):
        # a new episode starts at step t + 1: do not carry its return back into step t
        new_episode = dones[t + 1].float() if t + 1 < n_steps else torch.zeros_like(future)
        future = rewards[t] + gamma * (1.0 - new_episode) * future
        returns[t] = future
    g = returns[mask]
    g_hat = (g - g.mean()) / (g.std() + 1e-8)
    log_probs = Categorical(logits=logits[mask]).log_prob(actions[mask])
    return -(log_probs * g_hat).mean(), returns


# %%
# A rollout of T = 5 steps in 2 columns (gamma = 0.5), as an automatic reset produces it:
# column 0: episode A = steps 0-1 (rewards 0, 1; ends with step 1), then episode B, cut off;
# column 1: episode C = steps 0-3 (rewards 0, 0, 0, 1; ends with step 3), then a cut-off one.
debug_rewards = torch.tensor([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
debug_dones = torch.tensor(
    [[False, False], [True, False], [False, False], [False, True], [False, False]]
)
debug_mask = torch.tensor(
    [[True, True], [True, True], [False, True], [False, True], [False, False]]
)
debug_logits = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(0))
debug_actions = torch.tensor([[0, 1], [2, 0], [1, 1], [0, 2], [1, 0]])
debug_loss, debug_returns = buggy_rollout_loss(
    debug_logits, debug_actions, debug_rewards, debug_dones, debug_mask, gamma=0.5
)
print("given function, returns of episode A (column 0, steps 0-1):", debug_returns[:2, 0].tolist())
print("given function, returns of episode C (column 1, steps 0-3):", debug_returns[:4, 1].tolist())
print("given function, loss:", round(debug_loss.item(), 4))


# %% nbgrader={"grade": false, "grade_id": "fixed_rollout_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fixed_rollout_loss(logits, actions, rewards, dones, mask, gamma):
    """buggy_rollout_loss with its bug fixed: the same arguments and results (see its docstring)."""
    ### BEGIN SOLUTION
    n_steps = rewards.shape[0]
    returns = torch.zeros_like(rewards)
    future = torch.zeros_like(rewards[0])  # the return from the next step on
    for t in reversed(range(n_steps)):
        # the episode ended with step t: do not carry the next episode's return back into it
        ended = dones[t].float()
        future = rewards[t] + gamma * (1.0 - ended) * future
        returns[t] = future
    g = returns[mask]
    g_hat = (g - g.mean()) / (g.std() + 1e-8)
    log_probs = Categorical(logits=logits[mask]).log_prob(actions[mask])
    return -(log_probs * g_hat).mean(), returns
    ### END SOLUTION


# %%
fixed_loss, fixed_returns = fixed_rollout_loss(
    debug_logits, debug_actions, debug_rewards, debug_dones, debug_mask, gamma=0.5
)
print("fixed function, returns of episode A:", fixed_returns[:2, 0].tolist())
print("fixed function, returns of episode C:", fixed_returns[:4, 1].tolist())
print("fixed function, loss:", round(fixed_loss.item(), 4))

# %% nbgrader={"grade": true, "grade_id": "test_fixed_rollout_loss", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""fixed_rollout_loss: the demo's rollout by hand; random rollouts with several episodes per column."""
import numpy as np
import torch

from rlhelpers.testing import check_close, check_returns, checks_passed


def _reference_rollout_loss(logits, actions, rewards, dones, mask, gamma):
    """Returns (numpy, float64, per column by hand), the loss and its gradient w.r.t. the logits."""
    r, d = np.asarray(rewards, dtype=np.float64), np.asarray(dones, dtype=bool)
    m = np.asarray(mask, dtype=bool)
    returns = np.zeros_like(r)
    for col in range(r.shape[1]):
        acc = 0.0
        for t in reversed(range(r.shape[0])):
            acc = r[t, col] + (0.0 if d[t, col] else gamma * acc)
            returns[t, col] = acc
    g = torch.tensor(returns[m])
    g_hat = (g - g.mean()) / (g.std() + 1e-8)
    x = torch.tensor(np.asarray(logits.detach(), dtype=np.float64), requires_grad=True)
    log_p = torch.log_softmax(x, dim=-1).gather(-1, actions[..., None])[..., 0]
    loss = -(log_p[torch.as_tensor(m)] * g_hat).mean()
    loss.backward()
    return returns, loss.item(), x.grad


def _check_rollout(logits, actions, rewards, dones, mask, gamma, what):
    expected_returns, expected_loss, expected_grad = _reference_rollout_loss(
        logits, actions, rewards, dones, mask, gamma
    )
    x = logits.detach().clone().requires_grad_(True)
    loss, returns = check_returns(
        fixed_rollout_loss(x, actions, rewards, dones, mask, gamma),
        ("loss", "returns"),
        f"fixed_rollout_loss on {what}",
    )
    m = np.asarray(mask, dtype=bool)
    check_close(
        torch.as_tensor(returns).detach()[torch.as_tensor(m)],
        expected_returns[m],
        f"the returns of the masked steps of {what}",
        atol=1e-4,
        rtol=1e-4,
        hint="dones[t] = True means the episode ended with step t: step t gets no return from step t + 1",
    )
    check_close(
        loss,
        expected_loss,
        f"the loss of {what}",
        atol=1e-5,
        rtol=1e-4,
        hint="normalise the returns over the masked steps only, and use the log-probs of the actions taken",
    )
    loss.backward()
    check_close(
        x.grad, expected_grad, f"the gradient of the loss w.r.t. the logits ({what})", atol=1e-5
    )


_rewards = torch.tensor([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
_dones = torch.tensor(
    [[False, False], [True, False], [False, False], [False, True], [False, False]]
)
_mask = torch.tensor([[True, True], [True, True], [False, True], [False, True], [False, False]])
_logits = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(0))
_actions = torch.tensor([[0, 1], [2, 0], [1, 1], [0, 2], [1, 0]])
_loss, _returns = check_returns(
    fixed_rollout_loss(_logits, _actions, _rewards, _dones, _mask, 0.5),
    ("loss", "returns"),
    "fixed_rollout_loss on the demo's rollout",
)
check_close(
    _returns[:2, 0],
    [0.5, 1.0],
    "the returns of episode A (column 0, steps 0-1, rewards [0, 1], gamma = 0.5)",
    hint="the episode ends with step 1 (dones[1, 0]): step 1 gets only its own reward, step 0 gets 0 + 0.5 * 1",
)
check_close(
    _returns[:4, 1],
    [0.125, 0.25, 0.5, 1.0],
    "the returns of episode C (column 1, steps 0-3, rewards [0, 0, 0, 1], gamma = 0.5)",
    hint="dones[3, 1] is set: step 3 must not receive the return of step 4, which belongs to the next episode",
)
_check_rollout(_logits, _actions, _rewards, _dones, _mask, 0.5, "the demo's rollout")
checks_passed("fixed_rollout_loss")
### BEGIN HIDDEN TESTS
_gen = torch.Generator().manual_seed(17)
for _gamma, (_T, _N) in ((0.9, (30, 5)), (1.0, (12, 3)), (0.0, (8, 4))):
    _dones = torch.rand(_T, _N, generator=_gen) < 0.2
    _dones[_T // 2, 0] = True  # every test has a complete episode
    # mask: the steps up to each column's last done (its complete episodes)
    _last = torch.where(_dones.any(0), _T - 1 - _dones.flip(0).float().argmax(0), -1)
    _mask = torch.arange(_T)[:, None] <= _last[None, :]
    _rewards = torch.randn(_T, _N, generator=_gen)
    _rewards[~_mask] += 10.0  # the cut-off episodes earn a lot: they must not count
    _logits = torch.randn(_T, _N, 4, generator=_gen) * 2
    _actions = torch.randint(0, 4, (_T, _N), generator=_gen)
    _what = f"a random [{_T}, {_N}] rollout (gamma={_gamma})"
    _check_rollout(_logits, _actions, _rewards, _dones, _mask, _gamma, _what)
    if _gamma == 0.9:  # 0/1 float dones work like bool dones
        _check_rollout(
            _logits, _actions, _rewards, _dones.float(), _mask, _gamma, _what + " with float dones"
        )
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 7: REINFORCE on "pick the right action" (3 points, about 30 min, medium)
#
# `rlhelpers/PickAction-v0` is the smallest RL problem there is: each episode
# is one decision among 4 actions; the observation is 2 random numbers that
# carry no information; action `target_action` (2 by default) earns +1 and
# every other action earns `wrong_reward` (-0.1). In LLM terms: a one-token
# response to a meaningless prompt, scored by a reward model that likes one
# particular token. The policy must learn to put its probability on action 2.
#
# Write `train_pick_action(args)`:
# - `rlhelpers.seed_everything(args.seed)`; `args.batch_size` copies of the
#   environment, `gym.make_vec("rlhelpers/PickAction-v0",
#   num_envs=args.batch_size, vectorization_mode="sync",
#   target_action=args.target_action, wrong_reward=args.wrong_reward)`;
# - a policy `make_policy(2, 4, args.hidden)` on `DEVICE` and an Adam optimiser
#   with `args.lr`; a frozen copy of the initial policy as the reference
#   (`copy.deepcopy`) for the KL term;
# - `args.n_episodes // args.batch_size` updates, each on a fresh batch from
#   `collect_episodes(envs, policy, max_steps=1, seed=...)` (the seed on the
#   first batch only): returns with $\gamma = 1$, log-probabilities of the
#   actions taken (steps where `mask` is true), loss =
#   `reinforce_loss(..., normalize=args.normalize)`
#   $-$ `args.entropy_coef` $\cdot$ `entropy_bonus(...)`
#   $+$ `args.kl_coef` $\cdot$ `kl_to_reference(...)`;
# - record every episode's (undiscounted) return, in order, and show a
#   `tqdm` progress bar over the updates.
#
# Return `(policy, returns)` with `returns` a float NumPy array
# `[n_episodes]`. By default there is no normalisation, so you see the raw
# REINFORCE estimate at work.
#
# **Graded:** with the default `PickArgs` (seed 0, 2048 episodes in batches of
# 32, lr 0.01), the trained policy's probability of the target action,
# averaged over 1000 random observations, must be **at least 0.9**. The
# hidden tests also train with target action 0 and with `wrong_reward=0`
# (the same threshold), and check that a large entropy bonus
# (`entropy_coef=1`) keeps the policy from collapsing. Each run takes about a
# second.
#
# <details><summary>Hint 1: the skeleton</summary>
#
# Seed, build the environments, the policy, its frozen copy and the optimiser
# once; then, for each update: collect a batch, compute the loss, then
# `optimizer.zero_grad()`, `loss.backward()`, `optimizer.step()`, and append
# `batch.rewards.sum(0)` (one return per episode, as a NumPy array) to a list
# that you concatenate at the end.
#
# </details>
#
# <details><summary>Hint 2: the log-probabilities with gradients</summary>
#
# The batch was collected without gradients; recompute the logits of the
# steps inside the episodes, `logits = policy(batch.obs[batch.mask])`, and
# take `Categorical(logits=logits).log_prob(batch.actions[batch.mask])`. Use
# the same `logits` for the entropy bonus and, with
# `reference(batch.obs[batch.mask])`, for the KL penalty.
#
# </details>
#
# <details><summary>Hint 3: the key line</summary>
#
# `returns = discounted_returns(batch.rewards, 1.0, batch.dones)[batch.mask]`
# and `loss = reinforce_loss(log_probs, returns, normalize=args.normalize)`,
# then subtract `args.entropy_coef * entropy_bonus(logits)` and add
# `args.kl_coef * kl_to_reference(logits, reference(batch.obs[batch.mask]))`.
# The policy must go **down** the loss: if it learns to avoid action 2, a sign
# is flipped.
#
# </details>


# %%
@dataclass
class PickArgs:
    """Hyperparameters of REINFORCE on PickAction-v0."""

    seed: int = 0
    """seeds torch, numpy and the environments"""
    n_episodes: int = 2048
    """the budget: episodes in total (a multiple of batch_size)"""
    batch_size: int = 32
    """episodes per update (copies of the environment)"""
    lr: float = 1e-2
    """Adam learning rate"""
    hidden: int = 32
    """width of the policy's hidden layer"""
    target_action: int = 2
    """the action that earns +1"""
    wrong_reward: float = -0.1
    """the reward of every other action"""
    normalize: bool = False
    """normalise the returns of each batch in reinforce_loss"""
    entropy_coef: float = 0.0
    """weight beta of the entropy bonus"""
    kl_coef: float = 0.0
    """weight of the KL penalty to the initial policy"""


def prob_of_action(policy, action, n_states=1000, seed=123):
    """Mean probability that `policy` picks `action` on random PickAction observations."""
    states = np.random.default_rng(seed).uniform(-1, 1, size=(n_states, 2)).astype(np.float32)
    device = next(policy.parameters()).device
    with torch.no_grad():
        probs = torch.softmax(policy(torch.as_tensor(states, device=device)), dim=-1)
    return probs[:, action].mean().item()


# %% nbgrader={"grade": false, "grade_id": "train_pick_action", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_pick_action(args):
    """REINFORCE on rlhelpers/PickAction-v0.

    Args:
        args: PickArgs.

    Returns:
        (policy, returns): the trained policy (an nn.Module on DEVICE mapping
        observations [..., 2] to logits [..., 4]) and a float numpy array
        [args.n_episodes], the return of every episode in the order played.
    """
    ### BEGIN SOLUTION
    rlhelpers.seed_everything(args.seed)
    envs = gym.make_vec(
        "rlhelpers/PickAction-v0",
        num_envs=args.batch_size,
        vectorization_mode="sync",
        target_action=args.target_action,
        wrong_reward=args.wrong_reward,
    )
    policy = make_policy(2, 4, args.hidden).to(DEVICE)
    reference = copy.deepcopy(policy).requires_grad_(False)
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr)
    episode_returns = []
    for update in tqdm(range(args.n_episodes // args.batch_size), desc="PickAction", leave=False):
        batch = collect_episodes(envs, policy, max_steps=1, seed=args.seed if update == 0 else None)
        logits = policy(batch.obs[batch.mask])  # [B, 4], recomputed with gradients
        log_probs = Categorical(logits=logits).log_prob(batch.actions[batch.mask])
        returns = discounted_returns(batch.rewards, 1.0, batch.dones)[batch.mask]
        loss = reinforce_loss(log_probs, returns, normalize=args.normalize)
        if args.entropy_coef:
            loss = loss - args.entropy_coef * entropy_bonus(logits)
        if args.kl_coef:
            loss = loss + args.kl_coef * kl_to_reference(logits, reference(batch.obs[batch.mask]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        episode_returns.append(batch.rewards.sum(0).cpu().numpy())
    envs.close()
    return policy, np.concatenate(episode_returns)
    ### END SOLUTION


# %%
def successes(args_list):
    """Train once per PickArgs; per-episode success indicators [runs, n_episodes] (1 = target action)."""
    return np.stack([train_pick_action(a)[1] == 1.0 for a in args_list]).astype(float)


def episodes_to_reach(success_runs, level=0.9, window=256):
    """Per run: the first episode at which the success rate of the last `window` episodes reached `level`."""
    kernel = np.ones(window) / window
    firsts = []
    for run in np.atleast_2d(success_runs):
        rate = np.convolve(run, kernel, mode="valid")
        hits = np.flatnonzero(rate >= level)
        firsts.append(int(hits[0]) + window if hits.size else None)
    return firsts


N_SEEDS = 4  # seeds per setting in the experiments below
pick_policy, pick_returns = train_pick_action(PickArgs())
print(f"P(action 2) after {len(pick_returns)} episodes: {prob_of_action(pick_policy, 2):.3f}")
runs_target_2 = successes([PickArgs(seed=s) for s in range(N_SEEDS)])
print("episodes until 90% success (target 2):", episodes_to_reach(runs_target_2))

# %% nbgrader={"grade": true, "grade_id": "test_train_pick_action", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""train_pick_action: P(target action) >= 0.9 after 2048 episodes (seed 0, default PickArgs)."""
import numpy as np
import torch
from torch import nn

from rlhelpers.testing import (
    check,
    check_between,
    check_returns,
    check_shape,
    check_type,
    checks_passed,
)


def _p_action(policy, action, seed=2024):
    states = np.random.default_rng(seed).uniform(-1, 1, size=(1000, 2)).astype(np.float32)
    with torch.no_grad():
        logits = policy(torch.as_tensor(states, device=next(policy.parameters()).device))
    return torch.softmax(logits, dim=-1)[:, action].mean().item()


_policy, _returns = check_returns(
    train_pick_action(PickArgs(seed=0)),
    ("policy", "returns"),
    "train_pick_action(PickArgs(seed=0))",
)
check_type(_policy, nn.Module, "the policy returned by train_pick_action")
check_shape(
    np.asarray(_returns),
    (2048,),
    "the returns returned by train_pick_action",
    hint="one return per episode: n_episodes of them",
)
check(
    bool(np.all(np.isclose(np.asarray(_returns), 1.0) | np.isclose(np.asarray(_returns), -0.1))),
    "the episode returns of PickAction",
    expected="each +1 (target action) or -0.1 (any other action)",
    got=np.unique(np.asarray(_returns)),
)
check_between(
    _p_action(_policy, 2),
    0.9,
    1.0,
    "the trained policy's mean probability of action 2 (seed 0, 2048 episodes)",
    hint="minimise reinforce_loss with Adam; check the sign of the loss and that you use your log-probs of the actions taken",
)
checks_passed("train_pick_action")
### BEGIN HIDDEN TESTS
_policy, _returns = train_pick_action(PickArgs(seed=4, target_action=0))
check_between(
    _p_action(_policy, 0),
    0.9,
    1.0,
    "the mean probability of action 0 after training with target_action=0 (seed 4)",
    hint="pass args.target_action to the environment",
)
_policy, _returns = train_pick_action(PickArgs(seed=5, wrong_reward=0.0))
check(
    bool(np.all(np.isclose(np.asarray(_returns), 1.0) | np.isclose(np.asarray(_returns), 0.0))),
    "the returns with wrong_reward=0",
    expected="each 1 or 0",
    got=np.unique(np.asarray(_returns)),
    hint="pass args.wrong_reward to the environment",
)
check_between(
    _p_action(_policy, 2), 0.9, 1.0, "the mean probability of action 2 with wrong_reward=0 (seed 5)"
)
_policy, _returns = train_pick_action(PickArgs(seed=6, entropy_coef=1.0))
check_between(
    _p_action(_policy, 2),
    0.3,
    0.75,
    "the mean probability of action 2 with entropy_coef=1 (seed 6)",
    hint="subtract entropy_coef * entropy_bonus(logits) from the loss",
)
_policy, _returns = train_pick_action(PickArgs(seed=7, n_episodes=320, batch_size=16))
check_shape(np.asarray(_returns), (320,), "the returns for n_episodes=320, batch_size=16")
### END HIDDEN TESTS

# %% [markdown]
# ### Experiment A: reward action 0 instead of action 2
#
# Nothing in the network knows which action is "right". Train with
# `target_action=0` and compare the learning curves (success rate, smoothed
# over 128 episodes, mean and 95% band over the seeds).

# %%
runs_target_0 = successes([PickArgs(seed=s, target_action=0) for s in range(N_SEEDS)])
print("episodes until 90% success (target 0):", episodes_to_reach(runs_target_0))
plot_learning_curves(
    {"target action 2": runs_target_2, "target action 0": runs_target_0},
    ylabel="success rate (moving average)",
    smooth=128,
    title="Experiment A: which action is rewarded does not matter",
)
plt.show()

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_target_action", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# ### Written answer A (2 points, graded by hand)
#
# What changed when action 0 was rewarded instead of action 2, and why? What
# does this tell you about where the policy's knowledge of the task comes from?
#
# ### BEGIN SOLUTION
# Nothing of substance: the curves overlap within their bands and both reach
# 90% success after roughly the same number of episodes (about 700 here). The
# network starts with no preference among the actions (nearly uniform
# probabilities), and REINFORCE only uses the reward to decide which sampled
# actions to push up, so relabelling which action is rewarded relabels the
# learning dynamics and nothing else; the small differences come from the
# random initialisation and sampling. The policy's knowledge of the task comes
# entirely from the reward signal: there is no label or supervised target,
# just "that was good / bad" after the fact. For an LLM the same holds: RLHF
# moves probability towards whatever the reward model scores highly, whatever
# that turns out to be.
# ### END SOLUTION

# %% [markdown]
# ### Experiment B: learning rate $10^{-4}$ instead of $10^{-2}$
#
# How many episodes does the policy need to reach 90% success with a learning
# rate 100 times smaller? One seed, with a budget 24 times larger (a few
# seconds), on a log scale.

# %%
runs_slow = successes([PickArgs(seed=0, lr=1e-4, n_episodes=49_152)])
print(
    "episodes until 90% success, lr=1e-2:",
    episodes_to_reach(runs_target_2),
    " lr=1e-4:",
    episodes_to_reach(runs_slow),
)
ax = plot_learning_curves(
    {"lr = 1e-2": runs_target_2}, smooth=128, ylabel="success rate (moving average)"
)
plot_learning_curves(
    {"lr = 1e-4": runs_slow}, ax=ax, smooth=128, ylabel="success rate (moving average)"
)
ax.axhline(0.9, color="grey", ls=":")
ax.set_xscale("log")
ax.set_title("Experiment B: a 100x smaller learning rate")
plt.show()

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_learning_rate", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# ### Written answer B (2 points, graded by hand)
#
# How many episodes did learning rate $10^{-4}$ need to reach 90%, compared
# with $10^{-2}$? Explain the ratio, and say what a too-small learning rate
# costs when every episode is an expensive LLM generation.
#
# ### BEGIN SOLUTION
# With lr = 1e-2 the policy reaches 90% success after about 700 episodes;
# with lr = 1e-4 it needs about 40,000-45,000 episodes, roughly 60 times more.
# Adam's steps have a size of about lr per parameter whatever the gradient's
# scale, so the parameters move about 100 times slower per update and the
# logits need correspondingly more updates to open the same gap between the
# target action and the others; the ratio is a little below 100 because at
# lr = 1e-2 part of the time goes into the first noisy updates and the
# smoothing window. With a batch of 32 episodes per update this is ~1300
# updates instead of ~22. When each episode is an LLM response that costs a
# forward pass of a large model plus a reward-model call, a 60x slower
# learning rate is a 60x larger compute bill for the same policy; a too-large
# learning rate has the opposite risk (unstable, collapsing updates), which is
# why PPO (lesson 06) limits how far one update may move the policy.
# ### END SOLUTION

# %% [markdown]
# ### Experiment C: wrong actions earn 0 instead of -0.1
#
# What happens when wrong answers are not punished, only ignored? We also
# try `wrong_reward = +0.5` (every answer is rewarded, the right one more).

# %%
runs_zero = successes([PickArgs(seed=s, wrong_reward=0.0) for s in range(N_SEEDS)])
runs_positive = successes([PickArgs(seed=s, wrong_reward=0.5) for s in range(N_SEEDS)])
for name, runs in (("-0.1", runs_target_2), ("0.0", runs_zero), ("+0.5", runs_positive)):
    print(f"wrong_reward {name}: episodes until 90% success {episodes_to_reach(runs)}")
plot_learning_curves(
    {
        "wrong reward -0.1": runs_target_2,
        "wrong reward 0.0": runs_zero,
        "wrong reward +0.5": runs_positive,
    },
    ylabel="success rate (moving average)",
    smooth=128,
    title="Experiment C: the reward of the wrong actions",
)
plt.show()

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_zero_reward", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# ### Written answer C (2 points, graded by hand)
#
# What happens with `wrong_reward = 0.0`, and why? Use the REINFORCE estimate
# $G\, \nabla \log \pi(a)$ and the analytic gradient of Exercise 2 in your
# explanation. What does the `+0.5` curve add?
#
# ### BEGIN SOLUTION
# The policy still learns, at almost the same speed as with -0.1. An episode
# with return 0 contributes $0 \cdot \nabla \log \pi(a) = 0$: wrong answers are
# simply ignored, and at the start only the ~25% successful episodes produce a
# gradient. But those are enough: for a softmax, $\nabla \log \pi(\text{target})
# = e_{\text{target}} - \pi$ raises the target's logit *and* lowers every other
# action's probability, because the probabilities must sum to one. The -0.1
# only adds a small extra push against the wrong actions. Exercise 2's formula
# quantifies it: the expected gradient on the target's logit is
# $\pi_t(1 - J)$; with rewards (1, 0) this is $\pi_t(1 - \pi_t)$, with
# (1, -0.1) it is $1.1\,\pi_t(1 - \pi_t)$: the same direction, 10% larger,
# and Adam's step-size normalisation removes most of even that difference.
# What matters is the *difference* between the rewards of good and bad
# actions, not their sign. The +0.5 curve shows the cost of rewards that are
# all positive without a baseline: every sampled action, also a wrong one, is
# pushed up, and only the larger push of the right one wins on average, so
# the estimate is noisier and learning is somewhat slower. Subtracting a
# baseline (return normalisation, or the critic of lesson 04) removes this.
# ### END SOLUTION

# %% [markdown]
# ## Exploration collapse, and its two cures
#
# In the experiments above the policy ends with the target's probability at
# 0.999: it has become deterministic. Here that is what we want, because the
# task has one right answer. In general it is a trap: REINFORCE can only learn
# about actions it samples, and a policy that has collapsed onto a mediocre
# action early stops sampling the alternatives, so it never finds out that one
# of them was better (the greedy bandit of lesson 01 had the same problem). An
# LLM tuned with RL without precautions shows the same symptom as **mode
# collapse**: the same phrasing for every prompt, and no diversity left to
# learn from. The two standard cures:
#
# - **entropy bonus**: subtract $\beta \bar H$ from the loss, so the policy is
#   paid for staying uncertain (used in A2C and PPO, lessons 04-06);
# - **KL penalty**: add $\beta\, \mathrm{KL}(\pi \,\|\, \pi_{\text{ref}})$, so
#   the policy pays for moving away from a trusted reference (the RLHF choice:
#   it also keeps the language fluent and limits reward hacking).
#
# Both trade reward for keeping options open; $\beta$ sets the exchange rate.
# The demo below trains PickAction with each and shows the final action
# probabilities: with $\beta = 0$ everything is on action 2; with the
# penalties the policy keeps a share for the other actions.

# %%
collapse_settings = {
    "no bonus": PickArgs(seed=0),
    "entropy bonus 0.5": PickArgs(seed=0, entropy_coef=0.5),
    "KL penalty 0.5": PickArgs(seed=0, kl_coef=0.5),
}
final_probs = {}
for label, setting in collapse_settings.items():
    policy_c, _ = train_pick_action(setting)
    final_probs[label] = np.array([prob_of_action(policy_c, a) for a in range(4)])
    print(f"{label:18s} action probabilities {final_probs[label].round(3)}")
plot_action_probs(
    final_probs, title="Final policies: the bonus and the penalty keep exploration alive"
)
plt.show()

# %% [markdown]
# ## Exercise 8: REINFORCE finds the shortest path in the GridWorld (3 points, about 20 min, medium)
#
# Back to lesson 02's GridWorld (`rlhelpers/GridWorld-v0`: 4x4, start in the
# top-left, +1 for reaching the goal in the bottom-right, -0.01 for every
# other step, at most 100 steps). A shortest path has 6 steps, and with the
# step penalty and $\gamma = 0.99$ it is also the highest-return one. Now
# episodes are many steps long, so the discounted returns do real work: a
# step's return tells how soon the goal followed it. (The dones still change
# nothing in `collect_episodes`'s batches, as explained above; pass
# `batch.dones` all the same, so that your code stays right for rollouts like
# those of Exercise 6.)
#
# The state is a cell number 0..15, so the policy can be a table of logits,
# one row per state: `nn.Embedding(16, 4)` maps a state index to its 4 logits.
# Initialise its weights to zero (the uniform policy) with
# `nn.init.zeros_(policy.weight)`.
#
# Write `train_gridworld(args)`, the same loop as Exercise 7 with
# `gym.make_vec("rlhelpers/GridWorld-v0", num_envs=args.n_envs,
# vectorization_mode="sync")`, `collect_episodes(..., max_steps=100, ...)`,
# returns with `args.gamma` and the batch's `dones`, only the masked steps
# in the loss, normalised returns, and `args.n_iterations` updates. Return
# `(policy, returns)` with `returns` a float array `[n_iterations * n_envs]`.
#
# **Graded:** with the default `GridArgs` (seed 0, 50 updates of 16 episodes,
# lr 0.05), the greedy policy (argmax of the logits) must walk from the start
# to the goal in **exactly 6 steps**. About a second.
#
# <details><summary>Hint 1: what changes from Exercise 7</summary>
#
# The environment and the policy (`nn.Embedding(16, 4)` with zero weights),
# `max_steps=100`, the discount `args.gamma` instead of 1, and
# `normalize=True`. No entropy bonus and no KL penalty.
#
# </details>
#
# <details><summary>Hint 2: the key lines</summary>
#
# `returns = discounted_returns(batch.rewards, args.gamma, batch.dones)`, then
# `log_probs = Categorical(logits=policy(batch.obs)).log_prob(batch.actions)`
# and `loss = reinforce_loss(log_probs[batch.mask], returns[batch.mask],
# normalize=True)`. Compute the returns over the whole `[T, N]` batch first and
# select the masked steps afterwards: the backward pass needs the time axis.
#
# </details>


# %%
@dataclass
class GridArgs:
    """Hyperparameters of REINFORCE on GridWorld-v0."""

    seed: int = 0
    """seeds torch, numpy and the environments"""
    n_iterations: int = 50
    """the budget: number of updates"""
    n_envs: int = 16
    """episodes per update"""
    lr: float = 0.05
    """Adam learning rate"""
    gamma: float = 0.99
    """discount factor"""


def greedy_path(policy, env_id="rlhelpers/GridWorld-v0", max_steps=100):
    """States visited by the greedy policy from the start, and whether it reached the goal."""
    env = gym.make(env_id)
    state, _ = env.reset(seed=0)
    path, device = [int(state)], next(policy.parameters()).device
    for _ in range(max_steps):
        with torch.no_grad():
            action = policy(torch.as_tensor(state, device=device)).argmax().item()
        state, _, terminated, truncated, _ = env.step(action)
        path.append(int(state))
        if terminated or truncated:
            return path, bool(terminated)
    return path, False


# %% nbgrader={"grade": false, "grade_id": "train_gridworld", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_gridworld(args):
    """REINFORCE with a tabular softmax policy on rlhelpers/GridWorld-v0.

    Args:
        args: GridArgs.

    Returns:
        (policy, returns): the trained nn.Embedding(16, 4) policy on DEVICE
        (state indices [...] -> logits [..., 4]) and a float numpy array
        [args.n_iterations * args.n_envs] of undiscounted episode returns.
    """
    ### BEGIN SOLUTION
    rlhelpers.seed_everything(args.seed)
    envs = gym.make_vec("rlhelpers/GridWorld-v0", num_envs=args.n_envs, vectorization_mode="sync")
    policy = nn.Embedding(16, 4).to(DEVICE)
    nn.init.zeros_(policy.weight)
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr)
    episode_returns = []
    for iteration in tqdm(range(args.n_iterations), desc="GridWorld", leave=False):
        batch = collect_episodes(
            envs, policy, max_steps=100, seed=args.seed if iteration == 0 else None
        )
        returns = discounted_returns(batch.rewards, args.gamma, batch.dones)
        log_probs = Categorical(logits=policy(batch.obs)).log_prob(batch.actions)
        loss = reinforce_loss(log_probs[batch.mask], returns[batch.mask], normalize=True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        episode_returns.append(batch.rewards.sum(0).cpu().numpy())
    envs.close()
    return policy, np.concatenate(episode_returns)
    ### END SOLUTION


# %%
grid_runs = []
for s in range(N_SEEDS):
    grid_policy, grid_returns = train_gridworld(GridArgs(seed=s))
    grid_runs.append(grid_returns)
path, reached = greedy_path(grid_policy)
print(f"greedy path of the last run: {path} ({len(path) - 1} steps, goal reached: {reached})")
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
plot_learning_curves(
    {"REINFORCE, 16 episodes per update": np.stack(grid_runs)},
    ax=axes[0],
    smooth=16,
    title="GridWorld: return per episode",
)
axes[0].axhline(0.95, color="grey", ls=":", label="shortest path (0.95)")
axes[0].legend()
with torch.no_grad():
    grid_probs = torch.softmax(grid_policy.weight, dim=-1).cpu().numpy()
plot_value_heatmap(
    grid_probs.max(axis=1),
    policy=grid_probs,
    ax=axes[1],
    terminal_states=[15],
    title="greedy action and its probability",
)
plt.show()

# %% nbgrader={"grade": true, "grade_id": "test_train_gridworld", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""train_gridworld: the greedy policy takes the 6-step shortest path (seed 0, 50 updates of 16 episodes)."""
import gymnasium as gym
import numpy as np
import torch
from torch import nn

import rlhelpers
from rlhelpers.testing import check, check_returns, check_shape, check_type, checks_passed


def _greedy_steps(policy):
    env = gym.make("rlhelpers/GridWorld-v0")
    state, _ = env.reset(seed=0)
    device = next(policy.parameters()).device
    for step in range(1, 101):
        with torch.no_grad():
            action = int(policy(torch.as_tensor(state, device=device)).argmax())
        state, _, terminated, truncated, _ = env.step(action)
        if terminated:
            return step
        if truncated:
            break
    return None


_policy, _returns = check_returns(
    train_gridworld(GridArgs(seed=0)),
    ("policy", "returns"),
    "train_gridworld(GridArgs(seed=0))",
)
check_type(_policy, nn.Module, "the policy returned by train_gridworld")
check_shape(
    np.asarray(_returns),
    (800,),
    "the returns returned by train_gridworld",
    hint="one return per episode: n_iterations * n_envs",
)
check(
    _greedy_steps(_policy) == 6,
    "the number of steps the greedy policy needs from the start to the goal (seed 0)",
    expected=6,
    got=_greedy_steps(_policy),
    hint="None means it never reaches the goal; check the sign of the loss and the discount (args.gamma)",
)
checks_passed("train_gridworld")
### BEGIN HIDDEN TESTS
_policy, _returns = train_gridworld(GridArgs(seed=3))
check(
    _greedy_steps(_policy) == 6,
    "the greedy path length after training with seed 3",
    expected=6,
    got=_greedy_steps(_policy),
)
_returns = np.asarray(_returns)
check(
    bool(np.all(_returns <= 0.95 + 1e-6)) and bool(np.all(_returns >= -1.0 - 1e-6)),
    "the episode returns of the GridWorld",
    expected="between -1 (100 steps without the goal) and 0.95 (the shortest path)",
    got=(_returns.min(), _returns.max()),
    hint="an episode's return is the sum of its own rewards, without padding steps",
)
check(
    _returns[-160:].mean() > _returns[:160].mean() + 0.1,
    "the mean return of the last 160 episodes vs the first 160",
    expected="clearly higher",
    got=(_returns[:160].mean(), _returns[-160:].mean()),
)
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 9: REINFORCE on CartPole (4 points, about 20 min, medium)
#
# CartPole-v1: push a cart left or right to keep a pole upright; +1 per step,
# at most 500 steps. The observation is 4 numbers, so the policy is the MLP
# `make_policy(4, 2, args.hidden)`. This is where REINFORCE's noise shows:
# returns differ by hundreds between episodes. Return normalisation and a
# batch of 32 episodes per update keep it under control.
#
# Write `train_cartpole(args)`: the same loop again, with
# `gym.make_vec("CartPole-v1", num_envs=args.n_envs,
# vectorization_mode="vector_entry_point")` (Gymnasium's NumPy-vectorised
# CartPole: all copies step in one call) and `collect_episodes(...,
# max_steps=500, ...)`; add `args.entropy_coef` times your entropy bonus if it
# is not 0. Return `(policy, returns)` with `returns` `[n_iterations * n_envs]`.
#
# **Graded:** with the default `CartPoleArgs` (seed 0, 40 updates of 32
# episodes, lr 0.01, a 4-64-2 network), the **greedy** policy (argmax of the
# logits) must reach a **mean return of at least 400 over 20 evaluation
# episodes**. The sampling policy's returns are lower than the greedy ones:
# its random actions occasionally tip the pole. Training takes a few seconds.
#
# <details><summary>Hint 1: what changes from Exercise 8</summary>
#
# The environment, the policy `make_policy(4, 2, args.hidden)` (an MLP: its
# default initialisation is fine), `max_steps=500`, and the optional entropy
# bonus. Record `batch.rewards.sum(0)`: in CartPole that is each episode's
# length.
#
# </details>
#
# <details><summary>Hint 2: the key lines</summary>
#
# `returns = discounted_returns(batch.rewards, args.gamma, batch.dones)[batch.mask]`,
# `logits = policy(batch.obs[batch.mask])`,
# `log_probs = Categorical(logits=logits).log_prob(batch.actions[batch.mask])`,
# `loss = reinforce_loss(log_probs, returns, normalize=True)`, and if
# `args.entropy_coef` is not 0, `loss = loss - args.entropy_coef *
# entropy_bonus(logits)`.
#
# </details>


# %%
@dataclass
class CartPoleArgs:
    """Hyperparameters of REINFORCE on CartPole-v1."""

    seed: int = 0
    """seeds torch, numpy and the environments"""
    n_iterations: int = 40
    """the budget: number of updates"""
    n_envs: int = 32
    """episodes per update"""
    lr: float = 1e-2
    """Adam learning rate"""
    hidden: int = 64
    """width of the policy's hidden layer"""
    gamma: float = 0.99
    """discount factor"""
    entropy_coef: float = 0.0
    """weight of the entropy bonus"""


def evaluate_greedy(policy, n_episodes=20, seed=10_000):
    """Mean return of the greedy policy on CartPole-v1 over n_episodes (run side by side)."""
    envs = gym.make_vec("CartPole-v1", num_envs=n_episodes, vectorization_mode="vector_entry_point")
    obs, _ = envs.reset(seed=seed)
    device = next(policy.parameters()).device
    total, alive = np.zeros(n_episodes), np.ones(n_episodes, dtype=bool)
    with torch.no_grad():
        while alive.any():
            actions = policy(torch.as_tensor(obs, device=device)).argmax(-1).cpu().numpy()
            obs, rewards, terminated, truncated, _ = envs.step(actions)
            total += rewards * alive
            alive &= ~(terminated | truncated)
    envs.close()
    return total.mean()


# %% nbgrader={"grade": false, "grade_id": "train_cartpole", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_cartpole(args):
    """REINFORCE with return normalisation on CartPole-v1.

    Args:
        args: CartPoleArgs.

    Returns:
        (policy, returns): the trained policy (nn.Module on DEVICE, observations
        [..., 4] -> logits [..., 2]) and a float numpy array
        [args.n_iterations * args.n_envs] of episode returns.
    """
    ### BEGIN SOLUTION
    rlhelpers.seed_everything(args.seed)
    envs = gym.make_vec(
        "CartPole-v1", num_envs=args.n_envs, vectorization_mode="vector_entry_point"
    )
    policy = make_policy(4, 2, args.hidden).to(DEVICE)
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr)
    episode_returns = []
    for iteration in tqdm(range(args.n_iterations), desc="CartPole", leave=False):
        batch = collect_episodes(
            envs, policy, max_steps=500, seed=args.seed if iteration == 0 else None
        )
        returns = discounted_returns(batch.rewards, args.gamma, batch.dones)[batch.mask]
        logits = policy(batch.obs[batch.mask])  # only the steps inside episodes, [B, 2]
        log_probs = Categorical(logits=logits).log_prob(batch.actions[batch.mask])
        loss = reinforce_loss(log_probs, returns, normalize=True)
        if args.entropy_coef:
            loss = loss - args.entropy_coef * entropy_bonus(logits)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        episode_returns.append(batch.rewards.sum(0).cpu().numpy())
    envs.close()
    return policy, np.concatenate(episode_returns)
    ### END SOLUTION


# %%
CARTPOLE_SEEDS = (1, 2)  # the test below trains seed 0
cartpole_runs = []
for s in CARTPOLE_SEEDS:
    cartpole_policy, cartpole_returns = train_cartpole(CartPoleArgs(seed=s))
    cartpole_runs.append(cartpole_returns)
    print(
        f"seed {s}: mean sampled return of the last 32 episodes {cartpole_returns[-32:].mean():.0f}, greedy evaluation {evaluate_greedy(cartpole_policy):.0f}"
    )
ax = plot_learning_curves(
    {"REINFORCE, 32 episodes per update": np.stack(cartpole_runs)},
    smooth=32,
    title="CartPole-v1: return per episode (sampling policy)",
)
ax.axhline(500, color="grey", ls=":")
plt.show()

# %% nbgrader={"grade": true, "grade_id": "test_train_cartpole", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
"""train_cartpole: greedy mean return >= 400 over 20 episodes (seed 0, 40 updates of 32 episodes)."""
import gymnasium as gym
import numpy as np
import torch
from torch import nn

import rlhelpers
from rlhelpers.evaluation import evaluate_greedy_policy
from rlhelpers.testing import (
    check,
    check_between,
    check_close,
    check_returns,
    check_shape,
    check_type,
    checks_passed,
)

_policy, _returns = check_returns(
    train_cartpole(CartPoleArgs(seed=0)),
    ("policy", "returns"),
    "train_cartpole(CartPoleArgs(seed=0))",
)
check_type(_policy, nn.Module, "the policy returned by train_cartpole")
check_shape(
    np.asarray(_returns),
    (40 * 32,),
    "the returns returned by train_cartpole",
    hint="one return per episode: n_iterations * n_envs",
)
check_between(
    evaluate_greedy_policy(_policy),
    400.0,
    500.0,
    "the greedy policy's mean return over 20 CartPole episodes (seed 0, 40 updates of 32 episodes)",
    hint="check the sign of the loss, that the returns are normalised, and that the log-probs are those of the actions taken",
)
checks_passed("train_cartpole")
### BEGIN HIDDEN TESTS
_returns = np.asarray(_returns)
check(
    bool(np.all((_returns >= 1) & (_returns <= 500))) and np.allclose(_returns, np.round(_returns)),
    "the CartPole episode returns",
    expected="whole numbers between 1 and 500 (the episode lengths)",
    got=(_returns.min(), _returns.max()),
    hint="record each episode's own undiscounted return",
)
check(
    _returns[-64:].mean() > _returns[:64].mean() + 100,
    "the mean return of the last 64 episodes vs the first 64",
    expected="at least 100 higher",
    got=(_returns[:64].mean(), _returns[-64:].mean()),
)
# the same seed gives the same run; the budget arguments are honoured
_a = np.asarray(train_cartpole(CartPoleArgs(seed=9, n_iterations=2, n_envs=4))[1])
_b = np.asarray(train_cartpole(CartPoleArgs(seed=9, n_iterations=2, n_envs=4))[1])
check_shape(_a, (8,), "the returns for n_iterations=2, n_envs=4")
check_close(
    _a,
    _b,
    "the returns of two runs with the same seed (9)",
    hint="seed everything with rlhelpers.seed_everything(args.seed) and the first reset with args.seed",
)
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 10: quiz (2 points, about 10 min, easy)
#
# Set each variable to your answer. Each question is worth half a point; once
# the quiz is graded, the feedback explains every question you got right.
#
# 1. `answer_q1`: every token of a response has probability exactly 0.5. From
#    what length $n$ on is the product of the probabilities exactly `0.0` even
#    in **float64** (Python's `float`)? An integer (try it).
# 2. `answer_q2`: PickAction with `wrong_reward = +0.5` and no normalisation.
#    A batch holds a single episode, in which a wrong action was sampled (its
#    return is 0.5). A small gradient-descent step on this batch's
#    `reinforce_loss` makes that wrong action (a) more likely, (b) less
#    likely, (c) neither more nor less likely. A letter.
# 3. `answer_q3`: at the first update, the policy equals its reference
#    $\pi_{\text{ref}}$ (a frozen copy of the initial policy). The gradient of
#    the KL penalty $\beta\, \mathrm{KL}(\pi \,\|\, \pi_{\text{ref}})$ with respect to
#    the policy's parameters is then (a) the largest it will be during
#    training, (b) a push towards the uniform policy, (c) zero. A letter.
# 4. `answer_q4`: a response has $T$ tokens, the reward model's score $s$ is
#    the reward of the last token (`rewards[T - 1] = s`, every other reward 0),
#    and $\gamma = 0.9$. The return `returns[t]` of token $t$ is
#    (a) $s$ for every token, (b) $\gamma^{T-1-t} s$, (c) $\gamma^{t} s$. A letter.
#
# <details><summary>Hint: how to check your answers</summary>
#
# Question 1: try `0.5 ** n` for a few `n` in Python. Question 2: write down the
# sign of $G\, \nabla \log \pi(a)$ for the sampled action. Question 3: what is
# the smallest value of a KL divergence, and where is it reached? Question 4:
# your `discounted_returns` computes it.
#
# </details>

# %% nbgrader={"grade": false, "grade_id": "quiz", "locked": false, "schema_version": 3, "solution": true, "task": false}
# Replace None by your answers, then delete the `raise NotImplementedError()` line.
answer_q1 = None  # an integer
answer_q2 = None  # a letter: "a", "b" or "c"
answer_q3 = None  # a letter: "a", "b" or "c"
answer_q4 = None  # a letter: "a", "b" or "c"
### BEGIN SOLUTION
answer_q1 = 1075
answer_q2 = "a"
answer_q3 = "c"
answer_q4 = "b"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_quiz", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""quiz: the answers have the right form (visible); each right answer scores half a point (hidden)."""
from rlhelpers.testing import Quiz, checks_passed

_quiz = Quiz(points=2)
_quiz.answered("answer_q1", answer_q1, number=True)
_quiz.answered("answer_q2", answer_q2, choices="abc")
_quiz.answered("answer_q3", answer_q3, choices="abc")
_quiz.answered("answer_q4", answer_q4, choices="abc")
checks_passed("quiz")
### BEGIN HIDDEN TESTS
_quiz.question(
    "answer_q1",
    answer_q1,
    1075,
    explanation="float64's smallest positive number is the subnormal 2**-1074; 2**-1075 lies exactly "
    "halfway between it and 0 and rounds to 0 (round half to even). Log-probabilities avoid the "
    "problem at any length.",
)
_quiz.question(
    "answer_q2",
    answer_q2,
    "a",
    explanation="the update is lr * 0.5 * grad log pi(a): a positive return raises log pi(a), so without "
    "a baseline every sampled action is reinforced, the wrong ones too, and only on average does the "
    "right one win. A baseline removes this noise.",
)
_quiz.question(
    "answer_q3",
    answer_q3,
    "c",
    explanation="KL(pi || pi_ref) >= 0 with equality exactly at pi = pi_ref: a minimum, where the gradient "
    "is zero. The penalty starts to act only once the policy has drifted, and then pulls it back "
    "towards pi_ref.",
)
_quiz.question(
    "answer_q4",
    answer_q4,
    "b",
    explanation="returns[t] = rewards[t] + gamma * rewards[t + 1] + ... has only the last term, "
    "gamma**(T - 1 - t) * s: the score is discounted once per token between t and the end, so early "
    "tokens get the least credit (with gamma = 1 they would all get s).",
)
### END HIDDEN TESTS
_quiz.score()

# %% [markdown]
# ## Summary
#
# - A policy network outputs logits; `Categorical(logits=...)` samples actions
#   and gives their log-probabilities. Work with log-probabilities: products
#   of many probabilities underflow, sums of logs do not.
# - The policy gradient $\mathbb{E}[\sum_t G_t \nabla \log \pi(A_t \mid S_t)]$
#   needs only samples and returns; its sample average is unbiased (Exercise
#   2), but noisy. (With $\gamma < 1$ the exact gradient has an extra
#   $\gamma^t$, which practice drops.)
# - REINFORCE = collect episodes, compute returns backwards with done masks,
#   minimise $-\mathrm{mean}(\log \pi \cdot \hat G)$. Normalising the returns (a
#   baseline plus a scale) tames the noise at the price of a bias of order
#   $1/B$; the learning rate sets the speed.
# - The dones and the mask say where episodes end and which steps count;
#   when a column holds several episodes, a done read one step off leaks
#   returns from one episode into another (Exercise 6).
# - Policies collapse to deterministic ones; an entropy bonus or a KL penalty
#   to a reference policy keeps them exploring, and the KL penalty is the one
#   RLHF uses.
#
# Next, lesson 04 replaces the batch-mean baseline by a learned value
# function $V(s)$: the **advantage** $G_t - V(S_t)$ gives the same expected
# gradient with much less variance, and the result, actor-critic, is the
# skeleton of PPO.
