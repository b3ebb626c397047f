"""rlhelpers.envs: Gymnasium API, tabular invariants, and the textbook reference numbers."""

from __future__ import annotations

import importlib
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rlhelpers  # noqa: F401  (registers the environments)
import rlhelpers.envs
from rlhelpers.envs import (
    CliffWalkingEnv,
    ContextualBanditEnv,
    GridWorld,
    GridWorld4x4Corners,
    GridWorld5x5AB,
    PickActionEnv,
    Probe1Env,
    Probe2Env,
    Probe3Env,
    Probe4Env,
    Probe5Env,
    RandomWalkEnv,
    TabularEnv,
    TabularMDP,
    example_3_5,
    example_4_1,
)

# What the course promises, written out by hand: id -> the class gym.make builds.
EXPECTED_ENVS = {
    "rlhelpers/GridWorld-v0": GridWorld,
    "rlhelpers/PickAction-v0": PickActionEnv,
    "rlhelpers/ContextualBandit-v0": ContextualBanditEnv,
    "rlhelpers/RandomWalk-v0": RandomWalkEnv,
    "rlhelpers/CliffWalking-v0": CliffWalkingEnv,
    "rlhelpers/GridWorld5x5AB-v0": GridWorld5x5AB,
    "rlhelpers/GridWorld4x4Corners-v0": GridWorld4x4Corners,
    "rlhelpers/Probe1-v0": Probe1Env,
    "rlhelpers/Probe2-v0": Probe2Env,
    "rlhelpers/Probe3-v0": Probe3Env,
    "rlhelpers/Probe4-v0": Probe4Env,
    "rlhelpers/Probe5-v0": Probe5Env,
}
# Envs whose 50-step rollout is the same for every seed: no randomness to seed.
SEED_FREE_IDS = {"rlhelpers/GridWorld-v0", "rlhelpers/Probe1-v0", "rlhelpers/Probe3-v0"}
ENV_IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("rlhelpers/"))
TABULAR_IDS = [env_id for env_id in ENV_IDS if isinstance(gym.make(env_id).unwrapped, TabularEnv)]

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3


def test_registered_ids_are_the_expected_ones():
    """The registry and the documented rlhelpers.envs.ENV_IDS hold exactly the expected ids."""
    assert ENV_IDS == sorted(EXPECTED_ENVS), "registered ids differ from the expected list"
    assert sorted(rlhelpers.envs.ENV_IDS) == sorted(EXPECTED_ENVS), "ENV_IDS documents others"


@pytest.mark.parametrize("env_id", sorted(EXPECTED_ENVS))
def test_each_id_makes_its_class(env_id):
    assert type(gym.make(env_id).unwrapped) is EXPECTED_ENVS[env_id]


