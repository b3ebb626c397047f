# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 02: Markov decision processes and the Bellman equation
#
# In lesson 01 the agent's action changed nothing about the world: the next
# pull of a bandit arm looked exactly like the previous one. Real problems,
# and LLM generation in particular, are not like that. Every token an LLM
# writes changes what it reads next, so **actions change the state**. The
# framework for that is the *Markov decision process* (MDP), and the equation
# that ties the value of a state to the values of the states after it is the
# *Bellman equation*. Almost every RL algorithm in this course (REINFORCE's
# returns, the critic of actor-critic, TD targets, PPO's advantages) is an
# approximation of something you compute *exactly* here.
#
# **Goals.** After this lesson you can
# - say when a state is Markov, and enrich a state until it is;
# - write an MDP as arrays `P` (S, A, S') and `R` (S, A), and a policy as an (S, A) array;
# - drive any Gymnasium environment correctly, including the difference between
#   `terminated` and `truncated`;
# - evaluate a policy, compute Q from V, and find the optimal policy by value
#   iteration and by policy iteration (vectorised numpy, no loops over states);
# - find the bug in a given MDP model from the values it produces;
# - explain what the discount factor gamma does, and why gamma = 0 broke a real RLHF project;
# - check a dynamic-programming value against a Monte Carlo estimate with a confidence interval;
# - explain why tables stop scaling and which road (value-based or policy-based) LLM alignment takes.
#
# **Points: 35** in all: 29 autograded in 10 test cells (exercises 1 to 9) and
# 6 for two short written answers graded by hand. **Time:** about 3.5 hours:
# the exercises take about 150 minutes (each heading gives its time and
# difficulty), the two written answers about 20 minutes, and the reading and
# the demos about 40 minutes. The whole notebook runs in well under a minute
# on a laptop CPU.
#
# **How you are graded.** Each exercise heading gives its points. The test
# cell under an answer runs a few *visible* tests with hand-computed values:
# they catch the common mistakes and tell you what is wrong. The notebook you
# hand in is graded by the same cells with extra *hidden* tests (random MDPs,
# edge cases, reference numbers from Sutton & Barto). *Validate* runs only the
# visible tests, so passing them is necessary, not sufficient: the hidden
# tests decide the grade. Nothing in this notebook is random without a fixed
# seed, so what you see is what the grader sees.
#
# **Partial credit.** A quiz scores each question and an exercise with parts
# scores each part; any other test cell is all or nothing. Stuck? Each
# exercise has hints to open, from a nudge to the key line.
#
# **The running analogy.** An LLM is a stochastic policy pi(token | context).
# A token is an action, one response is an episode, and a reward model's
# score of the whole response is the reward. What the *state* should be is
# the first question of this lesson.

# %% [markdown]
# > **Notation.** The book (Sutton & Barto) numbers time so that the action
# > A_t taken in state S_t is followed by the reward R_{t+1} and the state
# > S_{t+1}, and the return is G_t = R_{t+1} + gamma R_{t+2} + gamma^2 R_{t+3} + ...
# > The arrays of the code are indexed by the step instead: `rewards[t]` is the
# > reward that follows `actions[t]`, taken in `states[t]` (the book's R_{t+1}),
# > so `returns[t] = rewards[t] + gamma * rewards[t+1] + ...` is the book's G_t,
# > and `dones[t] = 1` means the episode ended with step t.

# %%
import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
from tqdm.auto import tqdm

import rlhelpers  # noqa: F401  (importing it registers the course's environments)
from rlhelpers.envs.tabular import example_3_5, example_4_1
from rlhelpers.plotting import plot_value_heatmap

ACTION_NAMES = ["up", "right", "down", "left"]

# %% [markdown]
# ## 1. The Markov property
#
# A state $S_t$ is **Markov** when the future depends on the past only
# through it:
#
# $$\Pr(S_{t+1} = s', R_{t+1} = r \mid S_t, A_t, S_{t-1}, A_{t-1}, \dots, S_0)
#   = \Pr(S_{t+1} = s', R_{t+1} = r \mid S_t, A_t).$$
#
# Being Markov is not a property of the world but of **the state you chose to
# describe it with**: the same system can be Markov under one description and
# not under another. Test each candidate below against the definition: could
# two histories that give the same candidate state have different futures?

# %% [markdown] nbgrader={"grade": true, "grade_id": "markov_question", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# **Written answer (3 points).** For each of the four candidate states below,
# say whether it is Markov for the task named, and justify it in one sentence:
# (a) CartPole's cart *position* alone; (b) CartPole's full 4-D observation
# (position, velocity, pole angle, angular velocity); (c) the *last token* an
# LLM generated, as the state for generating the next token; (d) the LLM's
# *whole context* (prompt plus all tokens generated so far).
#
# ### BEGIN SOLUTION
# (a) Not Markov: the same position occurs with the cart moving left or right
# and with the pole at any angle, so the next position cannot be predicted from
# it. (b) Markov: the four numbers are the full physical state of the
# simulated system; the next observation is a deterministic function of them
# and the force applied (this is why CartPole is solvable from single
# observations). (c) Not Markov: "the" can be followed by almost anything; the
# model's next-token distribution depends on the earlier tokens, which the last
# token does not contain. (d) Markov: the transformer's next-token
# distribution is a function of the context only, and appending the sampled
# token gives the next context, so the context determines the future in
# distribution (up to the context-window length, beyond which the model itself
# forgets).
# ### END SOLUTION

# %% [markdown]
# **After you have answered: enriching a state.** A single photo of a moving
# ball does not tell you where the ball goes next (it lacks the velocity); two
# consecutive frames do. The fix for a state that is not Markov is always the
# same: enrich it until it carries everything the future needs (add the
# velocity, stack a window of frames, keep every token generated so far). DQN
# stacked the last 4 Atari frames for exactly this reason. For an LLM a
# design that keeps only part of what the model reads throws away what
# decides what comes next; we will meet exactly that bug below.

# %% [markdown]
# ## 2. The MDP tuple, deterministic and stochastic kernels
#
# A finite MDP is a tuple $(\mathcal S, \mathcal A, P, R, \gamma)$:
#
# | symbol | here | meaning | LLM analogue |
# |---|---|---|---|
# | $\mathcal S$ | `range(S)` | states | contexts (prompt + tokens so far) |
# | $\mathcal A$ | `range(A)` | actions | the vocabulary |
# | $P(s' \mid s, a)$ | `P[s, a, s']`, shape (S, A, S') | transition kernel | append the token: deterministic |
# | $R(s, a)$ | `R[s, a]`, shape (S, A) | expected immediate reward | 0 until the response ends, then the reward model's score |
# | $\gamma \in [0, 1]$ | `gamma` | discount factor | usually 1 (or close) for a response |
#
# Each `P[s, a]` is a probability distribution over next states (it sums to
# one). When it is one-hot the kernel is **deterministic**: the action decides
# the next state. Otherwise it is **stochastic**: our GridWorld takes a
# `slip` argument, and with probability `slip` the agent's move is replaced by
# a random one, like walking on ice. Text generation is deterministic in this
# sense (appending a token always gives the same new context); the randomness
# of an LLM lives in its *policy*.
#
# Terminal states are modelled as **absorbing**: every action leads back to
# the same state with reward 0. That way a value "after the end" is simply 0
# and the arrays need no special case.
#
# The course's GridWorld is 4x4: start in the top-left corner (state 0), goal
# in the bottom-right (state 15), +1 for stepping into the goal and -0.01 for
# every other step, actions 0=up 1=right 2=down 3=left, walls clamp (bumping
# into one leaves you where you are). State `s` sits in row `s // 4`, column
# `s % 4`.

# %%
deterministic = gym.make("rlhelpers/GridWorld-v0")
slippery = gym.make("rlhelpers/GridWorld-v0", slip=0.2)
P_det, R_det = deterministic.unwrapped.P, deterministic.unwrapped.R
P_slip = slippery.unwrapped.P
print("P shape", P_det.shape, " R shape", R_det.shape)
print("rows sum to one:", np.allclose(P_det.sum(axis=2), 1.0), np.allclose(P_slip.sum(axis=2), 1.0))
print("from state 5, action right, deterministic: ", np.round(P_det[5, 1], 2))
print("from state 5, action right, slip = 0.2:     ", np.round(P_slip[5, 1], 2))
print(
    "reward for stepping from 14 into the goal:", R_det[14, 1], "; for any other step:", R_det[0, 1]
)

# %% [markdown]
# ## 3. The Gymnasium API; terminated versus truncated
#
# Every environment in this course follows the Gymnasium interface:
#
# ```python
# obs, info = env.reset(seed=123)          # start an episode (seed it once for reproducibility)
# obs, reward, terminated, truncated, info = env.step(action)
# ```
#
# The two flags mean different things, and mixing them up is a classic bug:
#
# - **`terminated`**: the MDP itself ended (the goal was reached, the pole
#   fell, the LLM emitted its end-of-sequence token). There is no future; the
#   value of what comes after is 0.
# - **`truncated`**: *we* stopped the episode from outside, usually because of
#   a time limit (`max_episode_steps`, or a maximum response length). The
#   state still has a future; we just did not look at it.
#
# The episode is over when **either** flag is true. The distinction matters
# later, when we bootstrap values: after `terminated` the target is $r$, after
# `truncated` it is still $r + \gamma V(s')$.

# %%
env = gym.make("rlhelpers/GridWorld-v0")
obs, info = env.reset(seed=0)
print("start state:", obs)
for action in [1, 1, 2]:
    obs, reward, terminated, truncated, info = env.step(action)
    print(
        f"action {ACTION_NAMES[action]:>5} -> state {obs:2d}, reward {reward:+.2f}, "
        f"terminated={terminated}, truncated={truncated}"
    )
print("time limit of this env:", env.spec.max_episode_steps, "steps")

# %% [markdown]
# ## Exercise 1: run an episode (3 points, about 10 min, easy)
#
# Write `run_episode(env, policy, seed=None)`. Here `policy` is any callable
# that maps an observation to an action (`policy(obs) -> action`); for
# tabular policies stored as (S, A) arrays we will wrap them in such a
# callable. The function resets the environment with `env.reset(seed=seed)`,
# then repeatedly asks the policy for an action and steps, adding up the
# rewards (undiscounted), until the episode is over (`terminated` **or**
# `truncated`). It must never call `env.step` after the episode ended.
#
# Return `(total_reward, n_steps)`: a float and an int.
#
# The LLM version of this loop is `generate()`: sample a token, append it,
# stop at end-of-sequence (terminated) or at `max_new_tokens` (truncated).
#
# <details><summary>Hint 1: the shape of the loop</summary>
#
# One `env.reset(seed=seed)` before the loop; inside, one `policy(obs)` and one
# `env.step(...)` per iteration, and the `obs` that `step` returns is the one
# the policy sees next.
#
# </details>
#
# <details><summary>Hint 2: the stopping rule</summary>
#
# Loop `while not done`, and after each step set
# `done = terminated or truncated`: the 100-step time limit of the GridWorld
# ends an episode with `truncated=True`.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "run_episode", "locked": false, "schema_version": 3, "solution": true, "task": false}
def run_episode(env, policy, seed=None):
    """Play one episode and return what it earned.

    Args:
        env: a gymnasium.Env (already made; this function resets it).
        policy: callable obs -> action.
        seed: passed to env.reset(seed=seed).

    Returns:
        (total_reward, n_steps): the undiscounted sum of rewards (float) and the
        number of env.step calls (int).
    """
    ### BEGIN SOLUTION
    obs, _ = env.reset(seed=seed)
    total_reward, n_steps = 0.0, 0
    done = False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(policy(obs))
        total_reward += float(reward)
        n_steps += 1
        done = terminated or truncated
    return total_reward, n_steps
    ### END SOLUTION


