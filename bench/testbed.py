"""Row 2: the 10-armed testbed, lesson 01's vectorised `run_testbed` against a per-run loop.

Both run Sutton & Barto's Figure 2.2 experiment (2000 runs x 1000 steps, for
epsilon 0, 0.01 and 0.1): sample-average epsilon-greedy agents, ties broken at
random. The baseline is the straightforward way, one run after the other and
one step at a time in plain Python (Python's own `random`, which is faster per
call than NumPy's scalar draws, so the baseline is not handicapped).
"""

from __future__ import annotations

import random
import time

import numpy as np

from bench.lessons import load_lesson
from bench.stats import Sample

EPSILONS = (0.0, 0.01, 0.1)
RUNS, STEPS, ARMS = 2000, 1000, 10
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


def figure_seconds(run, runs: int) -> float:
    """Wall seconds of `run(epsilon, runs=runs)` for the three epsilons of Figure 2.2."""
    started = time.perf_counter()
    for epsilon in EPSILONS:
        run(epsilon, runs=runs, steps=STEPS, k=ARMS, seed=0)
    return time.perf_counter() - started


def measure(repeats: int, baseline_runs: int = RUNS) -> dict[str, Sample]:
    """{'lesson': seconds, 'loop': seconds (scaled to 2000 runs)}, side by side per repeat.

    The per-run loop's time is linear in the runs, so with `baseline_runs` below
    2000 (the quick bench) it is measured on that many and scaled up.
    """
    run_testbed = load_lesson(LESSON).run_testbed
    lesson, loop = Sample(), Sample()
    for _ in range(repeats):
        lesson.add(figure_seconds(run_testbed, RUNS))
        loop.add(figure_seconds(per_run_testbed, baseline_runs) * RUNS / baseline_runs)
    return {"lesson": lesson, "loop": loop, "baseline_runs": baseline_runs}