def test_reimport_does_not_warn_or_register_again():
    before = {env_id: gym.registry[env_id] for env_id in ENV_IDS}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(rlhelpers.envs)
    after = {env_id: gym.registry[env_id] for env_id in ENV_IDS}
    # the very same specs: a second registration would have replaced them with new ones
    assert all(after[env_id] is before[env_id] for env_id in ENV_IDS), "re-registered on reload"


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_passes(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # The contextual bandit's Gaussian context is honestly unbounded.
        warnings.filterwarnings("ignore", message=".*Box observation space m.*infinity")
        check_env(gym.make(env_id).unwrapped)


def _rollout(env: gym.Env, seed: int, steps: int = 50) -> list:
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    trace = [np.asarray(obs).tolist()]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        trace.append((np.asarray(obs).tolist(), reward, terminated, truncated))
        if terminated or truncated:
            obs, _ = env.reset()
            trace.append(np.asarray(obs).tolist())
    return trace


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_same_rollout(env_id):
    first = _rollout(gym.make(env_id), seed=7)
    second = _rollout(gym.make(env_id), seed=7)
    assert first == second
    if env_id not in SEED_FREE_IDS:
        assert _rollout(gym.make(env_id), seed=8) != first


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_action_outside_the_space_raises(env_id):
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    n = env.action_space.n
    for bad in (n, -1, 1.5, "0"):
        with pytest.raises(ValueError, match=r"action must be"):
            env.step(bad)
    env.step(np.int64(0))  # numpy ints, as vector envs pass them, are fine


@pytest.mark.parametrize("env_id", TABULAR_IDS)
def test_tabular_invariants(env_id):
    env = gym.make(env_id).unwrapped
    n_states, n_actions = env.observation_space.n, env.action_space.n
    assert env.P.shape == (n_states, n_actions, n_states)
    assert env.R.shape == (n_states, n_actions)
    assert env.P.dtype == np.float64 and env.R.dtype == np.float64
    np.testing.assert_allclose(env.P.sum(axis=2), 1.0)
    assert (env.P >= 0).all()
    assert np.isfinite(env.R).all()
    assert env.terminal_states == sorted(env.terminal_states)
    for t in env.terminal_states:
        assert (env.P[t, :, t] == 1.0).all()
        assert (env.R[t] == 0.0).all()
    assert env.shape[0] * env.shape[1] == n_states
    assert env.as_mdp().P is env.P
    with pytest.raises(ValueError):
        env.P[0, 0, 0] = 0.5  # shared model arrays are read-only


@pytest.mark.parametrize("env_id", TABULAR_IDS)
def test_sampled_transitions_follow_P(env_id):
    env = gym.make(env_id).unwrapped
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    for _ in range(200):
        state = env.state
        action = int(rng.integers(env.action_space.n))
        next_state, reward, terminated, _, info = env.step(action)
        assert env.P[state, action, next_state] > 0
        assert info["prob"] == env.P[state, action, next_state]
        assert terminated == (next_state in env.terminal_states)
        if terminated:
            env.reset()


# --------------------------------------------------------------------------- GridWorld


def test_gridworld_shortest_path():
    env = gym.make("rlhelpers/GridWorld-v0")
    state, _ = env.reset(seed=0)
    assert state == 0
    total, steps = 0.0, 0
    for action in (RIGHT, RIGHT, RIGHT, DOWN, DOWN, DOWN):
        state, reward, terminated, truncated, _ = env.step(action)
        total += reward
        steps += 1
        if terminated:
            break
    assert (state, steps, terminated, truncated) == (15, 6, True, False)
    assert total == pytest.approx(1.0 - 5 * 0.01)


def test_gridworld_walls_clamp_and_tables():
    env = GridWorld()
    assert env.shape == (4, 4) and env.start_state == 0 and env.terminal_states == [15]
    env.reset(seed=0)
    assert env.step(UP)[:2] == (0, -0.01)
    assert env.step(LEFT)[:2] == (0, -0.01)
    assert env.P[3, RIGHT, 3] == 1.0  # top-right corner
    assert env.P[14, RIGHT, 15] == 1.0 and env.R[14, RIGHT] == 1.0
    assert env.P[5, DOWN, 9] == 1.0 and env.R[5, DOWN] == -0.01


def test_gridworld_slip_statistics():
    slip = 0.4
    env = GridWorld(slip=slip)
    # Intended move right from 5 -> 6 with 1 - slip + slip/4; each other neighbour slip/4.
    expected = {6: 1 - slip + slip / 4, 1: slip / 4, 9: slip / 4, 4: slip / 4}
    assert {s: env.P[5, RIGHT, s] for s in np.flatnonzero(env.P[5, RIGHT])} == pytest.approx(
        expected
    )
    counts = np.zeros(16)
    env.reset(seed=123)
    n = 4000
    for _ in range(n):
        env.reset(options={"start_state": 5})
        counts[env.step(RIGHT)[0]] += 1
    # 4.5 standard errors: a failure means the sampler disagrees with P.
    tolerance = 4.5 * np.sqrt(env.P[5, RIGHT] * (1 - env.P[5, RIGHT]) / n) + 1e-12
    assert (np.abs(counts / n - env.P[5, RIGHT]) <= tolerance).all()


def test_gridworld_slip_reward_is_expected_reward():
    env = GridWorld(slip=1.0)
    # From 14 a random action reaches the goal only when it is "right" (1 of 4).
    assert env.R[14, UP] == pytest.approx(0.25 * 1.0 + 0.75 * -0.01)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 0}, "GridWorld size must be an integer >= 2, got 0"),
        ({"size": 1}, "size must be an integer >= 2"),
        ({"size": 2.5}, "size must be"),
        ({"slip": -0.1}, r"slip must be in \[0, 1\], got -0.1"),
        ({"slip": 1.5}, r"slip must be in \[0, 1\], got 1.5"),
        ({"step_reward": float("nan")}, "step_reward must be a finite number"),
    ],
)
def test_gridworld_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make("rlhelpers/GridWorld-v0", **kwargs)