# %%
# A demo: the shortest path (right, right, right, then down) and a policy that
# walks into the top wall forever.
shortest = lambda s: 1 if s % 4 < 3 else 2
always_up = lambda s: 0
print("shortest path:", run_episode(gym.make("rlhelpers/GridWorld-v0"), shortest, seed=0))
print("always up:    ", run_episode(gym.make("rlhelpers/GridWorld-v0"), always_up, seed=0))

# %% nbgrader={"grade": true, "grade_id": "test_run_episode", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""run_episode: returns and lengths on GridWorld, stops on terminated and on truncated."""
import gymnasium as gym
import numpy as np

import rlhelpers  # noqa: F401, F811
from rlhelpers.testing import check, check_close, check_type, checks_passed


class _EndChecker(gym.Wrapper):
    """Fails the test if step() is called after the episode ended."""

    def reset(self, **kwargs):
        self.ended = False
        self.reset_seeds = getattr(self, "reset_seeds", []) + [kwargs.get("seed")]
        return self.env.reset(**kwargs)

    def step(self, action):
        check(
            not self.ended,
            "run_episode's stopping rule",
            expected="no env.step() once terminated or truncated is True",
            got="env.step() was called again after the episode ended",
            hint="the episode is over when `terminated or truncated`: the time limit "
            "(truncated=True) ends it too",
        )
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.ended = bool(terminated or truncated)
        return obs, reward, terminated, truncated, info


_result = run_episode(
    _EndChecker(gym.make("rlhelpers/GridWorld-v0")), lambda s: 1 if s % 4 < 3 else 2, seed=0
)
check_type(_result, tuple, "the result of run_episode", hint="return (total_reward, n_steps)")
check_close(
    _result[1],
    6,
    "the number of steps of the shortest path (3 right, 3 down)",
    hint="count one step per env.step call",
)
check_close(
    _result[0],
    5 * -0.01 + 1.0,
    "the total reward of the shortest path (5 steps at -0.01, then +1)",
    hint="add up every reward returned by env.step, undiscounted",
)
_result = run_episode(_EndChecker(gym.make("rlhelpers/GridWorld-v0")), lambda s: 0, seed=0)
check_close(
    _result[1],
    100,
    "the number of steps of 'always up' (never reaches the goal; the time limit is 100)",
    hint="the episode also ends when truncated is True",
)
check_close(_result[0], -1.0, "the total reward of 'always up' (100 steps at -0.01)")
checks_passed("run_episode")
### BEGIN HIDDEN TESTS


class _ScriptedEnv(gym.Env):
    """obs = number of steps taken; reward = 0.5 * that number; ends after `end` or is cut after `cut` steps."""

    def __init__(self, end=None, cut=None):
        self.observation_space = gym.spaces.Discrete(10_000)
        self.action_space = gym.spaces.Discrete(3)
        self.end, self.cut = end, cut
        self.seen, self.seeds = [], []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.seeds.append(seed)
        self.t, self.ended = 0, False
        return 0, {}

    def step(self, action):
        check(
            not self.ended,
            "run_episode's stopping rule",
            expected="no env.step() after the episode ended",
            got="env.step() was called again",
            hint="stop when `terminated or truncated`",
        )
        self.t += 1
        terminated = self.end is not None and self.t >= self.end
        truncated = (not terminated) and self.cut is not None and self.t >= self.cut
        self.ended = terminated or truncated
        return self.t, 0.5 * self.t, terminated, truncated, {}


_RESET_SEED = 17
for _end, _cut in [(1, None), (7, None), (None, 4), (5, 5), (9, 3)]:
    _env = _ScriptedEnv(end=_end, cut=_cut)
    _obs_seen = []
    _result = run_episode(
        _env, lambda o, _seen=_obs_seen: (_seen.append(int(o)), 1)[1], seed=_RESET_SEED
    )
    _n = min(x for x in (_end, _cut) if x is not None)
    check_close(
        _result[1], _n, f"n_steps on an env that ends after {_end} / is cut after {_cut} steps"
    )
    check_close(_result[0], 0.5 * _n * (_n + 1) / 2, "the total reward (sum of all step rewards)")
    check(
        _obs_seen == list(range(_n)),
        "the observations given to the policy",
        expected=list(range(_n)),
        got=_obs_seen,
        hint="call policy(obs) with the obs returned by reset, then by the previous step",
    )
    check(
        _env.seeds == [_RESET_SEED],
        "the seed passed to env.reset",
        expected=[_RESET_SEED],
        got=_env.seeds,
        hint="call env.reset(seed=seed) exactly once",
    )
    check_type(_result[1], (int, np.integer), "n_steps")

# CartPole-v1 with a uniformly random policy lasts about 22 steps on average.
_cartpole = gym.make("CartPole-v1")
_rng = np.random.default_rng(seed=2024)  # the policy's draws (a seed sweep shifts it)
_lengths, _returns = [], []
for _seed in range(300):
    _ret, _len = run_episode(_cartpole, lambda o: int(_rng.integers(2)), seed=_seed)
    _lengths.append(_len)
    _returns.append(_ret)
check_close(_returns, _lengths, "CartPole's return (+1 per step, so equal to the length)")
check(
    19.0 <= np.mean(_lengths) <= 26.0,
    "the mean length of random CartPole episodes",
    expected="about 22 steps",
    got=float(np.mean(_lengths)),
)
### END HIDDEN TESTS

# %% [markdown]
# **Plot: how long does a random policy keep CartPole up?** A random policy
# averages about 22 steps, far from the 500-step time limit of CartPole-v1.
# The histogram is the distribution of episode lengths over 300 seeds.

# %%
cartpole = gym.make("CartPole-v1")
random_rng = np.random.default_rng(0)
random_policy = lambda obs: int(random_rng.integers(2))
lengths = np.array(
    [run_episode(cartpole, random_policy, seed=s)[1] for s in tqdm(range(300), desc="CartPole")]
)
fig, ax = plt.subplots(figsize=(6, 3))
ax.hist(lengths, bins=30)
ax.axvline(lengths.mean(), color="k", ls="--", label=f"mean {lengths.mean():.1f} steps")
ax.set_xlabel("episode length (steps)")
ax.set_ylabel("episodes")
ax.set_title("Random policy on CartPole-v1")
ax.legend()
plt.show()

# %% [markdown]
# ## 4. Policies, V and Q, and the Bellman expectation equation
#
# A **policy** $\pi(a \mid s)$ gives, for each state, a distribution over
# actions. We store it as an (S, A) array whose rows sum to one. A
# **deterministic** policy has one-hot rows; a **stochastic** one, like an LLM
# sampling at temperature 1, spreads the mass. The *equiprobable* policy is
# `np.full((S, A), 1 / A)`.
#
# The **return** from time $t$ is $G_t = R_{t+1} + \gamma R_{t+2} + \gamma^2 R_{t+3} + \dots$
# The **state value** of $s$ under $\pi$ is the expected return from $s$,
# $V^\pi(s) = \mathbb E_\pi[G_t \mid S_t = s]$, and the **action value** is the
# expected return after taking $a$ in $s$ first,
# $Q^\pi(s, a) = \mathbb E_\pi[G_t \mid S_t = s, A_t = a]$.
#
# Because $G_t = R_{t+1} + \gamma G_{t+1}$, the value of a state is the
# expected immediate reward plus the discounted value of wherever you land.
# Written out, with the expectation over the policy's action, the next state
# and the reward:
#
# $$V^\pi(s) = \sum_{a} \pi(a \mid s) \sum_{s', r} p(s', r \mid s, a)\,\big[r + \gamma V^\pi(s')\big]
#            = \sum_{a} \pi(a \mid s) \Big[ R(s, a) + \gamma \sum_{s'} P(s' \mid s, a)\, V^\pi(s') \Big].$$
#
# This is the **Bellman expectation equation**: one linear equation per
# state. With $P_\pi[s, s'] = \sum_a \pi(a|s) P(s'|s,a)$ and
# $r_\pi[s] = \sum_a \pi(a|s) R(s,a)$ it reads $V = r_\pi + \gamma P_\pi V$, so
# $V^\pi = (I - \gamma P_\pi)^{-1} r_\pi$ when $\gamma < 1$. Solving that system
# costs $O(S^3)$; the iterative method below only needs matrix-vector
# products and is the template for everything that follows.
#
# For the LLM: $V^\pi(\text{context})$ is the reward-model score you expect if
# the model keeps generating from this context; $Q^\pi(\text{context}, \text{token})$
# is the same after committing to one more token.

# %% [markdown]
# ## Exercise 2: iterative policy evaluation (4 points, about 20 min, medium)
#
# Start from $V_0 = 0$ and apply the Bellman expectation equation as an update,
# for all states at once:
#
# $$V_{k+1} = r_\pi + \gamma P_\pi V_k,$$
#
# until $\max_s |V_{k+1}(s) - V_k(s)| < $ `tol`. Return the last $V_{k+1}$.
# Build $P_\pi$ and $r_\pi$ with `np.einsum` (for example
# `np.einsum("sa,sat->st", policy, P)`), so that each sweep is one
# matrix-vector product and there is no Python loop over states or actions.
# It must also work for $\gamma = 1$ on episodic tasks whose policy reaches a
# terminal state for sure (Sutton & Barto's Example 4.1).
#
# <details><summary>Hint 1: what to build before the loop</summary>
#
# $P_\pi$ and $r_\pi$ do not change from sweep to sweep: build them once. The
# loop then only computes a new $V$ from the old one and compares the two.
#
# </details>
#
# <details><summary>Hint 2: the key lines</summary>
#
# `P_pi = np.einsum("sa,sat->st", policy, P)`,
# `r_pi = (policy * R).sum(axis=1)`, and in the loop
# `V_new = r_pi + gamma * P_pi @ V`; stop when
# `np.max(np.abs(V_new - V)) < tol`, else `V = V_new`.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "policy_evaluation", "locked": false, "schema_version": 3, "solution": true, "task": false}
def policy_evaluation(P, R, policy, gamma, tol=1e-8):
    """Iterative policy evaluation.

    Args:
        P: float array (S, A, S'), P[s, a, s'] = probability of s' after a in s.
        R: float array (S, A), expected immediate reward of a in s.
        policy: float array (S, A), rows are probabilities pi(a|s).
        gamma: discount factor in [0, 1].
        tol: stop when no state's value changes by tol or more in a sweep.

    Returns:
        V: float array (S,), the value of every state under the policy.
    """
    ### BEGIN SOLUTION
    P_pi = np.einsum("sa,sat->st", policy, P)  # P_pi[s, s'] = sum_a pi(a|s) P(s'|s,a)
    r_pi = np.einsum("sa,sa->s", policy, R)  # r_pi[s] = sum_a pi(a|s) R(s,a)
    V = np.zeros(R.shape[0])
    while True:
        V_new = r_pi + gamma * P_pi @ V
        if np.max(np.abs(V_new - V)) < tol:
            return V_new
        V = V_new
    ### END SOLUTION


