"""Finish the RESULTS of a run that was stopped during rows 1 and 4 (the longest).

    python -m bench.recover LOG [--results bench/RESULTS.md]

A run rewrites RESULTS after each group of rows, so a stopped run leaves the
rows it finished there; rows 1 and 4 are measured last, lesson by lesson, and
their figures are in the run's output (LOG): `preflight <lesson>: <s> s` and
`repeat <r>: <lesson> <wall> s (<cpu> s CPU), autograded <s> s`. This reads
both and writes RESULTS again with rows 1 and 4 from the repeats the log has
(a note says so).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bench.results import RESULTS_FILE, Goal, Line, render, write
from bench.stats import Sample
from grader.course import lesson_ids

PREFLIGHT = re.compile(r"^\s*preflight (\S+): ([\d.]+) s$")
REPEAT = re.compile(
    r"^\s*repeat (\d+): (\S+) ([\d.]+) s \(([\d.]+) s CPU\)(?:, autograded ([\d.]+) s)?$"
)
THROUGHPUT_LOST = "the run stopped before them (they come after rows 1 and 4)"
TABLE_ROW = re.compile(r"^\| (.*) \|$")
GOAL = re.compile(r"^- \*\*(.+?)\*\*: (.*)$")


def parse_log(text: str) -> dict:
    """rows 1 and 4's figures in a run's output, as bench.run.time_course returns them."""
    times = {"plain": {}, "cpu": {}, "graded": {}, "preflight": {}}
    for line in text.splitlines():
        if found := PREFLIGHT.match(line):
            times["preflight"][found[1]] = float(found[2])
        elif found := REPEAT.match(line):
            lesson = found[2]
            times["plain"].setdefault(lesson, Sample()).add(float(found[3]))
            times["cpu"].setdefault(lesson, Sample()).add(float(found[4]))
            if found[5] is not None:
                times["graded"].setdefault(lesson, Sample()).add(float(found[5]))
    return times


def parse_results(text: str) -> tuple[dict[str, str], list[Line], list[Goal], list[str]]:
    """(machine, lines, goals, notes) of a RESULTS.md that bench.results.render wrote."""
    machine, lines, goals, notes, section = {}, [], [], [], ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif section == "Machine" and line.startswith("- "):
            key, _, value = line[2:].partition(": ")
            machine[key] = value
        elif section == "Figures" and (found := TABLE_ROW.match(line)):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", found[1])]
            if cells[0] != "row" and not set(cells[0]) <= {"-"}:
                lines.append(Line(*cells))
        elif section == "Goals" and (found := GOAL.match(line)):
            text_part, _, why = found[2].partition(". ")
            goals.append(Goal(text_part, found[1], why))
        elif section == "Notes" and line.startswith("- ") and "IN PROGRESS" not in line:
            notes.append(line[2:])
    return machine, lines, goals, notes


def recover(log: str, results: str) -> str:
    from bench.run import grading_lines, lesson_lines

    machine, lines, goals, notes = parse_results(results)
    times = parse_log(log)
    complete = [lesson for lesson in lesson_ids() if lesson in times["plain"]]
    times = {key: {k: v for k, v in value.items() if k in complete} for key, value in times.items()}
    new_lines, goal = lesson_lines(times, lesson_ids())
    lines += new_lines
    goals.append(goal)
    if all(lesson in times["graded"] for lesson in complete):
        new_lines, goal = grading_lines(times)
        lines += new_lines
        lines.append(Line("4", "throughput rows", "not measured", "", THROUGHPUT_LOST))
        goals.append(goal)
    repeats = min(len(s.values) for s in times["plain"].values())
    notes.append(
        "Rows 1 and 4 were recovered from the output of the run (bench/recover.py), which was "
        f"stopped before they finished: {repeats} complete repeat(s) of {', '.join(complete)}; "
        "a lesson's own lines use every repeat the output has for it."
    )
    return render(machine, lines, goals, notes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="the stopped run's output")
    parser.add_argument("--results", type=Path, default=RESULTS_FILE)
    parser.add_argument("--out", type=Path, help="where to write (default: --results)")
    args = parser.parse_args(argv)
    text = recover(args.log.read_text(), args.results.read_text())
    print(write(text, args.out or args.results))


if __name__ == "__main__":
    main()