def test_gridworld_action_error_names_the_range():
    env = GridWorld()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"\[0, 3\] \(0=up, 1=right, 2=down, 3=left\), got 4"):
        env.step(4)


def test_step_before_reset_raises():
    with pytest.raises(RuntimeError, match="reset"):
        GridWorld().step(0)


def test_ansi_render():
    env = gym.make("rlhelpers/GridWorld-v0", render_mode="ansi")
    env.reset(seed=0)
    assert env.render() == "@ . . .\n. . . .\n. . . .\n. . . G\n"


# --------------------------------------------------------------------------- one-step envs


def test_pick_action_rewards():
    env = gym.make("rlhelpers/PickAction-v0")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2,) and obs.dtype == np.float32 and (np.abs(obs) <= 1).all()
    assert env.step(2)[1:4] == (1.0, True, False)
    env.reset()
    assert env.step(0)[1:4] == (-0.1, True, False)
    env = gym.make("rlhelpers/PickAction-v0", target_action=0, wrong_reward=0.0, obs_dim=3)
    obs, _ = env.reset(seed=1)
    assert obs.shape == (3,)
    assert env.step(0)[1] == 1.0


@pytest.mark.parametrize("target", [4, -1, 1.0])
def test_pick_action_bad_target(target):
    with pytest.raises(ValueError, match=r"target_action must be an int in \[0, 3\]"):
        PickActionEnv(target_action=target)


def test_contextual_bandit_problem_is_fixed_and_context_matters():
    env = ContextualBanditEnv()
    again = ContextualBanditEnv()
    np.testing.assert_array_equal(env.weights, again.weights)
    assert not np.array_equal(env.weights, ContextualBanditEnv(problem_seed=1).weights)
    contexts = np.random.default_rng(0).standard_normal((20000, 4))
    means = env.expected_rewards(contexts)
    assert means.shape == (20000, 4)
    # Every arm pays ~0 on average; picking the best arm per context pays much more.
    assert np.abs(means.mean(axis=0)).max() < 0.05
    best = env.optimal_action(contexts)
    assert best.shape == (20000,)
    assert means[np.arange(20000), best].mean() > 1.0
    assert isinstance(env.optimal_action(contexts[0]), int)


def test_contextual_bandit_rewards_are_noisy_linear():
    env = ContextualBanditEnv(noise_std=0.0)
    context, _ = env.reset(seed=3)
    assert context.dtype == np.float32 and context.shape == (4,)
    _, reward, terminated, _, _ = env.step(1)
    assert terminated
    assert reward == pytest.approx(env.expected_rewards(context)[1])
    with pytest.raises(ValueError, match="context must have shape"):
        env.expected_rewards(np.zeros(3))


# --------------------------------------------------------------------------- probes

PROBE_IDS = [f"rlhelpers/Probe{n}-v0" for n in range(1, 6)]