# %% [markdown]
# A small MDP to check by hand (the visible test uses it): three states in a
# row. In states 0 and 1, action 0 "waits" (stays, reward 0) and action 1
# "advances" (reward 1 from state 0, reward 2 from state 1). State 2 is
# terminal. With the 50/50 policy and $\gamma = 0.5$:
# $V(1) = 0.5(0 + 0.5 V(1)) + 0.5 \cdot 2$, so $V(1) = 4/3$; and
# $V(0) = 0.5(0.5 V(0)) + 0.5(1 + 0.5 \cdot 4/3)$, so $V(0) = 10/9$.


# %%
def chain_mdp():
    """The 3-state 'wait or advance' chain: P (3, 2, 3), R (3, 2); state 2 is terminal."""
    P = np.zeros((3, 2, 3))
    R = np.zeros((3, 2))
    for s in range(2):
        P[s, 0, s] = 1.0  # wait
        P[s, 1, s + 1] = 1.0  # advance
        R[s, 1] = s + 1.0
    P[2, :, 2] = 1.0  # terminal: absorbing, reward 0
    return P, R


P_chain, R_chain = chain_mdp()
print(
    policy_evaluation(P_chain, R_chain, np.full((3, 2), 0.5), gamma=0.5),
    "expected",
    [10 / 9, 4 / 3, 0],
)

# %% nbgrader={"grade": true, "grade_id": "test_policy_evaluation", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
"""policy_evaluation: the hand-computed chain, then Sutton & Barto and random MDPs."""
import numpy as np

from rlhelpers.testing import check_close, check_shape, checks_passed

_P = np.zeros((3, 2, 3))
_R = np.zeros((3, 2))
for _s in range(2):
    _P[_s, 0, _s] = 1.0
    _P[_s, 1, _s + 1] = 1.0
    _R[_s, 1] = _s + 1.0
_P[2, :, 2] = 1.0
_V = policy_evaluation(_P, _R, np.full((3, 2), 0.5), 0.5)
check_shape(_V, (3,), "V returned by policy_evaluation", hint="one value per state")
check_close(
    _V,
    [10 / 9, 4 / 3, 0.0],
    "V of the 50/50 policy on the chain (gamma = 0.5)",
    atol=1e-6,
    hint="V(s) = sum_a pi(a|s) [R(s,a) + gamma * sum_s' P(s'|s,a) V(s')]; did you weight by "
    "the policy and multiply by gamma?",
)
_V = policy_evaluation(_P, _R, np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]]), 0.5)
check_close(
    _V, [1 + 0.5 * 2, 2.0, 0.0], "V of 'always advance' on the chain (gamma = 0.5)", atol=1e-6
)
checks_passed("policy_evaluation")
### BEGIN HIDDEN TESTS
from rlhelpers.envs.tabular import example_3_5, example_4_1  # noqa: F811

# Sutton & Barto Example 4.1 / Figure 4.1: equiprobable policy, gamma = 1.
_mdp = example_4_1()
_S, _A = _mdp.R.shape
_V = policy_evaluation(_mdp.P, _mdp.R, np.full((_S, _A), 1 / _A), 1.0)
_expected = np.array(
    [[0, -14, -20, -22], [-14, -18, -20, -20], [-20, -20, -18, -14], [-22, -20, -14, 0]]
)
check_close(
    _V,
    _expected.ravel().astype(float),
    "V of the equiprobable policy on Example 4.1 (gamma = 1)",
    atol=1e-3,
    hint="iterate until the largest change is below tol; terminal states stay 0",
)
# Example 3.5 / Figure 3.2: equiprobable policy, gamma = 0.9 (one decimal in the book).
_mdp = example_3_5()
_S, _A = _mdp.R.shape
_V = policy_evaluation(_mdp.P, _mdp.R, np.full((_S, _A), 1 / _A), 0.9)
_fig32 = np.array(
    [
        [3.3, 8.8, 4.4, 5.3, 1.5],
        [1.5, 3.0, 2.3, 1.9, 0.5],
        [0.1, 0.7, 0.7, 0.4, -0.4],
        [-1.0, -0.4, -0.4, -0.6, -1.2],
        [-1.9, -1.3, -1.2, -1.4, -2.0],
    ]
)
check_close(
    _V, _fig32.ravel(), "V of the equiprobable policy on Example 3.5 (Figure 3.2)", atol=0.051
)
# Random MDPs against the exact solution of the linear Bellman system.
_rng = np.random.default_rng(31337)
for _ in range(6):
    _S, _A = int(_rng.integers(2, 12)), int(_rng.integers(1, 5))
    _P = _rng.dirichlet(np.ones(_S) * 0.5, size=(_S, _A))
    _R = _rng.normal(size=(_S, _A))
    _pi = _rng.dirichlet(np.ones(_A), size=_S)
    _gamma = float(_rng.choice([0.0, 0.3, 0.9, 0.95]))
    _P_pi = np.einsum("sa,sat->st", _pi, _P)
    _exact = np.linalg.solve(np.eye(_S) - _gamma * _P_pi, (_pi * _R).sum(axis=1))
    check_close(
        policy_evaluation(_P, _R, _pi, _gamma),
        _exact,
        f"V on a random MDP (S={_S}, A={_A}, gamma={_gamma}) vs np.linalg.solve",
        atol=1e-5,
    )
# A deterministic policy and a tighter tolerance.
_pi = np.eye(_A)[_rng.integers(_A, size=_S)]
_P_pi = np.einsum("sa,sat->st", _pi, _P)
_exact = np.linalg.solve(np.eye(_S) - 0.99 * _P_pi, (_pi * _R).sum(axis=1))
check_close(
    policy_evaluation(_P, _R, _pi, 0.99, tol=1e-10),
    _exact,
    "V of a deterministic policy, gamma = 0.99",
    atol=1e-6,
)
### END HIDDEN TESTS

# %% [markdown]
# **Plot: Sutton & Barto's Example 4.1.** A 4x4 grid, -1 per step, the two
# grey corners are terminal, the equiprobable random policy, $\gamma = 1$. A
# value of -22 means: wandering at random from that corner takes 22 steps on
# average to hit a terminal corner.

# %%
ex41 = example_4_1()
S41, A41 = ex41.R.shape
V41 = policy_evaluation(ex41.P, ex41.R, np.full((S41, A41), 1 / A41), gamma=1.0)
print(np.round(V41.reshape(ex41.shape), 1))
plot_value_heatmap(
    V41,
    shape=ex41.shape,
    terminal_states=ex41.terminal_states,
    title="Example 4.1: V of the random policy (gamma = 1)",
)
plt.show()

# %% [markdown]
# ## Exercise 3: Q from V (2 points, about 10 min, easy)
#
# One step of look-ahead turns state values into action values:
#
# $$Q(s, a) = R(s, a) + \gamma \sum_{s'} P(s' \mid s, a)\, V(s').$$
#
# Write it for all $(s, a)$ at once (one `np.einsum` or `P @ V`). Check on the
# chain: with $V = (10/9, 4/3, 0)$ and $\gamma = 0.5$,
# $Q(0, \cdot) = (5/9, 5/3)$, $Q(1, \cdot) = (2/3, 2)$, and averaging each row
# with the 50/50 policy gives back $V$.
#
# <details><summary>Hint 1: which value goes in</summary>
#
# The sum runs over the *next* state $s'$: it is the expected value of where
# action $a$ takes you, not the value of $s$ itself.
#
# </details>
#
# <details><summary>Hint 2: the key line</summary>
#
# `P @ V` has shape (S, A) (numpy multiplies over the last axis of `P`), so
# `return R + gamma * P @ V` is the whole function; the einsum form is
# `np.einsum("sat,t->sa", P, V)`.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "q_from_v", "locked": false, "schema_version": 3, "solution": true, "task": false}
def q_from_v(P, R, V, gamma):
    """Action values from state values by one Bellman backup.

    Args:
        P: float array (S, A, S'); R: float array (S, A); V: float array (S,);
        gamma: discount factor.

    Returns:
        Q: float array (S, A), Q[s, a] = R[s, a] + gamma * sum_s' P[s, a, s'] V[s'].
    """
    ### BEGIN SOLUTION
    return R + gamma * np.einsum("sat,t->sa", P, V)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_q_from_v", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""q_from_v: the hand-computed chain, then random MDPs."""
import numpy as np

from rlhelpers.testing import check_close, check_shape, checks_passed

_P = np.zeros((3, 2, 3))
_R = np.zeros((3, 2))
for _s in range(2):
    _P[_s, 0, _s] = 1.0
    _P[_s, 1, _s + 1] = 1.0
    _R[_s, 1] = _s + 1.0
