# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 01: Bandits, exploring and exploiting
#
# Before an LLM is tuned with RLHF it has to answer a simpler question again
# and again: *which of my options is best, when the only way to find out is to
# try them?* That is the multi-armed bandit, the smallest problem that has all
# of reinforcement learning's vocabulary: an agent, actions, rewards, and the
# tension between using what it knows (exploiting) and finding out more
# (exploring).
#
# **Goals.** After this lesson you can
# - name the parts of the RL loop and map each one onto LLM generation;
# - keep a running average without storing the data (the update rule that
#   returns in TD learning), and average a whole log of pulls at once;
# - find and fix a planted bug in NumPy code that looks right;
# - write epsilon-greedy, softmax (temperature) and UCB action selection;
# - run the 10-armed testbed for 2000 runs at once with NumPy and reproduce
#   Sutton & Barto's Figures 2.2 and 2.4;
# - train a small PyTorch Q(x, a) on a contextual bandit, the one-step version
#   of "prompt in, answer out, score back".
#
# **Points: 27** (24 autograded in 8 exercises, 3 for one written answer).
# **Time:** about 3 hours: the exercises' estimates add up to 2 hours 40
# minutes, the written answer takes about 15 minutes, and the reading the rest.
#
# **How you are graded.** Each exercise states its points. Pressing *Validate*
# runs only the **visible** tests in the test cells. The grade is decided by
# **hidden tests** in the same cells, which use fresh random inputs, edge cases
# and the reference numbers from the book, so a function that only reproduces
# the visible examples will not pass. Training exercises state their pass
# threshold and budget; the grader uses a fixed seed and the reference solution
# passes on every seed we tried.
#
# **Partial credit.** A quiz scores each question and an exercise with parts
# scores each part; any other test cell is all or nothing. In this lesson the
# quiz (Exercise 8) is the one cell with partial credit: 0.5 points a question.
#
# **Hints.** Every exercise has hints you can open (the `Hint` lines): the
# first is a nudge, the last gives the key line. Try without them first; the
# message of a failed visible test gives one more hint.
#
# Write your code between the answer cells' markers (replace the
# `raise NotImplementedError()`), and do not change the test cells.

# %% [markdown]
# > **Notation.** The book (Sutton & Barto) numbers time so that the action
# > A_t taken in state S_t is followed by the reward R_{t+1} and the state
# > S_{t+1}, and the return is G_t = R_{t+1} + gamma R_{t+2} + gamma^2 R_{t+3} + ...
# > The arrays of the code are indexed by the step instead: `rewards[t]` is the
# > reward that follows `actions[t]`, taken in `states[t]` (the book's R_{t+1}),
# > so `returns[t] = rewards[t] + gamma * rewards[t+1] + ...` is the book's G_t,
# > and `dones[t] = 1` means the episode ended with step t.

# %%
from dataclasses import dataclass

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm.auto import tqdm

import rlhelpers
from rlhelpers.bandits import Testbed
from rlhelpers.testing import check, check_between, check_close, check_shape, check_type

DEVICE = rlhelpers.device()
print("torch device:", DEVICE)

# %% [markdown]
# ## The RL loop, and where an LLM sits in it
#
# Reinforcement learning is a loop. An **agent** looks at the **state** of its
# **environment**, picks an **action**, and the environment answers with a
# **reward** (a number: how good was that?) and a new state. One pass from a
# start to an end is an **episode**. The agent's rule for picking actions is its
# **policy**; learning means changing the policy so that the reward adds up to
# more.
#
# An LLM fits this loop with no stretching at all:
#
# | RL term | Meaning | In LLM generation (RLHF) |
# |---|---|---|
# | agent / policy $\pi(a \mid s)$ | chooses actions, possibly at random | the language model: a distribution over the next token |
# | state $s_t$ | what the agent knows when it acts | the prompt plus the tokens generated so far |
# | action $a_t$ | one choice | one token |
# | environment | answers actions with rewards and new states | appending the token to the text (and, at the end, the reward model) |
# | reward $r$ | a scalar score | the reward model's score of the whole response (given at the last token) |
# | episode | start to end | one complete response to one prompt |
# | exploration | trying actions whose value is uncertain | sampling with temperature instead of always taking the top token |
#
# A **bandit** is the special case with a single state: every episode is one
# action and one reward. In LLM terms: the same prompt every time, and a
# "response" that is a single choice among $k$ canned answers. The arms'
# reward distributions are unknown; the agent has a budget of $T$ pulls and
# wants the total reward to be large. In the notation box's terms a bandit
# episode is a single step: `rewards[0]` follows `actions[0]` and
# `dones[0] = 1`. In this lesson $R_n$ (with $n$ counting the pulls of one arm)
# is simply the $n$-th reward that arm paid.
#
# **Estimating the value of an arm.** The value of arm $a$ is its expected
# reward $q_*(a) = \mathbb{E}[R \mid A = a]$. The natural estimate is the
# empirical mean of the rewards seen so far from that arm:
#
# $$Q_n(a) = \frac{R_1 + R_2 + \dots + R_{n}}{n}.$$

# %% [markdown]
# ## Exercise 1: the incremental mean (2 points, about 10 min, easy)
#
# Storing every reward to recompute the mean is wasteful. With a little algebra
# the mean after $n$ rewards follows from the mean after $n-1$:
#
# $$Q_{n} = Q_{n-1} + \frac{1}{n}\,\bigl(R_n - Q_{n-1}\bigr).$$
#
# Read it as *new estimate = old estimate + step size x (target - old
# estimate)*. The bracket is an **error**: how far the newest data point is
# from what we believed. With step size $1/n$ this gives the sample mean
# *exactly*; with a constant step size $\alpha$ it gives an exponentially
# weighted average that forgets old data (useful when the arms drift). You will
# meet the same shape again in the TD update of lesson 05,
# $V(s) \leftarrow V(s) + \alpha\,(r + \gamma V(s') - V(s))$, which moves a
# value towards a target in exactly this way.
#
# The policy-gradient step of lessons 03-06 is a different rule:
# $\theta \leftarrow \theta + \alpha\,(G - b)\,\nabla_\theta \log \pi_\theta(A \mid S)$.
# There is no target that the parameters $\theta$ move towards, and $G - b$
# (the return minus a baseline) is not "target - $\theta$": it is a number
# that says how much better than expected the sampled action turned out, and
# it scales the direction $\nabla_\theta \log \pi_\theta$ that makes that
# action more likely. What the two rules share is a step size times a
# comparison of an outcome with an expectation. (One common baseline $b$ is
# itself a running average of past returns, kept with the update of this
# exercise.)
#
# Write `incremental_update(estimate, target, step_size)`. It must work on
# floats and, element-wise, on NumPy arrays of the same (or broadcastable)
# shape, because the testbed will update 2000 estimates at once.
#
# <details><summary>Hint 1: arrays</summary>
#
# NumPy's `+`, `-` and `*` already work element by element and broadcast, so
# the function needs no loop, no `if` and no `float()`: write the formula once
# and it works for floats and arrays alike.
#
# </details>
#
# <details><summary>Hint 2: the key line</summary>
#
# `return estimate + step_size * (target - estimate)`
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "incremental_update", "locked": false, "schema_version": 3, "solution": true, "task": false}
def incremental_update(estimate, target, step_size):
    """One step towards a target: estimate + step_size * (target - estimate).

    Args:
        estimate: float or float array [...], the current estimate Q.
        target: float or float array [...] (broadcastable), the new data point R.
        step_size: float or float array [...] (broadcastable), alpha (1/n for the mean).

    Returns:
        the new estimate, a float or a float array of the broadcast shape
        (a new value: the inputs are not modified).
    """
    ### BEGIN SOLUTION
    return estimate + step_size * (target - estimate)
    ### END SOLUTION


# %%
# A small demo: the running mean of 2, 4, 9 with step size 1/n.
q = 0.0
for n, r in enumerate([2.0, 4.0, 9.0], start=1):
    q = incremental_update(q, r, 1.0 / n)
    print(f"after {n} rewards: Q = {q}")

# %% nbgrader={"grade": true, "grade_id": "test_incremental_update", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""incremental_update: hand-computed steps; with step 1/n it equals the batch mean."""
import numpy as np

from rlhelpers.testing import check_close, checks_passed

check_close(
    incremental_update(0.0, 10.0, 0.1),
    1.0,
    "incremental_update(0.0, 10.0, 0.1)",
    hint="new = old + step_size * (target - old)",
)
check_close(
    incremental_update(4.0, 2.0, 0.5),
    3.0,
    "incremental_update(4.0, 2.0, 0.5)",
    hint="the step moves the estimate towards the target, so 4 -> 3 here",
)
_q = 0.0
_means = []
for _n, _r in enumerate([2.0, 4.0, 9.0], start=1):
    _q = incremental_update(_q, _r, 1.0 / _n)
    _means.append(_q)
check_close(
    np.array(_means),
    np.array([2.0, 3.0, 5.0]),
    "the running means of [2, 4, 9] with step size 1/n",
    hint="with step size 1/n the update must give the ordinary mean of the rewards so far",
)
check_close(
    incremental_update(np.array([0.0, 1.0]), np.array([1.0, 3.0]), np.array([0.5, 0.25])),
    np.array([0.5, 1.5]),
    "incremental_update on arrays",
    hint="use NumPy arithmetic, element by element (no Python loop, no float() casts)",
)
checks_passed("incremental_update")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(101)
for _length in (1, 7, 1000):
    _rewards = _rng.normal(_rng.uniform(-5, 5), 3.0, size=_length)
    _q = 0.0
    for _n, _r in enumerate(_rewards, start=1):
        _q = incremental_update(_q, _r, 1.0 / _n)
    check_close(
        _q,
        np.mean(_rewards),
        f"the incremental mean of {_length} random rewards",
        atol=1e-9,
        rtol=1e-9,
        hint="with step size 1/n the result must equal np.mean of the rewards",
    )
# constant step size: an exponentially weighted average, computed in closed form
_alpha = 0.3
_rewards = _rng.normal(size=20)
_q0 = 1.7
_q = _q0
for _r in _rewards:
    _q = incremental_update(_q, _r, _alpha)