def _probe_episodes(env_id: str, n_episodes: int, seed: int = 0) -> list[list[tuple]]:
    """Whole episodes of a probe (through gym.make), each step (obs, action, reward, next_obs)."""
    env = gym.make(env_id)
    rng = np.random.default_rng(seed)
    episodes = []
    for episode in range(n_episodes):
        obs, _ = env.reset(seed=seed + episode)
        assert obs.shape == (1,) and obs.dtype == np.float32 and obs in env.observation_space
        steps, terminated = [], False
        while not terminated:
            action = int(rng.integers(env.action_space.n))
            next_obs, reward, terminated, truncated, _ = env.step(action)
            assert next_obs.shape == (1,) and next_obs.dtype == np.float32
            assert not truncated and isinstance(reward, float)
            steps.append((float(obs[0]), action, reward, float(next_obs[0])))
            obs = next_obs
        episodes.append(steps)
    return episodes


@pytest.mark.parametrize("env_id", PROBE_IDS)
def test_probe_spaces_and_no_time_limit(env_id):
    env = gym.make(env_id)
    assert env.observation_space == gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    assert env.spec.max_episode_steps is None  # the probes end their episodes themselves
    n_actions = 2 if env_id in ("rlhelpers/Probe4-v0", "rlhelpers/Probe5-v0") else 1
    assert env.action_space == gym.spaces.Discrete(n_actions)
    probe = env.unwrapped
    assert set(probe.expected_policy()) == set(probe.expected_values(0.5))
    for probs in probe.expected_policy().values():
        assert probs.shape == (n_actions,) and probs.sum() == 1.0
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]"):
        probe.expected_values(1.5)


def test_probe1_constant_reward_one_step():
    episodes = _probe_episodes("rlhelpers/Probe1-v0", 20)
    assert all(steps == [(0.0, 0, 1.0, 0.0)] for steps in episodes)
    assert Probe1Env().expected_values(0.9) == {0.0: 1.0}


def test_probe2_reward_is_the_observation():
    episodes = _probe_episodes("rlhelpers/Probe2-v0", 40)
    assert all(len(steps) == 1 for steps in episodes)
    assert all(reward == obs == next_obs for ((obs, _, reward, next_obs),) in episodes)
    assert {steps[0][0] for steps in episodes} == {-1.0, 1.0}  # both observations occur
    assert Probe2Env().expected_values(0.9) == {-1.0: -1.0, 1.0: 1.0}


def test_probe3_two_steps_reward_at_the_end():
    env = gym.make("rlhelpers/Probe3-v0")
    obs, _ = env.reset(seed=0)
    assert obs.tolist() == [0.0]
    obs, reward, terminated, truncated, _ = env.step(0)
    assert (obs.tolist(), reward, terminated, truncated) == ([1.0], 0.0, False, False)
    obs, reward, terminated, truncated, _ = env.step(0)
    assert (obs.tolist(), reward, terminated, truncated) == ([1.0], 1.0, True, False)
    episodes = _probe_episodes("rlhelpers/Probe3-v0", 5)
    assert all(steps == [(0.0, 0, 0.0, 1.0), (1.0, 0, 1.0, 1.0)] for steps in episodes)
    assert Probe3Env().expected_values(0.9) == {0.0: 0.9, 1.0: 1.0}


def test_probe4_rewards_action_one():
    episodes = _probe_episodes("rlhelpers/Probe4-v0", 40)
    assert all(len(steps) == 1 for steps in episodes)
    assert all(
        (obs, next_obs, reward) == (0.0, 0.0, 1.0 if action == 1 else -1.0)
        for ((obs, action, reward, next_obs),) in episodes
    )
    assert {steps[0][1] for steps in episodes} == {0, 1}
    probe = Probe4Env()
    assert probe.expected_values(0.9) == {0.0: 1.0}
    assert probe.expected_policy()[0.0].tolist() == [0.0, 1.0]