_P[2, :, 2] = 1.0
_Q = q_from_v(_P, _R, np.array([10 / 9, 4 / 3, 0.0]), 0.5)
check_shape(_Q, (3, 2), "Q returned by q_from_v", hint="one value per (state, action) pair")
check_close(
    _Q,
    [[5 / 9, 5 / 3], [2 / 3, 2.0], [0.0, 0.0]],
    "Q on the chain (V = [10/9, 4/3, 0], gamma = 0.5)",
    hint="Q(s,a) = R(s,a) + gamma * sum over s' of P(s'|s,a) V(s'): the value of the NEXT state",
)
checks_passed("q_from_v")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(4242)
for _ in range(5):
    _S, _A = int(_rng.integers(2, 10)), int(_rng.integers(1, 5))
    _P = _rng.dirichlet(np.ones(_S), size=(_S, _A))
    _R = _rng.normal(size=(_S, _A))
    _V = _rng.normal(size=_S) * 5
    _gamma = float(_rng.uniform(0, 1))
    _expected = np.array(
        [
            [_R[s, a] + _gamma * sum(_P[s, a, t] * _V[t] for t in range(_S)) for a in range(_A)]
            for s in range(_S)
        ]
    )
    check_close(q_from_v(_P, _R, _V, _gamma), _expected, f"Q on a random MDP (S={_S}, A={_A})")
    # Averaging Q over the policy gives V back when V is that policy's value.
    _pi = _rng.dirichlet(np.ones(_A), size=_S)
    _V_pi = np.linalg.solve(
        np.eye(_S) - _gamma * np.einsum("sa,sat->st", _pi, _P), (_pi * _R).sum(axis=1)
    )
    check_close(
        (_pi * q_from_v(_P, _R, _V_pi, _gamma)).sum(axis=1), _V_pi, "sum_a pi(a|s) Q(s,a) = V(s)"
    )
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Optimal values: value iteration and policy iteration
#
# A policy is better than another when its value is at least as high in every
# state. The best one, $\pi^*$, has the **optimal values** $V^*$, which satisfy
# the **Bellman optimality equation**: instead of averaging over the policy's
# actions, take the best one,
#
# $$V^*(s) = \max_a \Big[ R(s, a) + \gamma \sum_{s'} P(s' \mid s, a)\, V^*(s') \Big] = \max_a Q^*(s, a),$$
#
# and any policy that is **greedy** with respect to $Q^*$ (puts all its mass on
# an $\arg\max_a Q^*(s, a)$) is optimal.
#
# ## Exercise 4: value iteration (4 points, about 15 min, medium)
#
# Turn the optimality equation into an update: from $V_0 = 0$, repeat
# $V_{k+1}(s) = \max_a Q_k(s, a)$ with $Q_k$ computed from $V_k$ (use your
# `q_from_v`), until the largest change is below `tol`. Then return $V$ and the
# greedy policy as an (S, A) array of probabilities with a single 1 per row
# (break ties by the first best action, as `np.argmax` does).
#
# <details><summary>Hint 1: the loop</summary>
#
# It is your policy evaluation loop with the average over the policy's
# actions replaced by a max over all actions.
#
# </details>
#
# <details><summary>Hint 2: the key lines</summary>
#
# In the loop, `V_new = q_from_v(P, R, V, gamma).max(axis=1)`. After it,
# `actions = q_from_v(P, R, V, gamma).argmax(axis=1)` and
# `policy = np.eye(R.shape[1])[actions]` (row `a` of the identity matrix is
# the one-hot row of action `a`).
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "value_iteration", "locked": false, "schema_version": 3, "solution": true, "task": false}
def value_iteration(P, R, gamma, tol=1e-8):
    """Optimal values and a greedy (optimal) policy.

    Args:
        P: float array (S, A, S'); R: float array (S, A); gamma: discount in [0, 1];
        tol: stop when no value changes by tol or more in a sweep.

    Returns:
        (V, policy): V float array (S,), the optimal values; policy float array
        (S, A), one-hot rows, greedy with respect to the returned V.
    """
    ### BEGIN SOLUTION
    V = np.zeros(R.shape[0])
    while True:
        V_new = q_from_v(P, R, V, gamma).max(axis=1)
        if np.max(np.abs(V_new - V)) < tol:
            break
        V = V_new
    V = V_new
    greedy_actions = q_from_v(P, R, V, gamma).argmax(axis=1)
    policy = np.eye(R.shape[1])[greedy_actions]
    return V, policy
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_value_iteration", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
"""value_iteration: the chain by hand, then Figure 3.5 and random MDPs."""
import numpy as np

from rlhelpers.testing import check, check_close, check_returns, check_shape, checks_passed

_P = np.zeros((3, 2, 3))
_R = np.zeros((3, 2))
for _s in range(2):
    _P[_s, 0, _s] = 1.0
    _P[_s, 1, _s + 1] = 1.0
    _R[_s, 1] = _s + 1.0
_P[2, :, 2] = 1.0
_V, _pi = check_returns(
    value_iteration(_P, _R, 0.9),
    ("V", "pi"),
    "value_iteration(_P, _R, 0.9)",
)
check_shape(_V, (3,), "V returned by value_iteration")
check_shape(
    _pi, (3, 2), "the policy returned by value_iteration", hint="an (S, A) array of probabilities"
)
check_close(
    _V,
    [1 + 0.9 * 2, 2.0, 0.0],
    "V* on the chain (gamma = 0.9): advance everywhere",
    hint="V(s) = max over a of Q(s, a), not the average",
)
check_close(
    _pi[:2],
    [[0.0, 1.0], [0.0, 1.0]],
    "the greedy policy in states 0 and 1 (advance = action 1)",
    hint="put probability 1 on argmax_a Q(s, a)",
)
checks_passed("value_iteration")
### BEGIN HIDDEN TESTS
from rlhelpers.envs.tabular import example_3_5, example_4_1

_mdp = example_3_5()
_V, _pi = value_iteration(_mdp.P, _mdp.R, 0.9)
_fig35 = np.array(
    [
        [22.0, 24.4, 22.0, 19.4, 17.5],
        [19.8, 22.0, 19.8, 17.8, 16.0],
        [17.8, 19.8, 17.8, 16.0, 14.4],
        [16.0, 17.8, 16.0, 14.4, 13.0],
        [14.4, 16.0, 14.4, 13.0, 11.7],
    ]
)
check_close(_V, _fig35.ravel(), "V* on Example 3.5 (Figure 3.5, v*(A) = 24.4)", atol=0.051)
_mdp = example_4_1()
_V, _pi = value_iteration(_mdp.P, _mdp.R, 1.0)
_dist = np.array([0, 1, 2, 3, 1, 2, 3, 2, 2, 3, 2, 1, 3, 2, 1, 0], dtype=float)
check_close(
    _V, -_dist, "V* on Example 4.1 (minus the distance to the nearest terminal corner)", atol=1e-6
)
_rng = np.random.default_rng(777)
for _ in range(6):
    _S, _A = int(_rng.integers(2, 12)), int(_rng.integers(2, 5))
    _P = _rng.dirichlet(np.ones(_S) * 0.5, size=(_S, _A))
    _R = _rng.normal(size=(_S, _A))
    _gamma = float(_rng.choice([0.0, 0.5, 0.9]))
    _V, _pi = value_iteration(_P, _R, _gamma)
    check_close(_pi.sum(axis=1), np.ones(_S), "the rows of the greedy policy (probabilities)")
    check(np.all((_pi == 0) | (_pi == 1)), "the greedy policy", expected="one-hot rows", got=_pi)
    check_close(
        _V,
        (_R + _gamma * _P @ _V).max(axis=1),
        "V* satisfies the Bellman optimality equation",
        atol=1e-6,
    )
    _V_greedy = np.linalg.solve(
        np.eye(_S) - _gamma * np.einsum("sa,sat->st", _pi, _P), (_pi * _R).sum(axis=1)
    )
    check_close(
        _V_greedy,
        _V,
        "the value of the returned greedy policy equals V*",
        atol=1e-5,
        hint="the policy must be greedy with respect to Q computed from the final V",
    )
### END HIDDEN TESTS

# %% [markdown]
# **Plot: Figure 3.5 of Sutton & Barto.** Example 3.5's 5x5 grid: every move
# from A (top row, second column) teleports to A' with +10, every move from B
# (top row, fourth column) to B' with +5, bumping into a wall costs -1. With
# $\gamma = 0.9$ the optimal value of A is 24.4, and the arrows show every
# optimal action (all actions tied for the maximum of $Q^*$): head for A, take
# the +10, walk back, repeat.


# %%
def all_greedy_actions(Q, atol=1e-6):
    """(S, A) array, 1 for every action within atol of the best one: the arrows of all ties."""
    return np.isclose(Q, Q.max(axis=1, keepdims=True), rtol=0.0, atol=atol).astype(float)


ex35 = example_3_5()
V35_star, pi35_star = value_iteration(ex35.P, ex35.R, gamma=0.9)
V35_random = policy_evaluation(ex35.P, ex35.R, np.full(ex35.R.shape, 0.25), gamma=0.9)
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
plot_value_heatmap(
    V35_random, shape=ex35.shape, ax=axes[0], title="equiprobable policy (Figure 3.2)"
)
plot_value_heatmap(
    V35_star,
    shape=ex35.shape,
    policy=all_greedy_actions(q_from_v(ex35.P, ex35.R, V35_star, 0.9)),
    ax=axes[1],
    title="optimal V* and optimal actions (Figure 3.5)",
)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Exercise 5: policy iteration (3 points, about 20 min, medium)
#
# Policy iteration reaches the same $V^*$ by a different route: alternate
# **evaluation** (your `policy_evaluation`) and **improvement** (make the
# policy greedy with respect to $Q$ from your `q_from_v`) until the policy stops
# changing. Each improvement can only raise the values (the policy improvement
# theorem), and there are finitely many deterministic policies, so it stops,
# usually after a handful of rounds.
#
# Start from the equiprobable policy. One trap: when two actions are (nearly)
# tied, floating-point noise can make `argmax` flip between them forever.
# Keep the current action unless another one is better by more than a tiny
# margin (say `1e-9`); evaluate with a tight `tol` (say `1e-10`) so the
# margin is above the noise. Return `(V, policy)` like value iteration.
#
# <details><summary>Hint 1: the loop</summary>
#
# Keep the current actions as an int array of shape (S,) next to the one-hot
# policy. One round: evaluate the policy, compute `Q`, choose the new actions,
# and stop when they produce the same policy as before.
#
# </details>
#
# <details><summary>Hint 2: the key lines</summary>
#
# `best = Q.argmax(axis=1)`;
# `keep = Q[states, actions] >= Q[states, best] - 1e-9` with
# `states = np.arange(S)`; `new_actions = np.where(keep, actions, best)`.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "policy_iteration", "locked": false, "schema_version": 3, "solution": true, "task": false}
def policy_iteration(P, R, gamma):
    """Optimal values and policy by alternating evaluation and greedy improvement.

    Args:
        P: float array (S, A, S'); R: float array (S, A); gamma: discount in [0, 1].

    Returns:
        (V, policy): V float array (S,); policy float array (S, A) with one-hot rows.
    """
    ### BEGIN SOLUTION
    S, A = R.shape
    states = np.arange(S)
    policy = np.full((S, A), 1.0 / A)
    actions = np.zeros(S, dtype=int)
    while True:
        V = policy_evaluation(P, R, policy, gamma, tol=1e-10)
        Q = q_from_v(P, R, V, gamma)
        best = Q.argmax(axis=1)
        # keep the current action unless another one is clearly better (no flip-flopping on ties)
        keep = Q[states, actions] >= Q[states, best] - 1e-9
        new_actions = np.where(keep, actions, best)
        new_policy = np.eye(A)[new_actions]
        if np.array_equal(new_policy, policy):
            return V, policy
        policy, actions = new_policy, new_actions
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_policy_iteration", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""policy_iteration: the chain by hand, then Figure 3.5 and agreement with value iteration on random MDPs."""
import numpy as np

from rlhelpers.testing import check, check_close, check_returns, check_shape, checks_passed

_P = np.zeros((3, 2, 3))
_R = np.zeros((3, 2))
for _s in range(2):
    _P[_s, 0, _s] = 1.0
    _P[_s, 1, _s + 1] = 1.0
    _R[_s, 1] = _s + 1.0
_P[2, :, 2] = 1.0
_V, _pi = check_returns(
    policy_iteration(_P, _R, 0.9),
    ("V", "pi"),
    "policy_iteration(_P, _R, 0.9)",
)
check_shape(_pi, (3, 2), "the policy returned by policy_iteration")
check_close(
    _V,
    [2.8, 2.0, 0.0],
    "V* on the chain from policy_iteration (gamma = 0.9)",
    atol=1e-6,
    hint="repeat evaluation + greedy improvement until the policy no longer changes",
)
check_close(_pi[:2], [[0.0, 1.0], [0.0, 1.0]], "the policy in states 0 and 1 (advance = action 1)")
checks_passed("policy_iteration")
### BEGIN HIDDEN TESTS
from rlhelpers.envs.tabular import example_3_5

