"""Row 9: lesson 07's three training runs (PPO, DPO, GRPO), each against its CPU budget.

The runs are the lesson's own (seed 0, the reference answers), timed by the
engine (`rlhf.RunResult.cpu_seconds`: the training loop's process CPU time, the
final evaluation excluded) while the lesson runs top to bottom; a probe cell
added at the end prints them.
"""

from __future__ import annotations

import json

from bench import notebooks
from bench.results import Goal, Line

LESSON = "07_rlhf"
RUNS = {"PPO": "ppo_run", "DPO": "dpo_run", "GRPO": "grpo_run"}
"""each method and the lesson's name of its run"""
RUN_BUDGET_CPU_S = 15.0
"""issue 27: each RLHF training run at most 15 CPU-seconds on the 2-core CPU"""

PROBE = (
    "import json as _bench_json\n"
    "print(_bench_json.dumps({_name: [globals()[_run].cpu_seconds, globals()[_run].wall_seconds]"
    f" for _name, _run in {RUNS!r}.items()}}))"
)


def measure(echo=print) -> dict[str, tuple[float, float]]:
    """{method: (CPU seconds, wall seconds)} of the lesson's training runs."""
    echo(f"row 9: {LESSON}'s training runs")
    notebook, _ = notebooks.execute_lesson(LESSON, PROBE)
    return {
        name: tuple(times)
        for name, times in json.loads(notebooks.last_printed_line(notebook)).items()
    }


def rlhf_run_lines(measured: dict[str, tuple[float, float]]) -> tuple[list[Line], Goal]:
    """One line per run, and the goal: every run within RUN_BUDGET_CPU_S."""
    lines = [
        Line(
            "9",
            f"lesson 07 {name} training run (seed 0, CPU)",
            f"{cpu:.1f} CPU-s ({wall:.1f} s wall)",
            f"budget {RUN_BUDGET_CPU_S:.0f} CPU-s",
            "ok" if cpu <= RUN_BUDGET_CPU_S else "over",
        )
        for name, (cpu, wall) in measured.items()
    ]
    worst = max(cpu for cpu, _ in measured.values())
    goal = Goal(
        f"Each of lesson 07's training runs (PPO, DPO, GRPO) within {RUN_BUDGET_CPU_S:.0f} "
        "CPU-seconds",
        "met" if worst <= RUN_BUDGET_CPU_S else "missed",
        f"the slowest took {worst:.1f} CPU-s",
    )
    return lines, goal
