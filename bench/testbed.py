"""Row 2: the 10-armed testbed, lesson 01's vectorised `run_testbed` against a per-run loop.

Both run Sutton & Barto's Figure 2.2 experiment (2000 runs x 1000 steps, for
epsilon 0, 0.01 and 0.1): sample-average epsilon-greedy agents, ties broken at
random. The baselines are the straightforward way, one run after the other and one
step at a time: in plain Python (Python's own `random`, faster per call than
NumPy's scalar draws: the stronger baseline, which the goal is judged
against) and the textbook way with NumPy scalars and arrays of 10. A per-run
loop's time is linear in the runs (each run is the same work), so the bench
times it on BASELINE_RUNS runs and scales to 2000.
"""

from __future__ import annotations

import random
import time

import numpy as np

from bench.lessons import load_lesson
from bench.stats import Sample

EPSILONS = (0.0, 0.01, 0.1)
RUNS, STEPS, ARMS = 2000, 1000, 10
BASELINE_RUNS = 200
LESSON = "01_bandits"


def per_run_testbed(epsilon: float, runs: int = RUNS, steps: int = STEPS, k: int = ARMS, seed=0):
    """(avg_reward, frac_optimal), float arrays [steps]: the testbed one run at a time."""
    rng = random.Random(seed)
    reward_sum = [0.0] * steps
    optimal_count = [0] * steps
    for _ in range(runs):
        q_star = [rng.gauss(0.0, 1.0) for _ in range(k)]
        best = q_star.index(max(q_star))
        estimates, counts = [0.0] * k, [0] * k
        for t in range(steps):
            if rng.random() < epsilon:
                action = rng.randrange(k)
            else:
                top = max(estimates)
                tied = [a for a in range(k) if estimates[a] == top]
                action = tied[0] if len(tied) == 1 else rng.choice(tied)
            reward = rng.gauss(q_star[action], 1.0)
            counts[action] += 1
            estimates[action] += (reward - estimates[action]) / counts[action]
            reward_sum[t] += reward
            optimal_count[t] += action == best
    return np.array(reward_sum) / runs, np.array(optimal_count, dtype=float) / runs


def per_run_testbed_numpy(epsilon: float, runs: int = RUNS, steps: int = STEPS, k=ARMS, seed=0):
    """(avg_reward, frac_optimal), float arrays [steps]: one run at a time with NumPy scalars."""
    rng = np.random.default_rng(seed)
    reward_sum, optimal_count = np.zeros(steps), np.zeros(steps)
    for _ in range(runs):
        q_star = rng.standard_normal(k)
        best = np.argmax(q_star)
        estimates, counts = np.zeros(k), np.zeros(k)
        for t in range(steps):
            if rng.random() < epsilon:
                action = rng.integers(k)
            else:
                action = rng.choice(np.flatnonzero(estimates == estimates.max()))
            reward = rng.normal(q_star[action], 1.0)
            counts[action] += 1
            estimates[action] += (reward - estimates[action]) / counts[action]
            reward_sum[t] += reward
            optimal_count[t] += action == best
    return reward_sum / runs, optimal_count / runs


def figure_seconds(run, runs: int) -> float:
    """Wall seconds of `run(epsilon, runs=runs)` for the three epsilons of Figure 2.2."""
    started = time.perf_counter()
    for epsilon in EPSILONS:
        run(epsilon, runs=runs, steps=STEPS, k=ARMS, seed=0)
    return time.perf_counter() - started


def measure(repeats: int, baseline_runs: int = BASELINE_RUNS) -> dict:
    """{'lesson', 'loop', 'numpy_loop': Sample of seconds for 2000 runs, 'baseline_runs'}.

    Side by side in each repeat; the loops are timed on `baseline_runs` runs, scaled up.
    """
    run_testbed = load_lesson(LESSON).run_testbed
    lesson, loop, numpy_loop = Sample(), Sample(), Sample()
    scale = RUNS / baseline_runs
    for _ in range(repeats):
        lesson.add(figure_seconds(run_testbed, RUNS))
        loop.add(figure_seconds(per_run_testbed, baseline_runs) * scale)
        numpy_loop.add(figure_seconds(per_run_testbed_numpy, baseline_runs) * scale)
    return {
        "lesson": lesson,
        "loop": loop,
        "numpy_loop": numpy_loop,
        "baseline_runs": baseline_runs,
    }