_mdp = example_3_5()
_V, _pi = policy_iteration(_mdp.P, _mdp.R, 0.9)
_fig35 = np.array(
    [
        [22.0, 24.4, 22.0, 19.4, 17.5],
        [19.8, 22.0, 19.8, 17.8, 16.0],
        [17.8, 19.8, 17.8, 16.0, 14.4],
        [16.0, 17.8, 16.0, 14.4, 13.0],
        [14.4, 16.0, 14.4, 13.0, 11.7],
    ]
)
check_close(_V, _fig35.ravel(), "V* from policy_iteration on Example 3.5 (Figure 3.5)", atol=0.051)
_rng = np.random.default_rng(99)
for _ in range(6):
    _S, _A = int(_rng.integers(2, 12)), int(_rng.integers(2, 5))
    _P = _rng.dirichlet(np.ones(_S) * 0.5, size=(_S, _A))
    _R = _rng.normal(size=(_S, _A))
    _gamma = float(_rng.choice([0.5, 0.9, 0.95]))
    _V_star = np.zeros(_S)
    for _k in range(5000):  # reference value iteration
        _V_star = (_R + _gamma * _P @ _V_star).max(axis=1)
    _V, _pi = policy_iteration(_P, _R, _gamma)
    check_close(
        _V,
        _V_star,
        f"V* from policy_iteration on a random MDP (S={_S}, A={_A}, gamma={_gamma})",
        atol=1e-5,
    )
    check(
        np.all((_pi == 0) | (_pi == 1)) and np.allclose(_pi.sum(axis=1), 1),
        "the returned policy",
        expected="one-hot rows",
        got=_pi,
    )
    _V_pi = np.linalg.solve(
        np.eye(_S) - _gamma * np.einsum("sa,sat->st", _pi, _P), (_pi * _R).sum(axis=1)
    )
    check_close(_V_pi, _V_star, "the value of the returned policy equals V*", atol=1e-5)
### END HIDDEN TESTS

# %% [markdown]
# ## Exercise 6: debugging a GridWorld model (2 points, about 15 min, easy)
#
# Planning needs a model, and a model is code that can be wrong. The function
# below builds the arrays `P` and `R` of the n x n GridWorld from the rules of
# section 2: four moves, walls clamp, with probability `slip` the move is
# replaced by a uniformly random one, -0.01 per step and +1 for the step that
# enters the goal. It runs, its shapes are right, every row of `P` sums to one,
# and it has **one bug**.
#
# The demo under it evaluates the "right, then down" policy, which walks the
# 6-move shortest path, on the model of the deterministic 4x4 grid with
# $\gamma = 0.9$, and prints what the notation box gives by hand for the start
# state: five step costs weighted $1, \gamma, \dots, \gamma^4$ and the +1 of
# the sixth step weighted $\gamma^5$. Find the bug from the symptom, then write
# `fixed_gridworld_model`: the same function with the bug fixed (copy the code
# into the answer cell and change what is wrong; the cell with the given code
# is read-only).
#
# <details><summary>Hint 1: where to look</summary>
#
# Print the values as a 4x4 grid. Which state has a value that no return of
# this GridWorld can have? What should happen to an agent once it stands there?
#
# </details>
#
# <details><summary>Hint 2: the rule that is broken</summary>
#
# Section 2: terminal states are *absorbing*, every action leads back to the
# same state with reward 0. Print `P[15]` and `R[15]` of the model.
#
# </details>
#
# <details><summary>Hint 3: the key lines</summary>
#
# After `R` is computed, make the goal absorbing: `P[goal] = 0.0`,
# `P[goal, :, goal] = 1.0` and `R[goal] = 0.0`.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "gridworld_model_given", "locked": true, "schema_version": 3, "solution": false, "task": false}
def gridworld_model(size=4, slip=0.0, step_reward=-0.01, goal_reward=1.0):
    """P (S, A, S') and R (S, A) of the size x size GridWorld, built from its rules (one bug).

    Actions 0=up 1=right 2=down 3=left; state s is in row s // size, column s % size;
    the goal is the last state, S - 1.
    """
    S, goal = size * size, size * size - 1
    moves = [(-1, 0), (0, 1), (1, 0), (0, -1)]  # (row, column) change of up, right, down, left
    intended = np.zeros((S, 4, S))
    for s in range(S):
        row, col = divmod(s, size)
        for a, (d_row, d_col) in enumerate(moves):
            new_row = min(max(row + d_row, 0), size - 1)  # walls clamp
            new_col = min(max(col + d_col, 0), size - 1)
            intended[s, a, new_row * size + new_col] = 1.0
    # a slip replaces the move by one of the four drawn uniformly (possibly the same one)
    P = (1 - slip) * intended + slip * intended.mean(axis=1, keepdims=True)
    # expected reward: goal_reward when the move enters the goal, step_reward otherwise
    R = goal_reward * P[:, :, goal] + step_reward * (1 - P[:, :, goal])
    return P, R


# %%
# The symptom: evaluate "right, then down" on the model (deterministic 4x4 grid, gamma = 0.9).
P_model, R_model = gridworld_model(size=4)
right_then_down = np.eye(4)[[1 if s % 4 < 3 else 2 for s in range(16)]]
V_model = policy_evaluation(P_model, R_model, right_then_down, gamma=0.9)
print("V of 'right, then down' on the model:\n", np.round(V_model.reshape(4, 4), 3))
v_start_by_hand = -0.01 * sum(0.9**k for k in range(5)) + 0.9**5 * 1.0
print(f"V(start): the model says {V_model[0]:.4f}, by hand {v_start_by_hand:.4f}")


# %% nbgrader={"grade": false, "grade_id": "fixed_gridworld_model", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fixed_gridworld_model(size=4, slip=0.0, step_reward=-0.01, goal_reward=1.0):
    """The GridWorld model of `gridworld_model` with its bug fixed.

    Args:
        size: the grid is size x size, size >= 2; slip: probability in [0, 1];
        step_reward: reward of a step that does not enter the goal;
        goal_reward: reward of the step that enters the goal.

    Returns:
        (P, R): P float array (S, A, S'), R float array (S, A), S = size * size, A = 4.
    """
    ### BEGIN SOLUTION
    S, goal = size * size, size * size - 1
    moves = [(-1, 0), (0, 1), (1, 0), (0, -1)]  # (row, column) change of up, right, down, left
    intended = np.zeros((S, 4, S))
    for s in range(S):
        row, col = divmod(s, size)
        for a, (d_row, d_col) in enumerate(moves):
            new_row = min(max(row + d_row, 0), size - 1)  # walls clamp
            new_col = min(max(col + d_col, 0), size - 1)
            intended[s, a, new_row * size + new_col] = 1.0
    # a slip replaces the move by one of the four drawn uniformly (possibly the same one)
    P = (1 - slip) * intended + slip * intended.mean(axis=1, keepdims=True)
    # expected reward: goal_reward when the move enters the goal, step_reward otherwise
    R = goal_reward * P[:, :, goal] + step_reward * (1 - P[:, :, goal])
    # the fix: the goal is terminal, so it is absorbing with reward 0 (without this, the
    # agent "enters" the goal again by bumping into its walls and earns +1 every step)
    P[goal] = 0.0
    P[goal, :, goal] = 1.0
    R[goal] = 0.0
    return P, R
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_fixed_gridworld_model", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""fixed_gridworld_model: the goal is absorbing with reward 0 and the rest of the model is unchanged."""
import numpy as np

from rlhelpers.testing import check_close, check_returns, check_shape, checks_passed

_P, _R = check_returns(fixed_gridworld_model(size=4), ("P", "R"), "fixed_gridworld_model(size=4)")
check_shape(_P, (16, 4, 16), "P of the 4x4 model")
check_shape(_R, (16, 4), "R of the 4x4 model")
check_close(
    _P.sum(axis=2),
    np.ones((16, 4)),
    "the sums of the rows P[s, a, :] (probabilities)",
    hint="a terminal row is one-hot: set P[goal] to 0 before putting the 1 on the goal",
)
check_close(
    _P[15, :, 15],
    np.ones(4),
    "P[15, a, 15] for the four actions a in the goal (state 15)",
    hint="a terminal state is absorbing: every action in the goal leads back to the goal",
)
check_close(
    _R[15],
    np.zeros(4),
    "R[15], the rewards of the four actions in the goal",
    hint="after the end nothing more is earned: a terminal state's rewards are 0",
)
check_close(
    _R[14],
    [-0.01, 1.0, -0.01, -0.01],
    "R[14], the rewards of the cell left of the goal (right enters the goal)",
    hint="only the goal's rows are wrong in the given model: keep the rest as it was",
)
_pi = np.eye(4)[[1 if s % 4 < 3 else 2 for s in range(16)]]
_V = np.linalg.solve(np.eye(16) - 0.9 * np.einsum("sa,sat->st", _pi, _P), (_pi * _R).sum(axis=1))
check_close(
    _V[0],
    -0.01 * sum(0.9**k for k in range(5)) + 0.9**5 * 1.0,
    "V(start) of 'right, then down' on the fixed 4x4 model (gamma = 0.9, exact)",
    atol=1e-9,
    hint="five steps at -0.01 weighted 1, 0.9, ..., 0.9^4, then +1 weighted 0.9^5, then nothing",
)
checks_passed("fixed_gridworld_model")
### BEGIN HIDDEN TESTS
from rlhelpers.envs.gridworld import gridworld_mdp

for _size, _slip, _step, _goal in [
    (2, 0.0, -0.01, 1.0),
    (3, 0.3, -0.01, 1.0),
    (4, 0.2, -0.01, 1.0),
    (5, 0.1, -0.5, 2.0),
    (6, 1.0, 0.0, 10.0),
    (7, 0.05, -0.01, 1.0),
]:
    _P, _R = fixed_gridworld_model(size=_size, slip=_slip, step_reward=_step, goal_reward=_goal)
    _mdp = gridworld_mdp(_size, _slip, _step, _goal)
    _what = f"(size={_size}, slip={_slip}, step_reward={_step}, goal_reward={_goal})"
    check_close(_P, _mdp.P, f"P of fixed_gridworld_model{_what}", atol=1e-12)
    check_close(_R, _mdp.R, f"R of fixed_gridworld_model{_what}", atol=1e-12)
# The optimal values of the fixed model are the GridWorld's (slip = 0.2, gamma = 0.99).
_P, _R = fixed_gridworld_model(size=4, slip=0.2)
_mdp = gridworld_mdp(4, 0.2)
_V, _V_env = np.zeros(16), np.zeros(16)
for _k in range(3000):
    _V = (_R + 0.99 * _P @ _V).max(axis=1)
    _V_env = (_mdp.R + 0.99 * _mdp.P @ _V_env).max(axis=1)