def test_probe5_rewards_the_action_matching_the_sign():
    episodes = _probe_episodes("rlhelpers/Probe5-v0", 60)
    assert all(len(steps) == 1 for steps in episodes)
    seen = set()
    for ((obs, action, reward, next_obs),) in episodes:
        assert next_obs == obs
        assert reward == (1.0 if action == (obs > 0) else -1.0)
        seen.add((obs, action))
    assert seen == {(-1.0, 0), (-1.0, 1), (1.0, 0), (1.0, 1)}
    probe = Probe5Env()
    assert probe.expected_values(0.9) == {-1.0: 1.0, 1.0: 1.0}
    policy = probe.expected_policy()
    assert policy[-1.0].tolist() == [1.0, 0.0] and policy[1.0].tolist() == [0.0, 1.0]


@pytest.mark.parametrize("env_id", PROBE_IDS)
def test_probe_step_after_the_end_raises(env_id):
    env = gym.make(env_id).unwrapped
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    terminated = False
    while not terminated:
        terminated = env.step(0)[2]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


@pytest.mark.parametrize("env_id", PROBE_IDS)
def test_probe_in_a_vector_env(env_id):
    """The lessons' set-up: autoreset steps never reach a finished probe."""
    envs = gym.make_vec(env_id, num_envs=3, vectorization_mode="sync")
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (3, 1) and obs.dtype == np.float32
    for _ in range(6):
        obs, rewards, terminated, truncated, _ = envs.step(envs.action_space.sample())
        assert obs.shape == (3, 1) and not truncated.any()
    envs.close()


def _td0_values_on_probe3(gamma: float, mask_terminal: bool) -> np.ndarray:
    """Tabular TD(0) on Probe3: V[0], V[1] indexed by the observation (0 or 1)."""
    env = gym.make("rlhelpers/Probe3-v0")
    v = np.zeros(2)
    for episode in range(200):
        obs, _ = env.reset(seed=episode)
        terminated = False
        while not terminated:
            next_obs, reward, terminated, _, _ = env.step(0)
            s, s_next = int(obs[0]), int(next_obs[0])
            not_done = 0.0 if (terminated and mask_terminal) else 1.0
            v[s] += 0.5 * (reward + gamma * not_done * v[s_next] - v[s])
            obs = next_obs
    return v


def test_probe3_catches_a_forgotten_terminal_mask():
    gamma = 0.9
    expected = Probe3Env().expected_values(gamma)
    v = _td0_values_on_probe3(gamma, mask_terminal=True)
    np.testing.assert_allclose(v, [expected[0.0], expected[1.0]], atol=1e-6)  # [0.9, 1.0]
    # Bootstrapping past the end: V(1) = 1 + gamma * V(1) -> 1 / (1 - gamma) = 10.
    buggy = _td0_values_on_probe3(gamma, mask_terminal=False)
    assert buggy[1] > 2.0 and buggy[0] > 2 * gamma
    np.testing.assert_allclose(buggy, [gamma / (1 - gamma), 1 / (1 - gamma)], rtol=0.01)


# --------------------------------------------------------------------------- random walk, cliff


def test_random_walk_true_values_satisfy_bellman():
    env = gym.make("rlhelpers/RandomWalk-v0").unwrapped
    v = env.true_values
    np.testing.assert_allclose(v, [0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 0])
    assert env.start_state == 3 and env.terminal_states == [0, 6]
    assert env.action_space.n == 1
    # v(s) = R(s) + sum_s' P(s'|s) v(s') with gamma = 1.
    np.testing.assert_allclose(v, env.R[:, 0] + env.P[:, 0] @ v)
    big = RandomWalkEnv(n_states=19)
    np.testing.assert_allclose(big.true_values, big.R[:, 0] + big.P[:, 0] @ big.true_values)


def test_random_walk_episode_ends_with_the_right_reward():
    env = gym.make("rlhelpers/RandomWalk-v0")
    state, _ = env.reset(seed=0)
    assert state == 3
    terminated, reward = False, 0.0
    while not terminated:
        state, reward, terminated, _, _ = env.step(0)
    assert (state, reward) in {(0, 0.0), (6, 1.0)}