_weights = _alpha * (1 - _alpha) ** np.arange(len(_rewards))[::-1]
check_close(
    _q,
    (1 - _alpha) ** len(_rewards) * _q0 + np.sum(_weights * _rewards),
    "20 updates with a constant step size 0.3",
    atol=1e-9,
    hint="new = old + step_size * (target - old)",
)
# arrays, broadcasting, and no modification of the inputs
_est = _rng.normal(size=(50, 10))
_tgt = _rng.normal(size=(50, 10))
_step = _rng.uniform(0, 1, size=(50, 10))
_est_copy = _est.copy()
check_close(
    incremental_update(_est, _tgt, _step),
    _est + _step * (_tgt - _est),
    "incremental_update on (50, 10) arrays",
)
check_close(_est, _est_copy, "the estimate array after the call (it should not be modified)")
check_close(
    incremental_update(_est, _tgt, 0.1),
    _est + 0.1 * (_tgt - _est),
    "incremental_update with a scalar step size",
)
check_close(incremental_update(3.0, 8.0, 1.0), 8.0, "a step size of 1 (jump to the target)")
check_close(incremental_update(3.0, 8.0, 0.0), 3.0, "a step size of 0 (no change)")
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 2: debugging, arm values from a log of pulls (2 points, about 15 min, medium)
#
# Exercise 1 updates a mean one reward at a time. Often the data comes as a
# **log** instead: a deployed system showed each user one of $k$ canned
# answers and recorded the user's score (in LLM terms: $k$ candidate responses,
# and a log of which one each user saw and how they rated it). The value of
# each arm is then the mean reward of its entries in the log, and with
# millions of entries it should be computed with NumPy, not a Python loop.
#
# The function `arm_means` below does this. It runs, it returns an array of
# the right shape, and it has **one bug**. The demo under it runs it on a log
# of five pulls that you can average by hand. Find the bug from the symptom,
# then write `fixed_arm_means`: the same function with the bug fixed (copy the
# code into the answer cell and change what is wrong; the cell with the given
# code is read-only). As in the given code, an arm that is not in the log gets
# the value 0.
#
# <details><summary>Hint 1: where to look</summary>
#
# Compare the demo's output with the means by hand, arm by arm. For an arm
# with several entries in the log, which of its rewards does the wrong value
# come from? Print `counts` and `sums` inside a copy of the function.
#
# </details>
#
# <details><summary>Hint 2: the NumPy rule that is broken</summary>
#
# Try `a = np.zeros(2); a[[0, 0, 1]] += 1; print(a)`. With repeated indices,
# `a[idx] += v` reads `a[idx]` once, adds `v` and writes the result back, so a
# position that occurs several times keeps only one of its writes (in
# practice the last): nothing accumulates. (`Q[rows, actions]` in Exercise 5 is safe: every run occurs
# once in `rows`.)
#
# </details>
#
# <details><summary>Hint 3: the key line</summary>
#
# `np.add.at(sums, actions, rewards)` adds every entry, repeated indices
# included (`sums = np.bincount(actions, weights=rewards, minlength=k)` works
# too).
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "arm_means_given", "locked": true, "schema_version": 3, "solution": false, "task": false}
def arm_means(actions, rewards, k):
    """The sample-average value of each arm from a log of pulls (one bug).

    Args:
        actions: int array [T], the arm of each entry of the log (0 .. k-1).
        rewards: float array [T], the reward that followed each pull.
        k: int, the number of arms.

    Returns:
        float array [k]: Q(a), the mean reward of the entries with arm a (0 for an arm not in the log).
    """
    actions = np.asarray(actions, dtype=int)
    rewards = np.asarray(rewards, dtype=float)
    counts = np.bincount(actions, minlength=k)  # N(a): how often each arm occurs in the log
    sums = np.zeros(k)
    sums[actions] += rewards  # the total reward of each arm
    return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)


# %%
# The symptom: a log of five pulls of k = 4 arms (arms 1 and 3 are not in it).
log_actions = np.array([0, 2, 0, 0, 2])
log_rewards = np.array([1.0, 5.0, 2.0, 6.0, 3.0])
print("arm_means:", arm_means(log_actions, log_rewards, k=4))
print("by hand:  ", np.array([(1.0 + 2.0 + 6.0) / 3, 0.0, (5.0 + 3.0) / 2, 0.0]))


# %% nbgrader={"grade": false, "grade_id": "fixed_arm_means", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fixed_arm_means(actions, rewards, k):
    """The function `arm_means` with its bug fixed.

    Args:
        actions: int array [T], the arm of each entry of the log (0 .. k-1).
        rewards: float array [T], the reward that followed each pull.
        k: int, the number of arms.

    Returns:
        float array [k]: Q(a), the mean reward of the entries with arm a (0 for an arm not in the log).
    """
    ### BEGIN SOLUTION
    actions = np.asarray(actions, dtype=int)
    rewards = np.asarray(rewards, dtype=float)
    counts = np.bincount(actions, minlength=k)  # N(a): how often each arm occurs in the log
    sums = np.zeros(k)
    # the fix: `sums[actions] += rewards` keeps only one reward of a repeated arm;
    # np.add.at adds every entry
    np.add.at(sums, actions, rewards)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_fixed_arm_means", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""fixed_arm_means: the demo's log by hand, arms not in the log, random logs with repeats."""
import warnings

import numpy as np

from rlhelpers.testing import check_close, check_shape, checks_passed

with warnings.catch_warnings():  # a warning on stderr would count as a failed cell
    warnings.simplefilter("ignore")
    _q = fixed_arm_means(np.array([0, 2, 0, 0, 2]), np.array([1.0, 5.0, 2.0, 6.0, 3.0]), 4)