check_close(_V, _V_env, "V* of the fixed slippery model (gamma = 0.99)", atol=1e-8)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. The discount factor: the marshmallow test
#
# $\gamma$ says how much a later reward is worth today. In the return
# $G_t = R_{t+1} + \gamma R_{t+2} + \gamma^2 R_{t+3} + \dots$ the reward of the
# $k$-th step from now, $R_{t+k}$, is weighted $\gamma^{k-1}$: the first step's
# reward counts in full. With $\gamma = 0$ the agent is the child who eats the
# marshmallow at once: only the immediate reward counts,
# $V(s) = \max_a R(s, a)$, and every reward from the second step on is
# invisible. With $\gamma = 0.99$ the +1 of the goal, earned by the 6th step
# of the shortest path, is weighted $0.99^5 \approx 0.95$, so waiting (walking
# to the goal) pays. A rough rule: $\gamma$ looks about $1/(1-\gamma)$ steps
# ahead.
#
# **A case study, in miniature.** The course's case study (an illustrative
# story, not a published incident) is a legal-tech team that fine-tuned an LLM
# with RL to draft contract clauses. They defined the state as *the prompt
# only* and set $\gamma = 0$. The reward model scores the finished response, so
# every token except the last one had immediate reward 0, and with
# $\gamma = 0$ no token could receive credit for a good response that came
# later: in the story, the run did not improve the reward. The fix was a Markov
# state (prompt + tokens so far) and $\gamma$ close to 1 (with a KL penalty).
# Lesson 07 runs both causes separately on a tiny language model and measures
# what each one does.
# Our GridWorld has the same shape: from the start the goal is 6 steps away.
#
# ## Exercise 7: follow the greedy policy (2 + 2 points, about 20 min, easy)
#
# First write `greedy_path(P, policy, start_state, terminal_states, max_steps=100)`:
# starting in `start_state`, repeatedly take the policy's most likely action
# (`argmax` of its row) and move to the most likely next state (`argmax` of
# `P[s, a]`; for a deterministic kernel the only one). Stop when a terminal
# state is reached or after `max_steps` moves. Return the list of visited
# states, starting with `start_state` (so the number of moves is
# `len(path) - 1`).
#
# <details><summary>Hint 1: the loop condition</summary>
#
# Two reasons to stop: the last state of the path is terminal, or the path
# already holds `max_steps` moves. A start in a terminal state gives
# `[start_state]`.
#
# </details>
#
# <details><summary>Hint 2: the key lines</summary>
#
# `while len(path) - 1 < max_steps and path[-1] not in terminal:` then
# `a = int(np.argmax(policy[path[-1]]))` and
# `path.append(int(np.argmax(P[path[-1], a])))`.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "greedy_path", "locked": false, "schema_version": 3, "solution": true, "task": false}
def greedy_path(P, policy, start_state, terminal_states, max_steps=100):
    """The states visited by following a policy through the most likely transitions.

    Args:
        P: float array (S, A, S'); policy: float array (S, A);
        start_state: int; terminal_states: collection of ints;
        max_steps: the largest number of moves.

    Returns:
        list of ints: [start_state, s_1, ..., s_n], n <= max_steps, ending at the
        first terminal state visited (if any).
    """
    ### BEGIN SOLUTION
    terminal = {int(t) for t in terminal_states}
    path = [int(start_state)]
    while len(path) - 1 < max_steps and path[-1] not in terminal:
        s = path[-1]
        a = int(np.argmax(policy[s]))
        path.append(int(np.argmax(P[s, a])))
    return path
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_greedy_path", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""greedy_path: the shortest path and a wall-bumping policy on the 4x4 GridWorld, then random kernels."""
import gymnasium as gym
import numpy as np

import rlhelpers  # noqa: F401, F811
from rlhelpers.testing import check, checks_passed

_P = gym.make("rlhelpers/GridWorld-v0").unwrapped.P
_right_then_down = np.eye(4)[[1 if s % 4 < 3 else 2 for s in range(16)]]
_path = greedy_path(_P, _right_then_down, 0, [15])
check(
    list(_path) == [0, 1, 2, 3, 7, 11, 15],
    "greedy_path for 'right, then down' from state 0",
    expected=[0, 1, 2, 3, 7, 11, 15],
    got=_path,
    hint="start the list with start_state and stop as soon as a terminal state is reached",
)
_path = greedy_path(_P, np.eye(4)[np.zeros(16, dtype=int)], 0, [15], max_steps=5)
check(
    list(_path) == [0] * 6,
    "greedy_path for 'always up' (bumps into the wall) with max_steps=5",
    expected=[0] * 6,
    got=_path,
    hint="stop after max_steps moves: the path then has max_steps + 1 states",
)
checks_passed("greedy_path")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(5)
for _ in range(10):
    _S, _A = int(_rng.integers(2, 15)), int(_rng.integers(1, 4))
    _nxt = _rng.integers(_S, size=(_S, _A))
    _P = np.zeros((_S, _A, _S))
    _P[np.arange(_S)[:, None], np.arange(_A)[None, :], _nxt] = 0.7
    _P += 0.3 / _S  # stochastic, but the most likely next state is _nxt
    _pi = _rng.dirichlet(np.ones(_A), size=_S)
    _term = set(_rng.choice(_S, size=int(_rng.integers(0, 3)), replace=False).tolist())
    _start = int(_rng.integers(_S))
    _max = int(_rng.integers(0, 12))
    _expected = [_start]
    while len(_expected) - 1 < _max and _expected[-1] not in _term:
        _expected.append(int(_nxt[_expected[-1], np.argmax(_pi[_expected[-1]])]))
    _path = greedy_path(_P, _pi, _start, _term, max_steps=_max)
    check(
        [int(x) for x in _path] == _expected,
        "greedy_path on a random kernel",
        expected=_expected,
        got=_path,
        hint="use argmax of the policy row, then argmax of P[s, a]; a start in a terminal state gives [start]",
    )
### END HIDDEN TESTS

# %% [markdown]
# Now the experiment. Solve the deterministic GridWorld with your
# `value_iteration` for $\gamma = 0$ and $\gamma = 0.99$, and fill in:
#
# - `Q_start_gamma0`: the four action values of the start state for $\gamma = 0$ (use `q_from_v`);
# - `path_gamma0`, `path_gamma099`: the greedy paths from the start (`greedy_path`, `max_steps=100`);
# - `steps_to_goal_gamma099`: how many moves the $\gamma = 0.99$ greedy policy needs to reach the goal.
#
# Expect: with $\gamma = 0$ all four actions from the start look the same
# (-0.01 each: the goal is invisible), so the greedy "choice" is arbitrary
# (argmax picks the first, up, and the agent bumps into the wall forever);
# with $\gamma = 0.99$ it walks to the goal in 6 moves.
#
# <details><summary>Hint: the calls</summary>
#
# `V, pi = value_iteration(P_grid, R_grid, gamma=0.0)`, then
# `q_from_v(P_grid, R_grid, V, 0.0)[START]` and
# `greedy_path(P_grid, pi, START, [GOAL], max_steps=100)`; the same for 0.99.
#
# </details>

# %% nbgrader={"grade": false, "grade_id": "gamma_experiment", "locked": false, "schema_version": 3, "solution": true, "task": false}
grid = gym.make("rlhelpers/GridWorld-v0")
P_grid, R_grid = grid.unwrapped.P, grid.unwrapped.R
START, GOAL = 0, 15
### BEGIN SOLUTION
V_gamma0, pi_gamma0 = value_iteration(P_grid, R_grid, gamma=0.0)
Q_start_gamma0 = q_from_v(P_grid, R_grid, V_gamma0, 0.0)[START]
path_gamma0 = greedy_path(P_grid, pi_gamma0, START, [GOAL], max_steps=100)
V_gamma099, pi_gamma099 = value_iteration(P_grid, R_grid, gamma=0.99)
path_gamma099 = greedy_path(P_grid, pi_gamma099, START, [GOAL], max_steps=100)
steps_to_goal_gamma099 = len(path_gamma099) - 1
### END SOLUTION
print("gamma = 0:    Q(start, .) =", Q_start_gamma0, "; path", path_gamma0[:8], "...")
print("gamma = 0.99: path", path_gamma099, "->", steps_to_goal_gamma099, "moves")

# %% nbgrader={"grade": true, "grade_id": "test_gamma_experiment", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""The gamma experiment: the start state is blind at gamma = 0 and walks to the goal at gamma = 0.99."""
import gymnasium as gym
import numpy as np

import rlhelpers  # noqa: F401, F811
from rlhelpers.testing import check, check_close, checks_passed

check_close(
    Q_start_gamma0,
    [-0.01] * 4,
    "Q_start_gamma0, the action values of the start state for gamma = 0",
    hint="with gamma = 0, Q(s, a) = R(s, a): every move from the start costs -0.01",
)
check(
    steps_to_goal_gamma099 == 6,
    "steps_to_goal_gamma099",
    expected=6,
    got=steps_to_goal_gamma099,
    hint="follow the gamma = 0.99 greedy policy from state 0 with greedy_path; count moves, not states",
)
checks_passed("gamma_experiment")
### BEGIN HIDDEN TESTS
_P = gym.make("rlhelpers/GridWorld-v0").unwrapped.P
_R = gym.make("rlhelpers/GridWorld-v0").unwrapped.R
check(
    list(path_gamma099)[0] == 0 and list(path_gamma099)[-1] == 15 and len(path_gamma099) == 7,
    "path_gamma099",
    expected="7 states from 0 to 15",
    got=path_gamma099,
)
for _s, _t in zip(path_gamma099[:-1], path_gamma099[1:], strict=True):
    check(
        _P[_s, :, _t].max() == 1.0,
        "path_gamma099",
        expected="moves between neighbouring cells",
        got=(_s, _t),
    )
# Independently solved: every move of path_gamma099 must be an optimal (gamma = 0.99) move.
_V = np.zeros(16)
for _k in range(2000):
    _V = (_R + 0.99 * _P @ _V).max(axis=1)
_Q = _R + 0.99 * _P @ _V
for _s, _t in zip(path_gamma099[:-1], path_gamma099[1:], strict=True):
    _optimal = np.flatnonzero(np.isclose(_Q[_s], _Q[_s].max()))
    check(
        _P[_s, _optimal, _t].max() == 1.0,
        "path_gamma099",
        expected=f"only optimal moves; from state {_s} the optimal actions are {list(_optimal)}",
        got=(_s, _t),
        hint="solve the gamma = 0.99 problem with value_iteration and follow its policy",
    )
check(
    len(path_gamma0) == 101 or path_gamma0[-1] == 15,
    "path_gamma0",
    expected="a path of max_steps=100 moves (or one that happens to reach the goal)",
    got=len(path_gamma0),
)
### END HIDDEN TESTS

# %% [markdown]
# **Plot: what the start state sees.** The arrows show every action tied for
# the best $Q$ value. Left, $\gamma = 0$: every non-goal state has the same
# value and all four actions tie, so the greedy choice is arbitrary (`argmax`
# picks "up", and the agent bumps into the wall forever); only the two cells
# next to the goal know where it is. Right, $\gamma = 0.99$: the value rises
# towards the goal and every arrow points along a shortest path.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
plot_value_heatmap(
    V_gamma0,
    shape=(4, 4),
    policy=all_greedy_actions(q_from_v(P_grid, R_grid, V_gamma0, 0.0)),
    ax=axes[0],
    terminal_states=[GOAL],
    title="gamma = 0: the goal is invisible",
)
plot_value_heatmap(
    V_gamma099,
    shape=(4, 4),
    policy=all_greedy_actions(q_from_v(P_grid, R_grid, V_gamma099, 0.99)),
    ax=axes[1],
    terminal_states=[GOAL],
    title="gamma = 0.99: head for the goal",
)
fig.tight_layout()
plt.show()