def test_cliff_penalty_resets_to_start():
    env = CliffWalkingEnv()
    state, _ = env.reset(seed=0)
    assert state == 36 and env.shape == (4, 12) and env.terminal_states == [47]
    state, reward, terminated, _, _ = env.step(RIGHT)
    assert (state, reward, terminated) == (36, -100.0, False)
    state, reward, terminated, _, _ = env.step(UP)
    assert (state, reward, terminated) == (24, -1.0, False)
    for action in [RIGHT] * 11 + [DOWN]:
        state, reward, terminated, _, _ = env.step(action)
    assert (state, reward, terminated) == (47, -1.0, True)


# --------------------------------------------------------------------------- Sutton & Barto


def _evaluate_equiprobable(mdp: TabularMDP, gamma: float) -> np.ndarray:
    """v_pi for the equiprobable policy by a linear solve on the non-terminal states."""
    p_pi = mdp.P.mean(axis=1)  # (S, S)
    r_pi = mdp.R.mean(axis=1)  # (S,)
    live = np.setdiff1d(np.arange(mdp.n_states), mdp.terminal_states)
    v = np.zeros(mdp.n_states)
    a = np.eye(len(live)) - gamma * p_pi[np.ix_(live, live)]
    v[live] = np.linalg.solve(a, r_pi[live])
    return v


def test_example_3_5_equiprobable_values():
    mdp = example_3_5()
    assert mdp.shape == (5, 5) and mdp.terminal_states == []
    v = _evaluate_equiprobable(mdp, gamma=0.9).reshape(5, 5)
    np.testing.assert_allclose(v[0], [3.3, 8.8, 4.4, 5.3, 1.5], atol=0.05)
    np.testing.assert_allclose(v[4], [-1.9, -1.3, -1.2, -1.4, -2.0], atol=0.05)


def test_example_3_5_optimal_values():
    mdp = example_3_5()
    v = np.zeros(mdp.n_states)
    for _ in range(1000):
        v = (mdp.R + 0.9 * mdp.P @ v).max(axis=1)
    assert v[1] == pytest.approx(24.4, abs=0.05)
    np.testing.assert_allclose(v.reshape(5, 5)[0], [22.0, 24.4, 22.0, 19.4, 17.5], atol=0.05)


def test_example_4_1_equiprobable_values():
    mdp = example_4_1()
    assert mdp.terminal_states == [0, 15] and mdp.start_state is None
    v = _evaluate_equiprobable(mdp, gamma=1.0).reshape(4, 4)
    np.testing.assert_allclose(v[0], [0, -14, -20, -22], atol=1e-9)
    np.testing.assert_allclose(v[3], [-22, -20, -14, 0], atol=1e-9)


def test_example_4_1_env_starts_in_a_random_non_terminal_state():
    env = gym.make("rlhelpers/GridWorld4x4Corners-v0")
    starts = {env.reset(seed=seed)[0] for seed in range(200)}
    assert starts == set(range(1, 15))


def test_example_3_5_env_teleports():
    env = gym.make("rlhelpers/GridWorld5x5AB-v0")
    env.reset(seed=0)
    assert env.step(RIGHT)[:3] == (1, 0.0, False)
    assert env.step(UP)[:3] == (21, 10.0, False)


def test_tabular_mdp_rejects_bad_arrays():
    mdp = example_4_1()
    with pytest.raises(ValueError, match="probability distribution"):
        TabularMDP(mdp.P * 2, mdp.R, [0, 15], None, (4, 4), mdp.action_names)
    with pytest.raises(ValueError, match="absorbing"):
        TabularMDP(mdp.P, mdp.R - 1, [0, 15], None, (4, 4), mdp.action_names)
    with pytest.raises(ValueError, match="start_state"):
        TabularEnv(mdp, start_state=0)