check_shape(
    _q, (4,), "fixed_arm_means([0, 2, 0, 0, 2], [1, 5, 2, 6, 3], k=4)", hint="one value per arm"
)
check_close(
    np.asarray(_q)[[1, 3]],
    np.zeros(2),
    "the values of arms 1 and 3, which are not in the log",
    hint="an arm that is not in the log gets 0: keep the guard against 0 / 0",
)
check_close(
    _q,
    np.array([3.0, 0.0, 4.0, 0.0]),
    "fixed_arm_means([0, 2, 0, 0, 2], [1, 5, 2, 6, 3], k=4)",
    hint="Q(a) is the mean of arm a's own entries, arm 0's is (1 + 2 + 6) / 3 = 3; "
    "with repeated indices, sums[actions] += rewards keeps only one of them",
)
checks_passed("fixed_arm_means")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(2718)
for _T, _k in ((1, 3), (12, 2), (1000, 7), (50_000, 10)):
    _acts = _rng.integers(0, _k, size=_T)
    _acts[_acts == _k - 1] = 0  # the last arm is never in the log
    _rews = _rng.normal(_rng.normal(size=_k)[_acts], 1.0)
    _acts_copy, _rews_copy = _acts.copy(), _rews.copy()
    _expected = np.array(
        [_rews[_acts == _a].mean() if np.any(_acts == _a) else 0.0 for _a in range(_k)]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _q = fixed_arm_means(_acts, _rews, _k)
    check_close(
        _q,
        _expected,
        f"fixed_arm_means on a random log of {_T} pulls of {_k} arms",
        atol=1e-9,
        hint="the mean of each arm's entries; 0 for an arm not in the log",
    )
    check_close(_acts, _acts_copy, "the actions array after the call (it should not be modified)")
    check_close(_rews, _rews_copy, "the rewards array after the call (it should not be modified)")
# an empty log: every arm gets 0
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _q = fixed_arm_means(np.zeros(0, dtype=int), np.zeros(0), 3)
check_close(_q, np.zeros(3), "fixed_arm_means on an empty log (k=3)")
# one arm repeated many times: the mean, not the last reward
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _q = fixed_arm_means(np.ones(6, dtype=int), np.arange(6.0), 2)
check_close(
    _q, np.array([0.0, 2.5]), "fixed_arm_means([1, 1, 1, 1, 1, 1], [0, 1, 2, 3, 4, 5], k=2)"
)
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 3: epsilon-greedy with random tie-breaking (3 points, about 25 min, medium)
#
# A **greedy** agent always pulls the arm with the highest estimate. Is that
# enough? Keep the question in mind: Figure 2.2 in Exercise 5 shows how a
# greedy agent fares, and the written answer at the end asks you to explain
# it. **Epsilon-greedy** adds exploration cheaply: with
# probability $1-\varepsilon$ act greedily, with probability $\varepsilon$ pull
# an arm chosen uniformly at random among all $k$ arms (the greedy one
# included). The greedy arm (when there is no tie) is therefore chosen with probability
#
# $$1 - \varepsilon + \frac{\varepsilon}{k},$$
#
# and every other arm with probability $\varepsilon / k$.
#
# **Ties.** At the start all estimates are 0, so "the" greedy arm does not
# exist. `np.argmax` would always return the first of the tied arms, which
# quietly biases the agent towards arm 0. Break ties **uniformly at random**
# among the arms that share the maximum.
#
# Write `epsilon_greedy(q_values, epsilon, rng)`:
# - `q_values` of shape `(k,)`: return one action, an integer;
# - `q_values` of shape `(runs, k)`: return an integer array of shape `(runs,)`,
#   one independent choice per row, **without a Python loop over the rows**
#   (the testbed calls this for 2000 runs at every step).
#
# Use only `rng` (a `numpy.random.Generator`) for randomness.
#
# <details><summary>Hint 1: one shape for both cases</summary>
#
# Turn a `(k,)` input into a `(1, k)` array with `np.atleast_2d`, do all the
# work on `(runs, k)` arrays, and at the end return `int(actions[0])` when the
# input was 1-D.
#
# </details>
#
# <details><summary>Hint 2: random tie-breaking without a loop</summary>
#
# Draw a random number per arm and keep it only where the arm is tied for its
# row's maximum (put -1 elsewhere); the `argmax` of that is uniform over the
# tied arms:
# `is_max = q == q.max(axis=1, keepdims=True)` and
# `greedy = np.argmax(np.where(is_max, rng.random((runs, k)), -1.0), axis=1)`.
#
# </details>
#
# <details><summary>Hint 3: exploring, one coin per run</summary>
#
# `explore = rng.random(runs) < epsilon` decides for each run on its own, and
# `np.where(explore, rng.integers(0, k, size=runs), greedy)` picks the actions.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "epsilon_greedy", "locked": false, "schema_version": 3, "solution": true, "task": false}
def epsilon_greedy(q_values, epsilon, rng):
    """Epsilon-greedy action selection with uniform random tie-breaking.

    Args:
        q_values: float array [k] or [runs, k], the action-value estimates Q(a).
        epsilon: float in [0, 1], the probability of a uniformly random action.
        rng: numpy.random.Generator, the only source of randomness.

    Returns:
        an int (for q_values [k]) or an int array [runs] (for q_values [runs, k]).
    """
    ### BEGIN SOLUTION
    q = np.asarray(q_values, dtype=float)
    single = q.ndim == 1
    q = np.atleast_2d(q)
    runs, k = q.shape
    is_max = q == q.max(axis=1, keepdims=True)
    # a random key per arm, -1 for the arms that are not tied for the maximum
    greedy = np.argmax(np.where(is_max, rng.random((runs, k)), -1.0), axis=1)
    explore = rng.random(runs) < epsilon
    random_arms = rng.integers(0, k, size=runs)
    actions = np.where(explore, random_arms, greedy)
    return int(actions[0]) if single else actions
    ### END SOLUTION


# %%
demo_rng = np.random.default_rng(0)
demo_q = np.array([1.0, 3.0, 3.0, 0.0])
demo_actions = epsilon_greedy(np.tile(demo_q, (10_000, 1)), 0.1, demo_rng)
print("single choice:", epsilon_greedy(demo_q, 0.1, demo_rng))
print(
    "action frequencies for Q = [1, 3, 3, 0], eps = 0.1:",
    np.bincount(demo_actions, minlength=4) / 10_000,
)

# %% nbgrader={"grade": true, "grade_id": "test_epsilon_greedy", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""epsilon_greedy: types and shapes, the greedy frequency 1 - eps + eps/k, random ties."""
import numpy as np

from rlhelpers.testing import check, check_between, check_close, check_shape, checks_passed

_rng = np.random.default_rng(2024)
_a = epsilon_greedy(np.array([0.0, 2.0, 1.0]), 0.0, _rng)
check(
    isinstance(_a, int | np.integer),
    "epsilon_greedy on a 1-D q_values",
    expected="a single integer action",
    got=_a,
    hint="for q_values of shape (k,) return one int, e.g. int(action)",
)
check(
    _a == 1,
    "epsilon_greedy([0, 2, 1], epsilon=0)",
    expected=1,
    got=_a,
    hint="with epsilon=0 always take the largest estimate",
)
_n = 20_000
_acts = epsilon_greedy(np.tile([0.0, 5.0, 1.0, 2.0], (_n, 1)), 0.2, _rng)
check_shape(
    _acts, (_n,), "epsilon_greedy on q_values of shape (20000, 4)", hint="one action per row"
)
_freq = np.bincount(np.asarray(_acts, dtype=int), minlength=4) / _n
_sd = np.sqrt(0.85 * 0.15 / _n)
check_between(
    _freq[1],
    0.85 - 5 * _sd,
    0.85 + 5 * _sd,
    "the frequency of the greedy arm for eps=0.2, k=4",
    hint="greedy with probability 1 - eps, and a uniform arm among ALL k (greedy included) with probability eps: 1 - 0.2 + 0.2/4 = 0.85",
)
_acts = epsilon_greedy(np.tile([1.0, 3.0, 3.0, 0.0], (_n, 1)), 0.0, _rng)
_freq = np.bincount(np.asarray(_acts, dtype=int), minlength=4) / _n
_sd = np.sqrt(0.25 / _n)
check_between(
    _freq[1],
    0.5 - 5 * _sd,
    0.5 + 5 * _sd,
    "the frequency of arm 1 for Q = [1, 3, 3, 0], eps=0 (arms 1 and 2 are tied)",
    hint="break ties uniformly at random among the tied arms; np.argmax always returns the first one",
)
checks_passed("epsilon_greedy")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(77)
# ties in the 1-D form too
_single = np.array([epsilon_greedy(np.array([2.0, 0.0, 2.0, 2.0]), 0.0, _rng) for _ in range(3000)])
check(
    set(np.unique(_single).tolist()) == {0, 2, 3},
    "the actions chosen for Q = [2, 0, 2, 2], eps=0 (1-D input, 3000 calls)",
    expected="each of the tied arms 0, 2, 3 and never arm 1",
    got=np.unique(_single),
    hint="break ties at random in the 1-D case as well",
)
for _arm in (0, 2, 3):
    check_between(
        np.mean(_single == _arm),
        1 / 3 - 5 * np.sqrt(2 / 9 / 3000),
        1 / 3 + 5 * np.sqrt(2 / 9 / 3000),
        f"the frequency of tied arm {_arm} for Q = [2, 0, 2, 2]",
        hint="each tied arm should get the same share",
    )
# random problems: every arm's frequency, for several k and eps
_n = 40_000
for _k, _eps in ((3, 0.3), (10, 0.1), (7, 0.5), (5, 1.0)):
    _qv = _rng.normal(size=(_n, _k))
    _best = np.argmax(_qv, axis=1)
    _acts = np.asarray(epsilon_greedy(_qv, _eps, _rng))
    check_shape(_acts, (_n,), f"epsilon_greedy on ({_n}, {_k}) values")
    check(
        np.issubdtype(_acts.dtype, np.integer),
        "the dtype of the actions",
        expected="integers",
        got=_acts.dtype,
    )
    _p = 1 - _eps + _eps / _k
    check_between(
        np.mean(_acts == _best),
        _p - 5 * np.sqrt(_p * (1 - _p) / _n) - 1e-12,
        _p + 5 * np.sqrt(_p * (1 - _p) / _n) + 1e-12,
        f"the frequency of each row's greedy arm (k={_k}, eps={_eps})",
        hint="each row must be decided by its own values, and greedy with probability 1 - eps + eps/k",
    )
    # an exploring step picks one of the k arms uniformly: look at a fixed non-greedy rank
    _second = np.argsort(_qv, axis=1)[:, -2]
    _p2 = _eps / _k
    check_between(
        np.mean(_acts == _second),
        _p2 - 5 * np.sqrt(_p2 * (1 - _p2) / _n) - 1e-12,
        _p2 + 5 * np.sqrt(_p2 * (1 - _p2) / _n) + 1e-12,
        f"the frequency of each row's second-best arm (k={_k}, eps={_eps})",
        hint="a random action is uniform over all k arms",
    )
# rows are independent: the same tie in every row must not give the same answer everywhere
_acts = np.asarray(epsilon_greedy(np.zeros((2000, 10)), 0.0, _rng))
_counts = np.bincount(_acts, minlength=10)
check(
    _counts.min() > 120 and _counts.max() < 290,
    "the actions for 2000 rows of ten tied zeros (eps=0)",
    expected="every arm about 200 times",
    got=_counts,
    hint="draw an independent tie-break for every row",
)
# eps=0 with a unique maximum is deterministic
_qv = _rng.normal(size=(500, 6))
check_close(
    np.asarray(epsilon_greedy(_qv, 0.0, _rng)),
    np.argmax(_qv, axis=1),
    "epsilon_greedy with eps=0 and no ties",
)
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 4: softmax selection and temperature (3 points, about 15 min, easy)
#
# Epsilon-greedy explores blindly: when it explores, a terrible arm is as
# likely as a nearly-best one. **Softmax** (Boltzmann) selection makes better
# arms more likely in proportion to how good they look:
#
# $$\pi(a) = \frac{e^{Q(a)/\tau}}{\sum_b e^{Q(b)/\tau}}.$$
#
# The **temperature** $\tau > 0$ sets the spread. As $\tau \to 0$ the largest
# value wins everything (argmax, pure exploitation); as $\tau \to \infty$ all
# arms become equally likely (uniform, pure exploration).
#
# This is exactly the temperature knob of LLM sampling: the model outputs one
# logit per token, and the sampler draws from `softmax(logits / T)`. `T = 0`
# (greedy decoding) always gives the same, most likely answer; `T = 1` samples
# from the model's own distribution; large `T` makes the text more varied and,
# eventually, random.
#
# **Numerical stability.** $e^{1000}$ overflows to `inf` in floating point,
# and `inf / inf` is `nan`. Since softmax does not change when the same
# constant is subtracted from every value, subtract the maximum first: then
# the largest exponent is $e^0 = 1$ and nothing overflows.
#
# Write `softmax_probs(q_values, temperature)` for a 1-D array, and also for an
# array `(..., k)` where the softmax runs over the last axis.
#
# <details><summary>Hint 1: the order of the steps</summary>
#
# Divide by the temperature, subtract the maximum of the last axis, take
# `np.exp`, divide by the sum of the last axis. Use `axis=-1, keepdims=True`
# for the maximum and the sum, so that they broadcast against `(..., k)`.
#
# </details>
#
# <details><summary>Hint 2: the key lines</summary>
#
# `z = np.asarray(q_values, dtype=float) / temperature`,
# `z = z - z.max(axis=-1, keepdims=True)`, `w = np.exp(z)`,
# `return w / w.sum(axis=-1, keepdims=True)`.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "softmax_probs", "locked": false, "schema_version": 3, "solution": true, "task": false}
def softmax_probs(q_values, temperature):
    """Boltzmann probabilities exp(Q/tau) / sum exp(Q/tau) over the last axis.

    Args:
        q_values: float array [..., k], action values or logits.
        temperature: float > 0, tau.

    Returns:
        float array [..., k] of probabilities; each row sums to 1; no overflow for large values.
    """
    ### BEGIN SOLUTION
    z = np.asarray(q_values, dtype=float) / temperature
    z = z - z.max(axis=-1, keepdims=True)  # the largest exponent becomes exp(0) = 1
    weights = np.exp(z)
    return weights / weights.sum(axis=-1, keepdims=True)
    ### END SOLUTION


# %%
# The LLM view: the same four "next-token logits" sampled at different temperatures.
token_logits = np.array([2.0, 1.0, 0.5, -1.0])
token_names = ["Paris", "Lyon", "France", "banana"]
fig, ax = plt.subplots(figsize=(7, 3.5))
width = 0.2
for i, tau in enumerate([0.1, 0.5, 1.0, 5.0]):
    ax.bar(
        np.arange(4) + (i - 1.5) * width,
        softmax_probs(token_logits, tau),
        width,
        label=f"tau = {tau}",
    )
ax.set_xticks(np.arange(4), token_names)
ax.set_xlabel("next token (action)")
ax.set_ylabel("sampling probability")
ax.set_title("Softmax over the same logits at four temperatures")
ax.legend()
plt.show()

# %% nbgrader={"grade": true, "grade_id": "test_softmax_probs", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""softmax_probs: hand-computed values, temperature, stability for large values."""
import numpy as np

from rlhelpers.testing import check, check_close, checks_passed

check_close(
    softmax_probs(np.array([0.0, 0.0]), 1.0),
    np.array([0.5, 0.5]),
    "softmax_probs([0, 0], 1)",
    hint="equal values give equal probabilities",
)
check_close(
    softmax_probs(np.array([0.0, np.log(3.0)]), 1.0),
    np.array([0.25, 0.75]),
    "softmax_probs([0, ln 3], 1)",
    hint="exp(0) = 1 and exp(ln 3) = 3, so the probabilities are 1/4 and 3/4",
)
check_close(
    softmax_probs(np.array([0.0, 2.0 * np.log(3.0)]), 2.0),
    np.array([0.25, 0.75]),
    "softmax_probs([0, 2 ln 3], temperature=2)",
    hint="divide the values by the temperature before the exponential",
)
check_close(
    softmax_probs(np.array([1000.0, 1000.0 + np.log(3.0)]), 1.0),
    np.array([0.25, 0.75]),
    "softmax_probs([1000, 1000 + ln 3], 1)",
    hint="exp(1000) overflows: subtract the maximum value before exponentiating",
)
check_close(
    softmax_probs(np.array([[0.0, np.log(3.0)], [5.0, 5.0]]), 1.0),
    np.array([[0.25, 0.75], [0.5, 0.5]]),
    "softmax_probs on a (2, 2) array (one softmax per row)",
    hint="normalise over the last axis: sum(axis=-1, keepdims=True)",
)
checks_passed("softmax_probs")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(5)
for _shape, _tau in (((7,), 0.3), ((4, 9), 2.5), ((2, 3, 5), 1.0), ((6,), 40.0)):
    _qv = _rng.normal(scale=3.0, size=_shape)
    _e = np.exp((_qv - _qv.max(axis=-1, keepdims=True)) / _tau)
    check_close(
        softmax_probs(_qv, _tau),
        _e / _e.sum(axis=-1, keepdims=True),
        f"softmax_probs on random values of shape {_shape}, tau={_tau}",
        hint="exp((Q - max Q) / tau), normalised over the last axis",
    )
# large values, positive and negative, never give nan
for _qv in (
    np.array([1000.0, 999.0, 0.0]),
    np.array([-1000.0, -1001.0, -1002.0]),
    np.array([1e4, -1e4]),
):
    _p = softmax_probs(_qv, 1.0)
    check(
        np.all(np.isfinite(_p)),
        f"softmax_probs({_qv.tolist()}, 1)",
        expected="finite probabilities",
        got=_p,
        hint="subtract the maximum before exp",
    )
    _e = np.exp(_qv - _qv.max())
    check_close(_p, _e / _e.sum(), f"softmax_probs({_qv.tolist()}, 1)")
# adding a constant changes nothing
_qv = _rng.normal(size=8)
check_close(
    softmax_probs(_qv + 123.0, 0.7),
    softmax_probs(_qv, 0.7),
    "softmax_probs(Q + 123) vs softmax_probs(Q)",
)
# tau -> 0: argmax; tau -> inf: uniform
_qv = np.array([0.3, 1.2, -0.5, 1.1, 0.0])
_p = softmax_probs(_qv, 1e-3)
check_close(
    _p,
    np.eye(5)[1],
    "softmax_probs at tau=1e-3",
    atol=1e-6,
    hint="a tiny temperature should put (almost) all probability on the argmax",
)
_p = softmax_probs(_qv, 1e-8)
check_close(
    _p,
    np.eye(5)[1],
    "softmax_probs at tau=1e-8",
    atol=1e-9,
    hint="small temperatures make Q/tau huge: subtract the maximum",
)
_p = softmax_probs(_qv, 1e5)
check_close(
    _p,
    np.full(5, 0.2),
    "softmax_probs at tau=1e5",
    atol=1e-4,
    hint="a huge temperature should give (almost) a uniform distribution",
)
# the probability of the best arm falls as the temperature rises
_best = [softmax_probs(_qv, _t)[1] for _t in (0.05, 0.2, 1.0, 5.0, 50.0)]
check(
    np.all(np.diff(_best) < 0),
    "the best arm's probability as tau grows",
    expected="strictly decreasing",
    got=np.array(_best),
)
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 5: the 10-armed testbed, 2000 runs at once (4 points, about 30 min, medium)
#
# Sutton & Barto compare exploration rules on a family of random problems, the
# **10-armed testbed**. Each run draws the true values $q_*(a) \sim
# \mathcal{N}(0, 1)$ for $a = 1..10$; pulling arm $a$ pays $R \sim
# \mathcal{N}(q_*(a), 1)$. The agent starts from $Q(a) = 0$ and keeps
# sample-average estimates (Exercise 1 with step size $1/N(a)$, $N(a)$ the
# number of pulls of arm $a$ so far). One run is
# 1000 steps; the curves average 2000 independent runs. (In LLM terms: 2000
# different prompts, each with 10 canned answers of unknown quality, and a
# budget of 1000 reward-model queries per prompt.)
#
# A Python loop over 2000 runs x 1000 steps would take minutes. Instead
# **vectorise over runs**: hold `Q` and `N` as `(runs, k)` arrays, pick one
# action per run with your `epsilon_greedy`, and loop only over the 1000 steps.
# The environment side is given: `rlhelpers.bandits.Testbed(runs, k, rng=rng)`
# draws `q_star` `(runs, k)`, knows each run's `optimal_action` `(runs,)`, and
# `pull(actions)` returns one reward per run. Fancy indexing helps:
# `Q[np.arange(runs), actions]` is each run's estimate of the arm it pulled.
#
# `run_testbed(epsilon, runs, steps, k, seed)` returns two float arrays of
# shape `(steps,)`: the reward at each step averaged over runs, and the
# fraction of runs that pulled their optimal arm at each step. Use one
# `np.random.default_rng(seed)` for both the testbed and the agent.
#
# What to expect at step 1000 (Figure 2.2): $\varepsilon = 0.1$ has an average
# reward of about 1.35-1.45 and picks the optimal arm about 80% of the time;
# $\varepsilon = 0.01$ is still climbing (about 1.3 and 55-60%); the greedy
# agent stalls near 1.0 and 35%. The hidden test checks these numbers (averaged
# over the last 50 steps, on another seed, with tolerances a correct agent
# meets on any seed) and that it is vectorised: one `pull` of the testbed per step for all
# runs together.
#
# Validate checks a short version of the figure, so that an agent that learns
# too slowly shows up early: with $\varepsilon = 0.1$, 1000 runs and 300
# steps, a correct agent pulls its optimal arm about 68% of the time over
# steps 201-300, and the visible test accepts 61% to 76% (a constant step
# size such as 0.1, or $1/t$ with $t$ the step, stays below that).
#
# <details><summary>Hint 1: the shape of the loop</summary>
#
# Create `rng`, the `Testbed` and `(runs, k)` arrays `q` and `n` of zeros
# before the loop. Each of the `steps` iterations then does four things for
# all runs at once: choose `actions = epsilon_greedy(q, epsilon, rng)`, get
# `rewards = bandit.pull(actions)`, update `n` and `q` for the arm each run
# pulled, and record `rewards.mean()` and
# `np.mean(actions == bandit.optimal_action)`.
#
# </details>
#
# <details><summary>Hint 2: the key lines (the update)</summary>
#
# With `rows = np.arange(runs)`:
# `n[rows, actions] += 1`, then
# `q[rows, actions] = incremental_update(q[rows, actions], rewards, 1.0 / n[rows, actions])`.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "run_testbed", "locked": false, "schema_version": 3, "solution": true, "task": false}
def run_testbed(epsilon, runs=2000, steps=1000, k=10, seed=0):
    """Sample-average epsilon-greedy agents on the k-armed testbed, vectorised over runs.

    Args:
        epsilon: float, the exploration rate of every agent.
        runs: int, independent problems (and agents) simulated together.
        steps: int, pulls per run.
        k: int, arms per problem.
        seed: int, seeds the single numpy Generator used by testbed and agents.

    Returns:
        (avg_reward, frac_optimal): float arrays [steps], averaged over runs.
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    bandit = Testbed(runs, k=k, rng=rng)
    q = np.zeros((runs, k))  # Q(a), the sample averages
    n = np.zeros((runs, k))  # N(a), the pull counts
    rows = np.arange(runs)
    avg_reward = np.zeros(steps)
    frac_optimal = np.zeros(steps)
    for t in range(steps):
        actions = epsilon_greedy(q, epsilon, rng)
        rewards = bandit.pull(actions)
        n[rows, actions] += 1
        q[rows, actions] = incremental_update(q[rows, actions], rewards, 1.0 / n[rows, actions])
        avg_reward[t] = rewards.mean()
        frac_optimal[t] = np.mean(actions == bandit.optimal_action)
    return avg_reward, frac_optimal
    ### END SOLUTION


# %%
# Figure 2.2 of Sutton & Barto: three agents, 2000 runs x 1000 steps each.
testbed_results = {eps: run_testbed(eps) for eps in tqdm([0.0, 0.01, 0.1], desc="testbed")}
fig, (ax_reward, ax_optimal) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
for eps, (avg_reward, frac_optimal) in testbed_results.items():
    label = "greedy (eps = 0)" if eps == 0 else f"eps = {eps}"
    ax_reward.plot(np.arange(1, 1001), avg_reward, label=label, lw=1)
    ax_optimal.plot(np.arange(1, 1001), 100 * frac_optimal, label=label, lw=1)
    print(
        f"{label:>18}: last 50 steps: reward {avg_reward[-50:].mean():.3f}, optimal {frac_optimal[-50:].mean():.1%}"
    )
ax_reward.set_ylabel("average reward")
ax_optimal.set_ylabel("% optimal action")
ax_optimal.set_xlabel("step")
ax_reward.set_title("10-armed testbed, 2000 runs (Sutton & Barto Figure 2.2)")
ax_reward.legend()
plt.show()

# %% nbgrader={"grade": true, "grade_id": "test_run_testbed", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
"""run_testbed: shapes, sanity checks, a short Figure 2.2 (visible), the full figure (hidden)."""
import numpy as np

from rlhelpers.bandits import Testbed
from rlhelpers.testing import (
    check,
    check_between,
    check_close,
    check_returns,
    check_shape,
    checks_passed,
)

with np.errstate(all="ignore"):  # a warning on stderr would count as a failed cell
    _reward, _optimal = check_returns(
        run_testbed(0.1, runs=300, steps=40, k=10, seed=1),
        ("reward", "optimal"),
        "run_testbed(0.1, runs=300, steps=40, k=10, seed=1)",
    )
check_shape(
    _reward,
    (40,),
    "the average reward returned by run_testbed(runs=300, steps=40)",
    hint="one value per step, averaged over the runs",
)
check_shape(
    _optimal,
    (40,),
    "the fraction optimal returned by run_testbed(runs=300, steps=40)",
    hint="one value per step, averaged over the runs",
)
check_between(
    _optimal,
    0.0,
    1.0,
    "the fraction of optimal actions",
    hint="a fraction, not a count or a percentage",
)
with np.errstate(all="ignore"):
    _reward2, _optimal2 = run_testbed(0.1, runs=300, steps=40, k=10, seed=1)
check_close(
    _reward2,
    _reward,
    "run_testbed called twice with the same seed",
    hint="draw every random number from np.random.default_rng(seed)",
)
with np.errstate(all="ignore"):
    _, _optimal = run_testbed(0.1, runs=50, steps=20, k=1, seed=2)
check_close(
    _optimal,
    np.ones(20),
    "the fraction optimal with a single arm (k=1)",
    hint="compare the actions with the testbed's optimal_action",
)
with np.errstate(all="ignore"):
    _reward, _optimal = run_testbed(1.0, runs=2000, steps=30, k=10, seed=3)
check_between(
    _optimal.mean(),
    0.08,
    0.12,
    "the fraction optimal of a purely random agent (eps=1, k=10)",
    hint="it should be about 1/k; compare actions with bandit.optimal_action",
)
check_between(
    _reward.mean(),
    -0.08,
    0.08,
    "the average reward of a purely random agent (eps=1)",
    hint="random arms have q*(a) ~ N(0, 1), so the average reward is about 0",
)
# a short Figure 2.2 (eps = 0.1, 1000 runs, 300 steps): the agent must learn at the book's pace
with np.errstate(all="ignore"):
    _reward, _optimal = run_testbed(0.1, runs=1000, steps=300, k=10, seed=5)
check_between(
    _optimal[200:].mean(),
    0.61,
    0.76,
    "the fraction optimal over steps 201-300 for eps=0.1 (1000 runs, a short Figure 2.2)",
    hint="a correct agent is at about 0.68 here; sample averages use the step size 1/N(a), "
    "N(a) the pulls of the arm just pulled (not a constant, not 1/t)",
)
check_between(
    _reward[200:].mean(),
    1.15,
    1.45,
    "the average reward over steps 201-300 for eps=0.1 (1000 runs, a short Figure 2.2)",
    hint="a correct agent earns about 1.3 here; start from Q = 0 and update only the arm pulled",
)
checks_passed("run_testbed")
### BEGIN HIDDEN TESTS
# Vectorised over runs: if the testbed is used, it is pulled once per step for all runs.
_pull_counts = []


class _CountingTestbed(Testbed):
    def pull(self, actions):
        _pull_counts.append(np.shape(actions))
        return super().pull(actions)


_real_testbed, Testbed = Testbed, _CountingTestbed
try:
    with np.errstate(all="ignore"):
        run_testbed(0.1, runs=64, steps=25, k=10, seed=3)
finally:
    Testbed = _real_testbed
if _pull_counts:
    check(
        len(_pull_counts) == 25 and set(_pull_counts) == {(64,)},
        "how run_testbed(runs=64, steps=25) pulls the testbed",
        expected="25 calls of pull(actions) with actions of shape (64,)",
        got=f"{len(_pull_counts)} calls, action shapes {sorted(set(_pull_counts))}",
        hint="loop only over the steps; select, pull and update all runs at once with arrays",
    )
with np.errstate(all="ignore"):
    _res = {
        _eps: run_testbed(_eps, runs=2000, steps=1000, k=10, seed=12345)
        for _eps in (0.0, 0.01, 0.1)
    }
_bounds = {  # (reward low, high), (fraction optimal low, high) over the last 50 steps
    0.1: ((1.29, 1.45), (0.75, 0.85)),
    0.01: ((1.22, 1.40), (0.53, 0.66)),
    0.0: ((0.95, 1.11), (0.30, 0.42)),
}
for _eps, ((_rlo, _rhi), (_olo, _ohi)) in _bounds.items():
    _reward, _optimal = _res[_eps]
    check_shape(_reward, (1000,), f"the average reward for eps={_eps}")
    check_between(
        _reward[-50:].mean(),
        _rlo,
        _rhi,
        f"the average reward over steps 951-1000 for eps={_eps} (Figure 2.2)",
        hint="start from Q = 0, use sample averages (step 1/N(a) of the arm pulled) and your epsilon_greedy",
    )
    check_between(
        _optimal[-50:].mean(),
        _olo,
        _ohi,
        f"the fraction optimal over steps 951-1000 for eps={_eps} (Figure 2.2)",
        hint="count a step as optimal when the action equals the testbed's optimal_action",
    )
# eps=0.01 is still climbing
check(
    _res[0.01][1][-100:].mean() > _res[0.01][1][400:500].mean() + 0.05,
    "the fraction optimal of eps=0.01 between steps 401-500 and 901-1000",
    expected="still rising by at least 5 points",
    got=(_res[0.01][1][400:500].mean(), _res[0.01][1][-100:].mean()),
)
# the first step: all estimates are 0, so every agent pulls a random arm
for _eps in (0.0, 0.1):
    check_between(
        _res[_eps][1][0],
        0.05,
        0.15,
        f"the fraction optimal at step 1 for eps={_eps}",
        hint="at step 1 all estimates are tied at 0: the choice must be uniform",
    )
    check_between(_res[_eps][0][0], -0.15, 0.15, f"the average reward at step 1 for eps={_eps}")
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 6: upper-confidence-bound selection (2 + 2 points, about 25 min, medium)
#
# Epsilon-greedy keeps exploring arms it already knows to be bad, at the same
# rate forever. **UCB** explores where it is *uncertain*: it adds to each
# estimate a bonus that is large for arms pulled rarely and shrinks as an arm
# is pulled more,
#
# $$A_t = \arg\max_a \Bigl[ Q_t(a) + c \sqrt{\frac{\ln t}{N_t(a)}} \Bigr],$$
#
# where $t$ is the current step (1, 2, ...) and $N_t(a)$ the number of times
# arm $a$ was pulled before step $t$. An arm with $N_t(a) = 0$ counts as
# maximising (its bonus is infinite), so every arm is tried once first. The
# $\ln t$ makes the bonus of an ignored arm grow slowly, so it is revisited
# now and then, but less and less often. This is "optimism in the face of
# uncertainty": an option you know little about is treated as if it might be
# good, the same instinct behind sampling several candidate responses for a
# prompt rather than trusting the first one.
#
# 1. Write `ucb_action(q_values, counts, t, c)` for `(k,)` or `(runs, k)`
#    arrays (returns an int or an int array `(runs,)`, like `epsilon_greedy`).
#    Ties may be broken in any way (the tests accept any maximising arm); with
#    several untried arms, any untried arm is fine.
# 2. Write `run_ucb_testbed(c, runs, steps, k, seed)`: the same experiment as
#    `run_testbed`, with UCB choosing the arms (steps are numbered from 1).
#
# Figure 2.4's result, checked by the hidden test on another seed: with
# $c = 2$, UCB's average reward over steps 301-1000 is clearly above
# $\varepsilon$-greedy's with $\varepsilon = 0.1$ (which is about 1.35 there).
#
# <details><summary>Hint 1: untried arms without 0 / 0</summary>
#
# Compute the bonus for every arm inside `with np.errstate(divide="ignore",
# invalid="ignore"):` (an untried arm gives a division by zero), then give the
# untried arms an infinite score:
# `scores = np.where(n == 0, np.inf, q + c * np.sqrt(np.log(t) / n))`, and
# take `np.argmax(scores, axis=-1)`.
#
# </details>
#
# <details><summary>Hint 2: the experiment</summary>
#
# Copy your `run_testbed` and change two lines: loop
# `for t in range(1, steps + 1)` (so that $\ln t$ starts at $\ln 1 = 0$) and
# choose `actions = ucb_action(q, n, t, c)`; store the results at index
# `t - 1`.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "ucb_action", "locked": false, "schema_version": 3, "solution": true, "task": false}
def ucb_action(q_values, counts, t, c):
    """Upper-confidence-bound action: argmax of Q + c * sqrt(ln t / N); untried arms first.

    Args:
        q_values: float array [k] or [runs, k], the estimates Q_t(a).
        counts: int or float array of the same shape, N_t(a), pulls before step t.
        t: int >= 1, the current step.
        c: float >= 0, the exploration strength.

    Returns:
        an int (for [k] inputs) or an int array [runs].
    """
    ### BEGIN SOLUTION
    q = np.asarray(q_values, dtype=float)
    n = np.asarray(counts, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        bonus = c * np.sqrt(np.log(t) / n)
    scores = np.where(n == 0, np.inf, q + bonus)  # untried arms are maximising
    actions = np.argmax(scores, axis=-1)
    return int(actions) if q.ndim == 1 else actions
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "run_ucb_testbed", "locked": false, "schema_version": 3, "solution": true, "task": false}
def run_ucb_testbed(c=2.0, runs=2000, steps=1000, k=10, seed=0):
    """Sample-average UCB agents on the k-armed testbed, vectorised over runs.

    Args:
        c: float, the UCB exploration strength.
        runs, steps, k, seed: as in run_testbed.

    Returns:
        (avg_reward, frac_optimal): float arrays [steps], averaged over runs.
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    bandit = Testbed(runs, k=k, rng=rng)
    q = np.zeros((runs, k))
    n = np.zeros((runs, k))
    rows = np.arange(runs)
    avg_reward = np.zeros(steps)
    frac_optimal = np.zeros(steps)
    for t in range(1, steps + 1):
        actions = ucb_action(q, n, t, c)
        rewards = bandit.pull(actions)
        n[rows, actions] += 1
        q[rows, actions] = incremental_update(q[rows, actions], rewards, 1.0 / n[rows, actions])
        avg_reward[t - 1] = rewards.mean()
        frac_optimal[t - 1] = np.mean(actions == bandit.optimal_action)
    return avg_reward, frac_optimal
    ### END SOLUTION


# %%
# Figure 2.4 of Sutton & Barto: UCB (c = 2) against eps-greedy (eps = 0.1).
ucb_reward, ucb_optimal = run_ucb_testbed(2.0)
eps_reward, eps_optimal = testbed_results[0.1]
fig, ax = plt.subplots(figsize=(8, 4))
ax.plot(np.arange(1, 1001), eps_reward, lw=1, label="eps-greedy, eps = 0.1")
ax.plot(np.arange(1, 1001), ucb_reward, lw=1, label="UCB, c = 2")
ax.set_xlabel("step")
ax.set_ylabel("average reward")
ax.set_title("UCB vs epsilon-greedy, 2000 runs (Sutton & Barto Figure 2.4)")
ax.legend()
plt.show()
print(f"steps 301-1000: UCB {ucb_reward[300:].mean():.3f}, eps=0.1 {eps_reward[300:].mean():.3f}")

# %% nbgrader={"grade": true, "grade_id": "test_ucb_action", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""ucb_action: hand-computed choices, untried arms first, batches of runs."""
import numpy as np

from rlhelpers.testing import check, check_close, check_shape, checks_passed

with np.errstate(all="ignore"):  # a warning on stderr would count as a failed cell
    _a = ucb_action(np.array([2.0, 1.0]), np.array([20, 2]), 22, 2.0)
check(
    _a == 1,
    "ucb_action(Q=[2, 1], N=[20, 2], t=22, c=2)",
    expected="1 (scores 2 + 2*sqrt(ln 22/20) = 2.79 and 1 + 2*sqrt(ln 22/2) = 3.49)",
    got=_a,
    hint="score = Q + c * sqrt(ln t / N) for each arm, then argmax",
)
with np.errstate(all="ignore"):
    _a = ucb_action(np.array([2.0, 1.0]), np.array([20, 2]), 22, 0.5)
check(
    _a == 0,
    "ucb_action(Q=[2, 1], N=[20, 2], t=22, c=0.5)",
    expected="0 (scores 2.20 and 1.62)",
    got=_a,
    hint="score = Q + c * sqrt(ln t / N); c multiplies the square root",
)
with np.errstate(all="ignore"):
    _a = ucb_action(np.array([0.5, 0.0]), np.array([10, 3]), 13, 1.0)
check(
    _a == 0,
    "ucb_action(Q=[0.5, 0], N=[10, 3], t=13, c=1)",
    expected="0 (scores 0.5 + sqrt(ln 13/10) = 1.01 and 0 + sqrt(ln 13/3) = 0.92)",
    got=_a,
    hint="the bonus is the square root of ln t / N, not ln t / N itself",
)
with np.errstate(all="ignore"):
    _a = ucb_action(np.array([5.0, -1.0, 3.0]), np.array([4, 0, 3]), 8, 2.0)
check(
    _a == 1,
    "ucb_action with an untried arm (N = [4, 0, 3])",
    expected=1,
    got=_a,
    hint="an arm with N = 0 counts as maximising",
)
check(
    isinstance(_a, int | np.integer),
    "ucb_action on 1-D input",
    expected="a single integer action",
    got=_a,
)
with np.errstate(all="ignore"):
    _acts = ucb_action(
        np.array([[2.0, 1.0], [2.0, 1.0], [0.0, 0.0]]),
        np.array([[20, 2], [2, 20], [1, 0]]),
        22,
        2.0,
    )
check_close(
    np.asarray(_acts),
    np.array([1, 0, 1]),
    "ucb_action on 3 runs at once",
    hint="one action per row: take the argmax over the last axis",
)
checks_passed("ucb_action")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(31)
for _shape in ((9,), (300, 6)):
    for _c in (0.0, 0.7, 2.0, 5.0):
        _qv = _rng.normal(size=_shape)
        _nv = _rng.integers(1, 60, size=_shape)
        _t = int(_nv.sum(axis=-1).max()) + 1
        _scores = _qv + _c * np.sqrt(np.log(_t) / _nv)
        with np.errstate(all="ignore"):
            _got = np.asarray(ucb_action(_qv, _nv, _t, _c))
        check_shape(_got, _shape[:-1], f"ucb_action on inputs of shape {_shape}")
        check_close(
            _got,
            np.argmax(_scores, axis=-1),
            f"ucb_action on random Q and N of shape {_shape}, t={_t}, c={_c}",
            hint="score = Q + c * sqrt(ln t / N), argmax over the arms",
        )
# untried arms win even against large estimates; several untried: any of them
_qv = np.array([[100.0, 0.0, 50.0, -3.0], [1.0, 2.0, 3.0, 4.0]])
_nv = np.array([[5, 0, 2, 0], [0, 0, 0, 0]])
with np.errstate(all="ignore"):
    _got = np.asarray(ucb_action(_qv, _nv, 8, 2.0))
check(
    _got[0] in (1, 3),
    "ucb_action with untried arms 1 and 3",
    expected="1 or 3",
    got=_got[0],
    hint="N = 0 means an infinite bonus",
)
check(
    _got[1] in (0, 1, 2, 3),
    "ucb_action at the first step (all untried)",
    expected="any arm",
    got=_got[1],
)
# t = 1 (ln 1 = 0): with every arm tried, pure greedy
with np.errstate(all="ignore"):
    _got = ucb_action(np.array([0.5, 0.9, 0.1]), np.array([1, 1, 1]), 1, 2.0)
check(
    _got == 1,
    "ucb_action at t=1 with all arms tried once",
    expected=1,
    got=_got,
    hint="ln(1) = 0, so the bonus vanishes",
)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_run_ucb_testbed", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""run_ucb_testbed: shapes, the first k steps, then UCB beats eps=0.1 (Figure 2.4, hidden)."""
import numpy as np

from rlhelpers.bandits import Testbed
from rlhelpers.testing import check, check_between, check_returns, check_shape, checks_passed

with np.errstate(all="ignore"):  # a warning on stderr would count as a failed cell
    _reward, _optimal = check_returns(
        run_ucb_testbed(2.0, runs=2000, steps=30, k=10, seed=4),
        ("reward", "optimal"),
        "run_ucb_testbed(2.0, runs=2000, steps=30, k=10, seed=4)",
    )
check_shape(_reward, (30,), "the average reward returned by run_ucb_testbed(steps=30)")
check_shape(_optimal, (30,), "the fraction optimal returned by run_ucb_testbed(steps=30)")
check_between(
    _optimal[:10],
    0.06,
    0.14,
    "the fraction optimal during the first 10 steps",
    hint="every arm is untried at first, so each is pulled once before any repeats (about 1 run in 10 pulls its optimal arm)",
)
check_between(
    _optimal[11:30].mean(),
    0.3,
    1.0,
    "the fraction optimal over steps 12-30",
    hint="after trying each arm once UCB should mostly pull promising arms; number the steps t = 1, 2, ...",
)
checks_passed("run_ucb_testbed")
### BEGIN HIDDEN TESTS
with np.errstate(all="ignore"):
    _reward, _optimal = run_ucb_testbed(2.0, runs=2000, steps=1000, k=10, seed=2468)
check_shape(_reward, (1000,), "the average reward of run_ucb_testbed for 1000 steps")
check_between(
    _reward[300:].mean(),
    1.40,
    1.56,
    "UCB's (c=2) average reward over steps 301-1000 (Figure 2.4: about 1.47)",
    hint="score = Q + c sqrt(ln t / N) with t counted from 1 and N the pulls so far; sample-average Q",
)
check_between(_optimal[-50:].mean(), 0.80, 0.95, "UCB's fraction optimal over the last 50 steps")
# a reference eps-greedy (eps = 0.1) on the same seed: UCB must beat it after a few hundred steps
_rng = np.random.default_rng(2468)
_bandit = Testbed(2000, k=10, rng=_rng)
_q = np.zeros((2000, 10))
_n = np.zeros((2000, 10))
_rows = np.arange(2000)
_eps_reward = np.zeros(1000)
for _t in range(1000):
    _greedy = np.argmax(_q + 1e-9 * _rng.random((2000, 10)), axis=1)
    _acts = np.where(_rng.random(2000) < 0.1, _rng.integers(0, 10, 2000), _greedy)
    _r = _bandit.pull(_acts)
    _n[_rows, _acts] += 1
    _q[_rows, _acts] += (_r - _q[_rows, _acts]) / _n[_rows, _acts]
    _eps_reward[_t] = _r.mean()
check(
    _reward[300:].mean() > _eps_reward[300:].mean() + 0.04,
    "UCB (c=2) against eps-greedy (eps=0.1) over steps 301-1000 (Figure 2.4)",
    expected="UCB clearly higher (about 1.47 vs 1.35)",
    got=(float(_reward[300:].mean()), float(_eps_reward[300:].mean())),
    hint="check the bonus c * sqrt(ln t / N) and that t starts at 1",
)
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 7: a contextual bandit with a linear Q-network (4 points, about 30 min, hard)
#
# In a **contextual bandit** the agent sees a context $x$ before each choice
# and the best arm depends on it: the agent must learn $Q(x, a)$, not $Q(a)$.
# The action still does not change the next context (each episode is one
# step), which is what separates a bandit from a full RL problem. This is the
# shape of a one-token answer to a prompt: the prompt is the context, the
# answer is the arm, and the reward model's score is the reward.
#
# `rlhelpers/ContextualBandit-v0` has 4 arms; a context is a vector of 4
# numbers; each arm's expected reward depends on the context, and the observed
# reward adds Gaussian noise. Each `reset()` gives a new context and each
# `step(arm)` ends the episode. For measuring only, `env.unwrapped.expected_rewards(x)`
# gives the 4 true means; the **regret** of a step is
# $\max_a \mu(x, a) - \mu(x, A_t)$, the expected reward lost by not picking the
# best arm. The cumulative regret of an agent that learns grows more and more
# slowly, as its choices improve.
#
# **What the model has to represent.** The environment holds a fixed weight
# matrix `weights` of shape `(n_arms, context_dim)`, and the mean reward of
# arm $a$ in context $x$ is linear in $x$ with no constant term:
# $\mu(x, a) = w_a \cdot x$ (`expected_rewards(x)` computes
# `x @ weights.T`). A linear layer $Q(x, \cdot) = W x + b$ can therefore
# represent the means exactly ($W$ = `weights`, $b = 0$): the agent's job is to
# learn $W$ from the rewards of the arms it pulls.
#
# The context-free baseline below ignores $x$ and keeps one sample average
# per arm (it uses your `epsilon_greedy` and `incremental_update`). Your agent,
# `train_contextual_q(args)`, is exactly this one (the graded thresholds were
# set for it):
# - the model is **linear**: `torch.nn.Linear(context_dim, n_arms)` on
#   `DEVICE` (with or without its bias), mapping a context to the 4 values
#   $Q(x, \cdot)$;
# - the optimizer is plain SGD at the given learning rate:
#   `torch.optim.SGD(model.parameters(), lr=args.lr)`;
# - at each step: observe $x$, pick an arm with your `epsilon_greedy` on the
#   network's outputs, get the reward, and take one gradient step on the squared
#   error $(Q(x, A_t) - R)^2$ of the chosen arm only (the other arms got no
#   reward to learn from);
# - record the regret of every step.
#
# A deeper network (an MLP) or another optimizer (Adam) is a different agent:
# it needs its own learning rate and number of steps, and the thresholds below
# were not set for it. Try one in a new cell once you pass, if you are curious.
#
# **Graded:** with the default `ContextualArgs` (1000 steps, seed 0), the
# cumulative regret of your agent must be at most **half** that of the
# context-free baseline (`run_context_free`, the same 1000 steps, epsilon and
# seed). The test also checks that the greedy policy of your trained network
# picks the best arm for at least 80% of fresh contexts. It runs in a few
# seconds.
#
# <details><summary>Hint 1: start from the baseline</summary>
#
# `run_context_free` already has the loop you need: reset, choose, step,
# regret. Keep it, and replace the table `q` by the network's output for the
# context `x`: `q_x = model(torch.as_tensor(x, dtype=torch.float32, device=DEVICE))`.
# Seed with `rng = rlhelpers.seed_everything(args.seed)` (torch and the
# Generator your `epsilon_greedy` needs) and `env.reset(seed=args.seed)`.
#
# </details>
#
# <details><summary>Hint 2: the key lines (one step of learning)</summary>
#
# `arm = epsilon_greedy(q_x.detach().cpu().numpy(), args.epsilon, rng)`, then
# after `env.step(arm)`:
# `loss = (q_x[arm] - float(reward)) ** 2`, `optimizer.zero_grad()`,
# `loss.backward()`, `optimizer.step()`.
#
# </details>


# %%
@dataclass
class ContextualArgs:
    """Hyperparameters of the contextual-bandit experiment."""

    steps: int = 1000
    """environment steps (one context, one arm, one reward each)"""
    epsilon: float = 0.1
    """exploration rate of epsilon-greedy"""
    lr: float = 0.05
    """learning rate of the SGD optimizer"""
    seed: int = 0
    """seeds the environment, torch and the agent's numpy Generator"""
    env_id: str = "rlhelpers/ContextualBandit-v0"
    """the registered Gymnasium environment"""


def run_context_free(args):
    """The baseline: sample-average epsilon-greedy that ignores the context.

    Returns:
        float array [steps], the regret of each step.
    """
    rng = np.random.default_rng(args.seed)
    env = gym.make(args.env_id)
    n_arms = env.action_space.n
    q = np.zeros(n_arms)
    counts = np.zeros(n_arms)
    regret = np.zeros(args.steps)
    x, _ = env.reset(seed=args.seed)
    for t in range(args.steps):
        arm = epsilon_greedy(q, args.epsilon, rng)
        _, reward, _, _, _ = env.step(arm)
        mu = env.unwrapped.expected_rewards(x)
        regret[t] = mu.max() - mu[arm]
        counts[arm] += 1
        q[arm] = incremental_update(q[arm], reward, 1.0 / counts[arm])
        x, _ = env.reset()
    env.close()
    return regret


baseline_regret = run_context_free(ContextualArgs())
print(
    f"context-free eps-greedy: cumulative regret over {len(baseline_regret)} steps = {baseline_regret.sum():.1f}"
)


# %% nbgrader={"grade": false, "grade_id": "train_contextual_q", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_contextual_q(args):
    """Learn Q(x, a) with a linear torch model and SGD, and act epsilon-greedily on it.

    Args:
        args: ContextualArgs.

    Returns:
        (regret, model): regret is a float array [args.steps] (regret of each step),
        model the trained torch.nn.Module mapping contexts [batch, context_dim] to
        values [batch, n_arms].
    """
    ### BEGIN SOLUTION
    rng = rlhelpers.seed_everything(args.seed)
    env = gym.make(args.env_id)
    context_dim = env.observation_space.shape[0]
    n_arms = env.action_space.n
    model = torch.nn.Linear(context_dim, n_arms).to(DEVICE)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    regret = np.zeros(args.steps)
    x, _ = env.reset(seed=args.seed)
    for t in tqdm(range(args.steps), desc="contextual Q", leave=False):
        x_t = torch.as_tensor(x, dtype=torch.float32, device=DEVICE)
        q_x = model(x_t)  # Q(x, .) for the 4 arms
        arm = epsilon_greedy(q_x.detach().cpu().numpy(), args.epsilon, rng)
        _, reward, _, _, _ = env.step(arm)
        mu = env.unwrapped.expected_rewards(x)
        regret[t] = mu.max() - mu[arm]
        loss = (q_x[arm] - float(reward)) ** 2  # only the chosen arm has a target
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        x, _ = env.reset()
    env.close()
    return regret, model
    ### END SOLUTION


# %%
contextual_regret, contextual_model = train_contextual_q(ContextualArgs())
fig, ax = plt.subplots(figsize=(8, 4))
ax.plot(np.cumsum(baseline_regret), label="context-free eps-greedy")
ax.plot(np.cumsum(contextual_regret), label="linear Q(x, a), eps-greedy")
ax.set_xlabel("step")
ax.set_ylabel("cumulative regret")
ax.set_title("Contextual bandit: using the context pays")
ax.legend()
plt.show()
print(
    f"cumulative regret: context-free {baseline_regret.sum():.1f}, linear Q {contextual_regret.sum():.1f}"
)

# %% nbgrader={"grade": true, "grade_id": "test_train_contextual_q", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
"""train_contextual_q: regret at most half the context-free baseline's (seed 0, 1000 steps)."""
import warnings

import gymnasium as gym
import numpy as np
import torch

from rlhelpers.testing import (
    check,
    check_between,
    check_returns,
    check_shape,
    check_type,
    checks_passed,
)

_args = ContextualArgs(steps=1000, epsilon=0.1, lr=0.05, seed=0)
with warnings.catch_warnings():  # a warning on stderr would count as a failed cell
    warnings.simplefilter("ignore")
    _regret, _model = check_returns(
        train_contextual_q(_args),
        ("regret", "model"),
        "train_contextual_q(_args)",
    )
check_shape(
    _regret, (1000,), "the regret returned by train_contextual_q", hint="one regret value per step"
)
check_type(_model, torch.nn.Module, "the model returned by train_contextual_q")
check(
    np.all(np.asarray(_regret) >= -1e-9),
    "the per-step regrets",
    expected="all >= 0 (max_a mu(x, a) - mu(x, chosen arm))",
    got=np.min(_regret),
)
_base = run_context_free(_args)
check(
    np.sum(_regret) <= 0.5 * np.sum(_base),
    "the cumulative regret of train_contextual_q (seed 0, 1000 steps)",
    expected=f"at most half the context-free baseline's {np.sum(_base):.1f}",
    got=float(np.sum(_regret)),
    hint="feed the context to the linear network, act eps-greedily on its outputs, and regress Q(x, chosen arm) on the reward with SGD at args.lr",
)
_env = gym.make(_args.env_id)
_xs = (
    np.random.default_rng(99)
    .normal(size=(1000, _env.observation_space.shape[0]))
    .astype(np.float32)
)
with torch.no_grad():
    _qx = _model(torch.as_tensor(_xs, device=next(_model.parameters()).device)).cpu().numpy()
_best = np.argmax(_env.unwrapped.expected_rewards(_xs), axis=1)
check_between(
    np.mean(np.argmax(_qx, axis=1) == _best),
    0.8,
    1.0,
    "the fraction of 1000 fresh contexts where the trained model's greedy arm is the best arm",
    hint="the network should predict each arm's expected reward from the context",
)
checks_passed("train_contextual_q")
### BEGIN HIDDEN TESTS
# another seed, the same criteria
_args = ContextualArgs(steps=1000, epsilon=0.1, lr=0.05, seed=7)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _regret, _model = train_contextual_q(_args)
_base = run_context_free(_args)
check(
    np.sum(_regret) <= 0.5 * np.sum(_base),
    "the cumulative regret of train_contextual_q (seed 7, 1000 steps)",
    expected=f"at most half the context-free baseline's {np.sum(_base):.1f}",
    got=float(np.sum(_regret)),
)
with torch.no_grad():
    _qx = _model(torch.as_tensor(_xs, device=next(_model.parameters()).device)).cpu().numpy()
check_between(
    np.mean(np.argmax(_qx, axis=1) == _best),
    0.8,
    1.0,
    "the fraction of fresh contexts where the greedy arm is the best arm (seed 7)",
)
# with epsilon = 1 the agent acts at random: its regret must be a random agent's
_mu = _env.unwrapped.expected_rewards(np.random.default_rng(5).normal(size=(100_000, _xs.shape[1])))
_random_arms = np.random.default_rng(6).integers(0, _mu.shape[1], size=len(_mu))
_random_regret = _mu.max(axis=1) - _mu[np.arange(len(_mu)), _random_arms]
_args_random = ContextualArgs(steps=400, epsilon=1.0, lr=0.05, seed=3)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _regret_random, _ = train_contextual_q(_args_random)
_half_width = 5 * _random_regret.std() / np.sqrt(400)
check_between(
    np.mean(_regret_random),
    _random_regret.mean() - _half_width,
    _random_regret.mean() + _half_width,
    "the mean regret of train_contextual_q with epsilon=1 (pure exploration, 400 steps)",
    hint="pass args.epsilon to epsilon_greedy, and compute the regret as max mu - mu of the arm pulled",
)
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 8: quiz (2 points, about 10 min, easy)
#
# Set each variable to your answer. Each question is worth 0.5 points; Validate
# checks only that each answer has the right form, and the graded feedback
# explains each question you got right.
#
# 1. `answer_q1`: one arm's estimate uses a constant step size $\alpha = 0.1$
#    and has seen many rewards. The newest reward $R_n$ has the weight
#    $\alpha = 0.1$ in $Q_n$. What weight does the reward before it,
#    $R_{n-1}$, have? A number.
# 2. `answer_q2`: $k = 10$ arms, $\varepsilon = 0.1$, and exactly two arms are
#    tied for the largest estimate (ties broken uniformly at random, as in
#    your `epsilon_greedy`). With what probability is one particular of the
#    two tied arms pulled? A number.
# 3. `answer_q3`: softmax selection with $Q = [1, 2]$ at temperature
#    $\tau = 1$, and with $Q = [2, 4]$ at $\tau = 2$. (a) Both give the same
#    probabilities, (b) the first puts more probability on the better arm,
#    (c) the second does. A letter.
# 4. `answer_q4`: the agent of Exercise 7 keeps $\varepsilon = 0.1$ for
#    ever. Suppose its network has become perfect, $Q(x, a) = \mu(x, a)$ for
#    every context. From then on its cumulative regret (a) stops growing,
#    (b) keeps growing by about the same amount every step, (c) grows faster
#    and faster. A letter.
#
# <details><summary>Hint 1 (questions 1 and 2)</summary>
#
# 1: write the update as $Q_n = \alpha R_n + (1 - \alpha) Q_{n-1}$ and put
# the same expression in for $Q_{n-1}$. 2: a tied arm can be pulled in two
# ways: by the greedy step, which picks one of the two tied arms, or by an
# exploring step, which picks one of all $k$ arms.
#
# </details>
#
# <details><summary>Hint 2 (questions 3 and 4)</summary>
#
# 3: softmax sees only $Q / \tau$. 4: what does an exploring step pull,
# however good the network is, and how often does that happen?
#
# </details>

# %% nbgrader={"grade": false, "grade_id": "quiz", "locked": false, "schema_version": 3, "solution": true, "task": false}
# Replace None by your answers, then delete the `raise NotImplementedError()` line.
answer_q1 = None  # a number
answer_q2 = None  # a number
answer_q3 = None  # a letter: "a", "b" or "c"
answer_q4 = None  # a letter: "a", "b" or "c"
### BEGIN SOLUTION
answer_q1 = 0.09
answer_q2 = 0.46
answer_q3 = "a"
answer_q4 = "b"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_quiz", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""quiz: each answer has the right form (visible); each right answer scores 0.5 (hidden)."""
from rlhelpers.testing import Quiz, checks_passed

_quiz = Quiz(points=2)
_quiz.answered("answer_q1", answer_q1, number=True)
_quiz.answered("answer_q2", answer_q2, number=True)
_quiz.answered("answer_q3", answer_q3, choices="abc")
_quiz.answered("answer_q4", answer_q4, choices="abc")
checks_passed("quiz")
### BEGIN HIDDEN TESTS
_quiz.question(
    "answer_q1",
    answer_q1,
    0.09,
    tol=1e-6,
    explanation="Q_n = 0.1 R_n + 0.9 Q_{n-1} = 0.1 R_n + 0.9 (0.1 R_{n-1} + 0.9 Q_{n-2}): "
    "R_{n-1} has the weight 0.1 * 0.9 = 0.09, and each older reward 0.9 times less "
    "(an exponentially weighted average).",
)
_quiz.question(
    "answer_q2",
    answer_q2,
    0.46,
    tol=1e-6,
    explanation="greedy (probability 0.9) and then this arm out of the two tied: 0.45; "
    "or exploring (0.1) and then this arm out of all 10: 0.01; together 0.46.",
)
_quiz.question(
    "answer_q3",
    answer_q3,
    "a",
    explanation="softmax depends on Q / tau only, and [1, 2] / 1 = [2, 4] / 2: the same "
    "probabilities. Doubling the values and the temperature together changes nothing.",
)
_quiz.question(
    "answer_q4",
    answer_q4,
    "b",
    explanation="with probability 0.1 a step explores and pulls a uniformly random arm, "
    "whatever the network knows, and that is a worse arm 3 times in 4: even a perfect model "
    "loses, on average, 0.1 x (max_a mu(x, a) - the mean of the 4 arms' mu) every step, so "
    "the sum grows linearly with a small slope. Letting epsilon decay towards 0 is what "
    "makes the curve flatten for good.",
)
### END HIDDEN TESTS
_quiz.score()

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_exploration", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# ## Written answer (3 points, graded by hand)
#
# In a few sentences each (1 point each):
# 1. The greedy curve (eps = 0) of your Figure 2.2 levels off near 35%
#    optimal and never recovers. Explain why a greedy agent that starts from
#    $Q = 0$ can stay with a worse arm for good: what does it learn about the
#    arms it does not pull, and what decides, in its first steps, which arm it
#    settles on?
# 2. Suppose the same greedy agent (sample averages, step size $1/N(a)$)
#    starts from $Q(a) = 5$ for every arm instead, far above every true value
#    $q_*(a) \sim \mathcal{N}(0, 1)$. What does it do in its first steps, and
#    does that make it less likely to settle on a bad arm? (You can check your
#    reasoning with a copy of `run_testbed`.)
# 3. During RL training, an LLM explores only through the responses it
#    samples. Suppose training has made its policy almost deterministic: at
#    $T = 1$ it now gives nearly the same response to a prompt every time.
#    Using part 1, explain why its reward can stop improving although better
#    responses exist, and name one change from this lesson that would help,
#    and what that change costs.
#
# ### BEGIN SOLUTION
# 1. The greedy agent only updates the estimate of the arm it pulls; the
#    estimates of the other arms stay where they are, at 0 for an arm never
#    tried. At the first step all arms are tied at 0 and one is drawn at
#    random. If its reward is positive, its estimate is now above every untried
#    arm's 0, so the agent pulls it again, and as long as its sample average
#    stays above 0 it is never challenged: the untried arms, the best one among
#    them, are never sampled, so nothing in the agent's data can show that they
#    are better. (An arm whose first reward was unluckily negative is likewise
#    never retried.) Which arm it settles on is decided by the first few noisy
#    rewards, and about two runs in three end on a worse arm: the curve stalls
#    near 1.0 and 35% optimal.
# 2. With $Q = 5$ every reward is a disappointment: the first pull of an arm
#    replaces its 5 by that reward (step size 1/1), which is below the 5 of
#    every untried arm, so the greedy agent next pulls an untried arm. In the
#    first $k = 10$ steps it therefore tries every arm once, and only then
#    acts greedily on one-sample estimates. It is much less likely to settle
#    on a bad arm, because every arm has been seen once and it starts from the
#    best-looking one (a copy of `run_testbed` gives about 70% optimal at step
#    1000 instead of 35%). But one noisy reward per arm is a poor estimate:
#    an arm whose single reward was unluckily low is never retried, so it can
#    still settle on a worse arm. (With a constant step size the optimism
#    wears off slowly and drives longer exploration, Sutton & Barto's Figure
#    2.3.)
# 3. A near-deterministic policy is the greedy agent of part 1: it keeps
#    generating (pulling) the response it already rates highest, so the
#    reward model only ever scores that response, and the training signal
#    contains no information about the other responses, however good. Its
#    estimate of them is never corrected, and the reward stops improving.
#    Exploration restores the information: sampling at a higher temperature
#    (or keeping the policy's entropy up, or epsilon-style random responses)
#    makes the model try other responses now and then. The cost is
#    immediate reward: some of the sampled responses are worse (at a high
#    temperature, incoherent), just as epsilon-greedy loses a little reward on
#    every exploring step.
# ### END SOLUTION

# %% [markdown]
# ## Summary
#
# - The RL loop maps onto LLM generation: token = action, prompt plus tokens so
#   far = state, reward model score = reward, one response = one episode.
# - `estimate += step_size * (target - estimate)` is the update you will see
#   again in TD learning; with step size 1/n it is the exact sample mean, with
#   a constant step size an exponentially weighted average.
# - NumPy's `a[idx] += v` does not accumulate over repeated indices; use
#   `np.add.at` or `np.bincount(..., weights=...)`.
# - An agent learns only about the actions it tries: a greedy agent never
#   corrects its estimates of the arms it does not pull, so a few unlucky early
#   rewards decide for good which arm it keeps (the written answer's part 1).
#   Exploration buys that information: epsilon-greedy explores uniformly,
#   softmax by value (temperature is the LLM sampling knob), UCB by
#   uncertainty.
# - With context, Q(x, a) becomes a function approximator (here a linear
#   layer, because the means are linear in x); the next lessons add states that
#   depend on the actions, and policies that are networks themselves.