# %% [markdown] nbgrader={"grade": true, "grade_id": "legal_tech_question", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# **Written answer (3 points).** Map the GridWorld experiment onto the
# legal-tech team's RLHF run (state = prompt only, $\gamma = 0$). In 3 to 5
# sentences: what plays the role of the start state, of the goal, and of the
# -0.01 step cost? Why did their run fail to raise the reward-model score, and
# which *two* changes fix it (one for each mistake)?
#
# ### BEGIN SOLUTION
# The start state is the prompt, each move is a token, and the goal is the end
# of a good response, where the reward model's score arrives; the per-step
# cost plays the role of the zero (or small, e.g. KL) per-token reward before
# that. With gamma = 0 each token's value is only its immediate reward, which
# is (almost) the same for every token, exactly like Q(start, .) = -0.01 for
# all four moves: the final score never flows back to the early tokens, so the
# gradient has nothing to prefer and the reward does not improve. With the
# state = prompt only, the state is not even Markov: the same "state" covers
# every partial response, so values cannot tell a promising draft from a bad
# one. The fixes: make the state the prompt plus the tokens so far (Markov),
# and use gamma close to 1 (0.99 or 1) so that the terminal score is credited
# to the tokens that led to it.
# ### END SOLUTION

# %% [markdown]
# ## 7. Monte Carlo: the expectation in the Bellman equation, made concrete
#
# $V^\pi(s)$ is an *expected* return. Dynamic programming computes that
# expectation exactly from $P$ and $R$. Without a model we can still estimate
# it: play many episodes from $s$ with $\pi$, record each discounted return
# $G^{(i)} = \sum_t \gamma^t r^{(i)}_{t+1}$, and average. By the central limit
# theorem the mean $\bar G$ has standard error $\mathrm{SE} = \mathrm{std}(G)/\sqrt{n}$,
# and the true value lies in $\bar G \pm 4\,\mathrm{SE}$ except with probability
# about $6 \cdot 10^{-5}$. That is how an LLM's expected reward is estimated in
# practice: sample many responses to one prompt and average their scores.
#
# ## Exercise 8: Monte Carlo returns (4 points, about 25 min, medium)
#
# Write `mc_returns(env, policy, n_episodes, gamma, seed=0)`: it plays
# `n_episodes` episodes of the Gymnasium environment `env` (from its start
# state) with the tabular `policy` ((S, A) array), and returns the array of the
# discounted returns $G_0$ of the episodes. An episode ends on `terminated` or
# `truncated`. Use two random streams, so the whole run is reproducible from
# `seed`:
#
# - the environment's: `env.reset(seed=seed)` for the first episode, `env.reset()` for the others;
# - the agent's: `rng = np.random.default_rng(seed + 1)`, and the action in state
#   `s` is `rng.choice(A, p=policy[s])`.
#
# **Trap: why `seed + 1`?** Gymnasium builds its generator exactly like
# `np.random.default_rng(seed)`. The GridWorld draws one uniform number per
# step to pick the next state from `P[s, a]`, and `rng.choice` draws one per
# step to pick the action. With the same seed for both, the two numbers are
# *equal* at every step: the number that picked the action also picks the
# landing cell. Actions and slips become correlated, and on this floor the
# estimate comes out too high, far outside its confidence interval (try it
# once: the visible test catches it).
#
# Note on truncation: the GridWorld cuts episodes at 100 steps, so strictly
# the rollouts estimate a 100-step return. For the epsilon-greedy policy below
# an episode lasts about 10 steps, and the chance of reaching 100 is far
# too small to matter.
#
# **Pass condition (graded on seed 0):** on the slippery GridWorld (`slip=0.2`)
# with an epsilon-greedy policy (epsilon = 0.3 around the optimal policy),
# $\gamma = 0.99$, and a budget of **2000 episodes**, the dynamic-programming
# value $V^\pi(\text{start})$ must lie inside mean $\pm$ 4 standard errors of
# your returns. The reference solution passes this on 10 seeds out of 10.
# Validate runs the same check on 200 episodes: its band is wider, and the
# seeding trap still lands far outside it.
#
# <details><summary>Hint 1: the structure</summary>
#
# Create `rng` once, before the loop over episodes (a new generator per
# episode would draw the same numbers in every episode). For each episode:
# reset, then step until `terminated or truncated`, adding each reward with
# its discount.
#
# </details>
#
# <details><summary>Hint 2: the discount</summary>
#
# Keep a running factor `discount = 1.0` per episode: `G += discount * reward`,
# then `discount *= gamma`. The first reward counts in full (the notation box:
# `returns[0] = rewards[0] + gamma * rewards[1] + ...`).
#
# </details>
#
# <details><summary>Hint 3: the key lines</summary>
#
# `rng = np.random.default_rng(seed + 1)` before the loop;
# `s, _ = env.reset(seed=seed) if i == 0 else env.reset()` per episode;
# `a = rng.choice(policy.shape[1], p=policy[s])` per step.
#
# </details>


