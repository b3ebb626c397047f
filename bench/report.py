"""Row 7: the class report (grader/report) for a generated class of 300.

Grading 300 x 7 real submissions would take hours, so the class is generated
in memory from the course's own notebooks: each student's answer cells are the
reference answer, the stub, or the reference with lines of their own put in
(so the similarity check meets identical, different and half-copied code), a
score and a failing message per grade cell, and minutes per exercise. Timed:
parsing every submitted notebook from its bytes (what reading costs) and
building the report (failing-check groups, similarity, the page with its plots).
"""

from __future__ import annotations

import random
import time

import nbformat

from bench.results import Goal, Line
from bench.stats import Sample, fmt_sample
from grader import course
from grader.grading import strip_solution_markers
from grader.release import build_source_notebook
from grader.report import build, page, records
from grader.report.exercises import answer_text, lesson_items

CLASS_SIZE = 300
GOAL_S = 60.0


def student_answers(reference: nbformat.NotebookNode, release, rng: random.Random) -> str:
    """One student's answer cells: per cell the reference, the stub, or the reference with
    lines of their own."""
    stubs = {course.grade_id(c): c.source for c in release.cells if course.is_answer(c)}
    cells = []
    for cell in reference.cells:
        if cell.cell_type != "code" or not course.is_answer(cell):
            continue
        source = strip_solution_markers(cell.source)
        choice = rng.random()
        if choice < 0.2:
            source = stubs.get(course.grade_id(cell), "")
        elif choice < 0.6:
            lines = source.splitlines()
            for _ in range(max(1, len(lines) // 3)):
                at = rng.randrange(len(lines) + 1)
                indent = (
                    lines[at - 1][: len(lines[at - 1]) - len(lines[at - 1].lstrip())] if at else ""
                )
                lines.insert(
                    at,
                    f"{indent}note_{rng.randrange(10**6)} = {rng.random():.3f}",
                )
            source = "\n".join(lines)
        cells.append(source)
    return "\n\n".join(cells)


def generated_class(
    n_students: int = CLASS_SIZE, seed: int = 0
) -> tuple[records.ClassRecord, list[bytes]]:
    """A ClassRecord of `n_students` for every lesson, and each submission as notebook bytes."""
    rng = random.Random(seed)
    lessons, subs, files = {}, [], []
    for lesson in course.lesson_ids(course.REPO):
        if not course.release_path(course.REPO, lesson).exists():
            continue  # a lesson being written, not released yet
        release = nbformat.read(course.release_path(course.REPO, lesson), as_version=4)
        source = build_source_notebook(course.source_path(course.REPO, lesson))
        reference = nbformat.read(source, as_version=4)
        items = lesson_items(lesson, release)
        lessons[lesson] = records.LessonInfo(lesson, items, answer_text(release))
        grade_ids = [g for item in items for g in item.grade_ids]
        for n in range(n_students):
            scores = {g: (float(rng.choice([0, 1, 2])), 2.0) for g in grade_ids}
            failures = {
                g: f"AssertionError: {g}: got {rng.random():.3f}, expected 1.0: a typical mistake"
                for g, (s, m) in scores.items()
                if s < m and rng.random() < 0.5
            }
            minutes = {i.title: rng.uniform(2, 60) for i in items if i.kind == "autograded"}
            total = sum(s for s, _ in scores.values())
            subs.append(
                records.Submission(
                    f"s{n:03d}",
                    lesson,
                    "graded",
                    total,
                    2.0 * len(grade_ids),
                    "",
                    scores,
                    failures,
                    [],
                    student_answers(reference, release, rng),
                    minutes,
                )
            )
            files.append(nbformat.writes(release).encode())
    return records.ClassRecord(lessons, subs), files


def measure(n_students: int = CLASS_SIZE, repeats: int = 1, echo=print) -> dict[str, Sample]:
    """{'read': seconds parsing the notebooks, 'report': seconds building the page}."""
    echo(f"row 7: generating a class of {n_students}")
    record, files = generated_class(n_students)
    read, report = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        for data in files:
            nbformat.reads(data.decode(), as_version=4)
        read.append(time.perf_counter() - started)
        started = time.perf_counter()
        reports = [build.lesson_report(course.REPO, record, lesson) for lesson in record.lessons]
        page.render(record, reports)
        report.append(time.perf_counter() - started)
    return {"read": Sample(read), "report": Sample(report), "submissions": len(files)}


def report_lines(measured: dict, n_students: int = CLASS_SIZE) -> tuple[list[Line], Goal]:
    total = measured["read"].median + measured["report"].median
    what = (
        f"class report for a generated class of {n_students} ({measured['submissions']} "
        "submissions, every lesson)"
    )
    line = Line(
        "7",
        what,
        f"{total:.1f} s: reading {fmt_sample(measured['read'], 's')}, "
        f"report {fmt_sample(measured['report'], 's')}",
        f"goal {GOAL_S:g} s",
        "ok" if total <= GOAL_S else "over",
    )
    goal = Goal(
        f"The class report of a class of {n_students} renders in under a minute",
        "met" if total <= GOAL_S else "missed",
        f"{total:.1f} s",
    )
    return [line], goal
