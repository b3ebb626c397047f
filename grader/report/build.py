"""Build the class report: read what grading recorded, analyse it, write one HTML page.

    python -m grader.report [--lesson ID ...] [--root DIR] [--out FILE]

With no grading recorded in the course (no outcomes.csv) and a class demo kept
by `make class-demo` (grader.demo.classroom.KEPT_CLASS), the report is the class demo's, and
says so.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from grader import course
from grader.report import mistakes, page, similarity
from grader.report.records import ClassRecord, read_class

REPORT = course.WORK / "report" / "index.html"
"""Where `make report` writes the page, relative to the course root."""


def lesson_report(root: Path, record: ClassRecord, lesson: str) -> page.LessonReport:
    info = record.lessons[lesson]
    failures = {s.student: s.failures for s in record.of_lesson(lesson) if s.failures}
    answers_of = {g: item.answer_ids for item in info.items for g in item.grade_ids}
    groups = mistakes.group_failures(
        failures, answers_of, mistakes.mistake_rows(course.REPO, lesson)
    )
    by_cell: dict[str, list[mistakes.CheckGroup]] = {}
    for group in groups:
        by_cell.setdefault(group.grade_id, []).append(group)
    answers = {s.student: s.answers for s in record.of_lesson(lesson) if s.answers}
    pairs = similarity.similar_pairs(lesson, answers, info.stubs)
    return page.LessonReport(
        lesson, info.items, by_cell, pairs, mistakes.mistake_table_path(lesson)
    )


def build(
    root: Path = course.REPO, lessons: list[str] | None = None, out: Path | None = None
) -> Path:
    """Write the report of the course at `root` (its lessons, or `lessons`); returns its path."""
    root = root.resolve()
    record = read_class(root, lessons)
    reports = [lesson_report(root, record, lesson) for lesson in record.lessons]
    target = out or root / REPORT
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page.render(record, reports))
    return target


def course_to_report(root: Path) -> Path:
    """`root`, or the kept class demo when `root` has recorded no grading and the demo exists."""
    from grader.demo.classroom import KEPT_CLASS

    demo = root / KEPT_CLASS / "course"
    if (
        not (course.work(root) / "outcomes.csv").exists()
        and (course.work(demo) / "outcomes.csv").exists()
    ):
        print(
            f"no grading recorded in {course.work(root)}: the report is the class demo's ({demo})"
        )
        return demo
    return root


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lesson", nargs="*", default=None, help="lesson ids (default: all)")
    parser.add_argument("--root", type=Path, default=course.REPO, help="course folder")
    parser.add_argument("--out", type=Path, default=None, help=f"the page (default: {REPORT})")
    args = parser.parse_args(argv)
    root = course_to_report(args.root.resolve())
    started = time.perf_counter()
    try:
        target = build(root, args.lesson or None, args.out)
    except FileNotFoundError as error:
        sys.exit(f"make report: {error}")
    print(f"wrote {target} ({time.perf_counter() - started:.1f} s)")