# %% nbgrader={"grade": false, "grade_id": "mc_returns", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mc_returns(env, policy, n_episodes, gamma, seed=0):
    """Discounted returns of Monte Carlo rollouts.

    Args:
        env: a gymnasium.Env with integer observations (states).
        policy: float array (S, A), rows are probabilities pi(a|s).
        n_episodes: number of episodes to play.
        gamma: discount factor.
        seed: seeds env.reset (first episode) and the action sampler.

    Returns:
        float array (n_episodes,): G_0 = sum_t gamma^t r_{t+1} of each episode.
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed + 1)  # not `seed`: that would replay the env's own stream
    n_actions = policy.shape[1]
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        s, _ = env.reset(seed=seed) if i == 0 else env.reset()
        G, discount, done = 0.0, 1.0, False
        while not done:
            a = rng.choice(n_actions, p=policy[s])
            s, reward, terminated, truncated, _ = env.step(a)
            G += discount * reward
            discount *= gamma
            done = terminated or truncated
        returns[i] = G
    return returns
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_mc_returns", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
"""mc_returns: exact returns on the deterministic GridWorld, then the confidence-interval check on the slippery one."""
import gymnasium as gym
import numpy as np

import rlhelpers  # noqa: F401, F811
from rlhelpers.testing import check, check_close, check_shape, checks_passed

_env = gym.make("rlhelpers/GridWorld-v0")
_right_then_down = np.eye(4)[[1 if s % 4 < 3 else 2 for s in range(16)]]
_G = mc_returns(_env, _right_then_down, 3, 0.9, seed=0)
check_shape(_G, (3,), "the returns of mc_returns(n_episodes=3)", hint="one return per episode")
_expected = -0.01 * sum(0.9**t for t in range(5)) + 0.9**5 * 1.0
check_close(
    _G,
    [_expected] * 3,
    "G_0 of the 6-step shortest path with gamma = 0.9",
    hint="G_0 = rewards[0] + gamma * rewards[1] + ...: the reward of step t (from 0) is "
    "weighted by gamma^t",
)
_G = mc_returns(_env, np.eye(4)[np.zeros(16, dtype=int)], 2, 0.9, seed=0)
check_close(
    _G,
    [-0.01 * (1 - 0.9**100) / (1 - 0.9)] * 2,
    "G_0 of 'always up' (truncated after 100 steps)",
    hint="stop when terminated or truncated; start a fresh G for every episode",
)
check(
    np.all(_G < 0),
    "the returns of 'always up'",
    expected="negative (never reaches the goal)",
    got=_G,
)
# The graded check in small: slip = 0.2, epsilon-greedy (0.3) around the optimal policy,
# gamma = 0.99; the exact value must lie within mean +- 4 standard errors of 200 returns.
_env = gym.make("rlhelpers/GridWorld-v0", slip=0.2)
_P, _R = _env.unwrapped.P, _env.unwrapped.R
_V = np.zeros(16)
for _k in range(3000):
    _V = (_R + 0.99 * _P @ _V).max(axis=1)
_pi = 0.7 * np.eye(4)[(_R + 0.99 * _P @ _V).argmax(axis=1)] + 0.3 / 4
_V_pi = np.linalg.solve(
    np.eye(16) - 0.99 * np.einsum("sa,sat->st", _pi, _P), (_pi * _R).sum(axis=1)
)
_G = mc_returns(_env, _pi, 200, 0.99, seed=0)
check_shape(_G, (200,), "the returns of mc_returns(n_episodes=200)")
_mean, _se = float(np.mean(_G)), float(np.std(_G, ddof=1) / np.sqrt(len(_G)))
check(
    abs(_mean - _V_pi[0]) <= 4 * _se,
    "the Monte Carlo estimate of V(start) on the slippery GridWorld (200 episodes)",
    expected=f"within 4 standard errors ({4 * _se:.4f}) of the exact value {_V_pi[0]:.4f}",
    got=round(_mean, 4),
    hint="sample the action from policy[s] (the current state) with "
    "rng = np.random.default_rng(seed + 1); the same seed as env.reset correlates actions and slips",
)
checks_passed("mc_returns")
### BEGIN HIDDEN TESTS
# The graded check: the same, with 2000 episodes on seed 0.
_G = mc_returns(_env, _pi, 2000, 0.99, seed=0)
check_shape(_G, (2000,), "the returns of mc_returns(n_episodes=2000)")
_mean, _se = float(np.mean(_G)), float(np.std(_G, ddof=1) / np.sqrt(len(_G)))
check(
    abs(_mean - _V_pi[0]) <= 4 * _se,
    "the Monte Carlo estimate of V(start) on the slippery GridWorld (2000 episodes)",
    expected=f"within 4 standard errors ({4 * _se:.4f}) of the exact value {_V_pi[0]:.4f}",
    got=round(_mean, 4),
    hint="sample the action from policy[s] (the current state) with "
    "rng = np.random.default_rng(seed + 1); the same seed as env.reset correlates actions and slips",
)
check(np.all(_G <= 1.0), "the returns", expected="at most 1 (the goal reward)", got=_G.max())
check(
    np.std(_G) > 0.01,
    "the spread of the returns on the slippery GridWorld",
    expected="different returns for different episodes",
    got=float(np.std(_G)),
    hint="reset with a seed only for the first episode",
)
check_close(
    mc_returns(_env, _pi, 30, 0.99, seed=3),
    mc_returns(_env, _pi, 30, 0.99, seed=3),
    "mc_returns called twice with seed=3 (must be reproducible)",
    hint="use rng = np.random.default_rng(seed + 1) and env.reset(seed=seed) for the first episode",
)
check(
    not np.allclose(
        mc_returns(_env, _pi, 30, 0.99, seed=3), mc_returns(_env, _pi, 30, 0.99, seed=4)
    ),
    "mc_returns with seed=3 and seed=4",
    expected="different returns",
    got="the same returns",
    hint="use the seed argument for both the environment and the action sampler",
)
_G = mc_returns(_env, _pi, 0, 0.99, seed=0)
check_shape(_G, (0,), "mc_returns with n_episodes=0")
### END HIDDEN TESTS

# %% [markdown]
# **Plot: the Monte Carlo estimate converging to the DP value.** The running
# mean of the returns (with a band of $\pm 4$ standard errors) closes in on
# $V^\pi(\text{start})$ computed by your `policy_evaluation` from $P$ and $R$.

# %%
MC_BUDGET = 2000  # episodes, as in the graded check
MC_GAMMA = 0.99
MC_EPSILON = 0.3


def epsilon_greedy_policy(greedy, epsilon):
    """(S, A) probabilities: the greedy one-hot rows mixed with epsilon of uniform."""
    return (1 - epsilon) * greedy + epsilon / greedy.shape[1]


def mc_versus_dp(seed, n_episodes=MC_BUDGET):
    """Monte Carlo returns from the start of the slippery GridWorld, and the exact V(start).

    Returns (returns: float array (n_episodes,), v_dp: float)."""
    env = gym.make("rlhelpers/GridWorld-v0", slip=0.2)
    P, R = env.unwrapped.P, env.unwrapped.R
    _, greedy = value_iteration(P, R, MC_GAMMA)
    policy = epsilon_greedy_policy(greedy, MC_EPSILON)
    v_dp = policy_evaluation(P, R, policy, MC_GAMMA)[0]
    return mc_returns(env, policy, n_episodes, MC_GAMMA, seed=seed), float(v_dp)


mc_G, mc_v_dp = mc_versus_dp(seed=0)
n = np.arange(1, len(mc_G) + 1)
running_mean = np.cumsum(mc_G) / n
# running sample variance from running sums (no O(n^2) loop); undefined for one episode
with np.errstate(invalid="ignore", divide="ignore"):
    running_var = (np.cumsum(mc_G**2) - n * running_mean**2) / (n - 1)
running_se = np.sqrt(np.maximum(running_var, 0.0) / n)
print(f"MC: {mc_G.mean():.4f} +- {4 * running_se[-1]:.4f} (4 SE);  DP: {mc_v_dp:.4f}")
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(n, running_mean, label="running mean of the returns")
ax.fill_between(
    n,
    running_mean - 4 * running_se,
    running_mean + 4 * running_se,
    alpha=0.3,
    label="+- 4 standard errors",
)
ax.axhline(mc_v_dp, color="k", ls="--", label="dynamic programming V(start)")
ax.set_xscale("log")
ax.set_xlabel("episodes")
ax.set_ylabel("estimate of V(start)")
ax.set_title("Monte Carlo converges to the Bellman value (slip = 0.2, epsilon = 0.3)")
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 8. Why tables stop scaling, and the two roads to $\pi^*$
#
# Everything above stores one number per state (or per state-action pair)
# and sweeps over all of them. That works while the states fit in memory.
# Tic-Tac-Toe has 255,168 possible games (and only 5,478 distinct legal
# board positions), a table handles it easily. An Atari screen downsampled to
# 84x84 pixels with 256 grey levels has $256^{7056}$ possible frames, a number
# with about 17,000 digits, far more than there are atoms in the observable
# universe ($\approx 10^{80}$). No table, no sweep. And an LLM's state, every
# possible context, is larger still.
#
# **Deep RL** replaces the table by a network that *generalises* across
# states: $V_\theta(s)$, $Q_\theta(s, a)$ or $\pi_\theta(a \mid s)$. DQN (Mnih et
# al., 2013; the 2015 Nature version played 49 Atari games from pixels) is
# Q-learning with a network, stabilised by a replay buffer and a target
# network (lesson 05).
#
# There are **two roads** to a good policy:
#
# - **Value-based** (Q-learning, SARSA, DQN): learn $Q^*$, act greedily,
#   $\pi(s) = \arg\max_a Q(s, a)$. Natural for a few discrete actions, as in
#   this lesson.
# - **Policy-based** (REINFORCE, actor-critic, PPO; DPO is a close relative
#   that skips the explicit reward model): parametrise $\pi_\theta(a \mid s)$
#   directly and push up the probability of actions that led to high return.
#   Values may still help (a critic, an advantage) but the policy is the
#   thing you train.
#
# LLM alignment takes the second road. The action space is a vocabulary of
# 30,000+ tokens per step, and we already *have* an excellent stochastic
# policy, the pretrained model, which we want to nudge (and keep close to,
# with a KL penalty), not replace with an argmax over a learned Q table.
# Lessons 03 to 06 follow that road.

# %% [markdown]
# ## Exercise 9: quiz (3 points, about 15 min, easy)
#
# Six questions, half a point each. Set each variable to a letter (a string
# such as `"b"`) or to a number, as the question asks. Validate checks only
# that each answer has the right form; the graded feedback explains each
# question you got right.
#
# 1. `answer_q1`: CartPole-v1 stops an episode at step 500 while the pole is
#    still up. When you learn $V$, the target for that last step is
#    (a) $r$, because after the last step the value is 0;
#    (b) $r + \gamma V(s')$, because the state still has a future.
# 2. `answer_q2`: on `gym.make("rlhelpers/GridWorld-v0", slip=0.2)` the agent
#    stands in state 3 (the top-right corner) and chooses "right". With what
#    probability is it in state 3 after the step? (a number)
# 3. `answer_q3`: one sweep of value iteration with your `q_from_v` multiplies
#    every entry of a dense `P` by a value. On an n x n GridWorld with 4
#    actions, the number of multiplications per sweep is proportional to
#    (a) $n^2$; (b) $n^4$; (c) $4^{n^2}$.
# 4. `answer_q4`: LLM alignment (PPO, DPO) trains the policy
#    $\pi_\theta$ directly instead of learning $Q^*$ and acting greedily.
#    Which of these is **not** a reason for that choice?
#    (a) the pretrained LLM already is a good stochastic policy, to be nudged
#    rather than replaced; (b) an argmax over a 30,000+-token vocabulary gives
#    a deterministic policy and throws away the sampling that the pretrained
#    model does; (c) value-based methods cannot use neural networks.
# 5. `answer_q5`: on the deterministic GridWorld with $\gamma = 0.9$,
#    $V^*(11) = 1$ (state 11 is just above the goal: one step down earns +1).
#    What is $V^*(10)$, the value of the cell to its left? (a number; two
#    decimals are enough)
# 6. `answer_q6`: your `mc_returns` estimate of $V(\text{start})$ from 2000
#    episodes has a band of $\pm 4$ standard errors of width $w$. With 8000
#    episodes of the same policy, the band is about (a) $w/4$ wide;
#    (b) $w/2$ wide; (c) $w$ wide, since the returns spread as much as before.
#
# <details><summary>Hint: where to look</summary>
#
# q1: section 3, which flag does a time limit set? q2: a slip picks one of the
# four moves uniformly and walls clamp: count the moves that leave the agent
# in the corner. q3: the shape of `P`. q4: section 8, the methods on each
# road. q5: one Bellman backup, as in Exercise 3, and the notation box for
# which reward is discounted. q6: the standard error in section 7.
#
# </details>

# %% nbgrader={"grade": false, "grade_id": "quiz", "locked": false, "schema_version": 3, "solution": true, "task": false}
answer_q1 = None  # "a" or "b"
answer_q2 = None  # a number
answer_q3 = None  # "a", "b" or "c"
answer_q4 = None  # "a", "b" or "c"
answer_q5 = None  # a number
answer_q6 = None  # "a", "b" or "c"
### BEGIN SOLUTION
answer_q1 = "b"
answer_q2 = 0.9
answer_q3 = "b"
answer_q4 = "c"
answer_q5 = 0.89
answer_q6 = "b"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_quiz", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""Quiz: each answer has the right form (visible); each question scores half a point (hidden)."""
from rlhelpers.testing import Quiz, checks_passed

_quiz = Quiz(points=3)
_quiz.answered("answer_q1", answer_q1, choices="ab")
_quiz.answered("answer_q2", answer_q2, number=True)
_quiz.answered("answer_q3", answer_q3, choices="abc")
_quiz.answered("answer_q4", answer_q4, choices="abc")
_quiz.answered("answer_q5", answer_q5, number=True)
_quiz.answered("answer_q6", answer_q6, choices="abc")
checks_passed("quiz")
### BEGIN HIDDEN TESTS
_quiz.question(
    "answer_q1",
    answer_q1,
    "b",
    explanation="The 500-step limit is a time limit: the episode is truncated, not terminated. "
    "The pole is still up, the state has a future, so the target bootstraps from V(s').",
)
_quiz.question(
    "answer_q2",
    answer_q2,
    0.9,
    tol=0.005,
    explanation="Without a slip (0.8) 'right' hits the wall; a slip (0.2) picks one of the four "
    "moves, and 'up' and 'right' hit a wall too: 0.8 + 0.2 * 2/4 = 0.9 (P_slip[3, 1, 3]).",
)
_quiz.question(
    "answer_q3",
    answer_q3,
    "b",
    explanation="P has S x A x S' = n^2 * 4 * n^2 entries: a 100 x 100 grid already costs "
    "4e8 multiplications per sweep, and the 256^7056 Atari frames cannot even be stored. That is "
    "why tables stop scaling. (4^(n^2) is the number of deterministic policies.)",
)
_quiz.question(
    "answer_q4",
    answer_q4,
    "c",
    explanation="DQN is Q-learning with a neural network, so (c) is false; (a) and (b) are "
    "why alignment improves the pretrained policy directly.",
)
_quiz.question(
    "answer_q5",
    answer_q5,
    0.89,
    tol=0.005,
    explanation="One Bellman backup: V*(10) = R(10, right) + gamma V*(11) = -0.01 + 0.9 * 1 = "
    "0.89. The first step's reward counts in full; the +1 of the second step is weighted gamma.",
)
_quiz.question(
    "answer_q6",
    answer_q6,
    "b",
    explanation="SE = std(G) / sqrt(n): four times the episodes halve the band, while the "
    "spread std(G) of single returns stays the same.",
)
### END HIDDEN TESTS
_quiz.score()

# %% [markdown]
# ## Summary
#
# - An MDP is $(\mathcal S, \mathcal A, P, R, \gamma)$; a state is Markov when
#   it carries everything the future needs; for an LLM that is the whole context.
# - `terminated` ends the MDP, `truncated` only stops our watching; both end an episode.
# - The Bellman expectation equation $V = r_\pi + \gamma P_\pi V$ gives
#   policy evaluation; the optimality equation $V^* = \max_a Q^*$ gives value
#   iteration; alternating evaluation and greedy improvement is policy
#   iteration; both find Figure 3.5's $v^*$.
# - A model is code that can be wrong: a terminal state must be absorbing with
#   reward 0, or rewards "after the end" leak into the values of the states before it.
# - Monte Carlo rollouts estimate the same expectation without a model: the
#   basis of REINFORCE in lesson 03.
# - $\gamma = 0$ makes a delayed reward invisible: the legal-tech bug.
# - Tables do not scale; networks do. LLM alignment trains the policy directly.
