"""The report's plots and its one self-contained HTML page.

Every plot is a PNG inside the page (base64), so the page can be mailed or
archived as one file; each <img> carries its axes' labels (data-xlabel,
data-ylabel, read from the figure as drawn), which the browser test checks.
"""

from __future__ import annotations

import base64
import html
import io
import statistics
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

from grader.report.exercises import Item  # noqa: E402
from grader.report.mistakes import CheckGroup  # noqa: E402
from grader.report.records import ClassRecord, Submission  # noqa: E402
from grader.report.similarity import THRESHOLD, Pair  # noqa: E402

MOST_COMMON_CHECKS = 5
"""Failing-check groups shown per exercise (the rest are counted)."""
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
td.num { text-align: right; }
figure { margin: 0.5em 0 1.5em; }
.note { color: #555; }
"""


@dataclass(frozen=True)
class LessonReport:
    """What the page shows of one lesson, computed by grader.report.build."""

    lesson: str
    items: list[Item]
    groups: dict[str, list[CheckGroup]]  # grade_id -> failing-check groups
    pairs: list[Pair]
    mistake_table: str


def figure_html(fig, alt: str) -> str:
    """The figure as an inline PNG, with its axes' labels as attributes; the figure closed."""
    ax = fig.axes[0]
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return (
        f'<figure><img alt="{html.escape(alt)}" data-xlabel="{html.escape(ax.get_xlabel())}" '
        f'data-ylabel="{html.escape(ax.get_ylabel())}" src="data:image/png;base64,{data}">'
        "</figure>"
    )


def table_html(header: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def item_points(item: Item, sub: Submission) -> tuple[float, float] | None:
    """(score, max) of an item in a submission; None when the gradebook has none of its cells."""
    cells = [sub.cell_scores[g] for g in item.grade_ids if g in sub.cell_scores]
    if not cells:
        return None
    return sum(c[0] for c in cells), sum(c[1] for c in cells)


def points_histogram(item: Item, points: list[float], maximum: float) -> str:
    fig, ax = plt.subplots(figsize=(3.0, 1.6))
    if maximum <= 12:
        ax.hist(points, bins=np.arange(0, maximum + 1.5) - 0.5, color="#4c72b0", edgecolor="white")
        ax.set_xticks(range(int(maximum) + 1))
    else:
        ax.hist(points, bins=12, color="#4c72b0", edgecolor="white")
    ax.set_xlabel(f"points (of {maximum:g})")
    ax.set_ylabel("students")
    return figure_html(fig, f"points of {item.lesson} {item.title}")


def credit_shares(points: list[tuple[float, float]]) -> str:
    """'full 12 (60 %), partial 3 (15 %), none 5 (25 %)'."""
    n = len(points)
    full = sum(s >= m for s, m in points)
    none = sum(s <= 0 for s, m in points)
    partial = n - full - none
    return ", ".join(
        f"{name} {count} ({100 * count / n:.0f} %)"
        for name, count in (("full", full), ("partial", partial), ("none", none))
    )


def groups_html(groups: list[CheckGroup], table_path: str) -> str:
    if not groups:
        return '<p class="note">No failing check.</p>'
    rows = []
    for group in groups[:MOST_COMMON_CHECKS]:
        matched = "<br>".join(
            f"{html.escape(r.comment or r.words)} <span class='note'>({html.escape(r.answer_id)}, "
            f"words '{html.escape(r.words)}', {html.escape(table_path)})</span>"
            for r in group.rows
        )
        rows.append(
            [
                len(group.students),
                html.escape(f"{group.grade_id}: {group.message}"),
                matched or '<span class="note">no row matches</span>',
            ]
        )
    more = sum(len(g.students) for g in groups[MOST_COMMON_CHECKS:])
    tail = f'<p class="note">and {more} more failing checks.</p>' if more else ""
    header = ["students", "failing check", "possible cause: a mistake-table row its words match"]
    return table_html(header, rows, {0}) + tail


def item_row(item: Item, points: list[tuple[float, float]], report: LessonReport) -> list:
    """One row of a lesson's exercise table: the item, its credit, its histogram, its checks."""
    maximum = max(m for _, m in points)
    if item.kind == "written":
        checks = '<span class="note">graded by hand</span>'
    else:
        groups = [g for grade_id in item.grade_ids for g in report.groups.get(grade_id, [])]
        checks = groups_html(sorted(groups, key=lambda g: -len(g.students)), report.mistake_table)
    return [
        f"{html.escape(item.title)}<br><span class='note'>{maximum:g} points</span>",
        "<br>".join(share.replace(" ", "&nbsp;") for share in credit_shares(points).split(", ")),
        points_histogram(item, [s for s, _ in points], maximum),
        checks,
    ]


def exercise_section(report: LessonReport, subs: list[Submission]) -> str:
    rows = []
    for item in report.items:
        points = [p for p in (item_points(item, s) for s in subs) if p is not None]
        if points:
            rows.append(item_row(item, points, report))
    header = ["exercise", "credit", "points", "most common failing checks"]
    return table_html(header, rows)


def minutes_plot(lesson: str, items: list[Item], minutes: dict[str, list[float]]) -> str:
    titles = [i.title for i in items if minutes.get(i.title)]
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(titles) + 1.2))
    ax.boxplot([minutes[t] for t in titles], orientation="horizontal", tick_labels=titles)
    estimates = {i.title: i.estimate_minutes for i in items}
    for row, title in enumerate(titles, 1):
        if estimates.get(title):
            ax.plot(estimates[title], row, "D", color="#dd8452")
    ax.set_xlabel("working minutes (box: students; diamond: the heading's estimate)")
    ax.set_ylabel("exercise")
    ax.invert_yaxis()
    return figure_html(fig, f"time on task in {lesson}")


def time_section(report: LessonReport, subs: list[Submission]) -> str:
    minutes: dict[str, list[float]] = {}
    for sub in subs:
        for title, value in sub.minutes.items():
            minutes.setdefault(title, []).append(value)
    if not minutes:
        return (
            '<p class="note">No submission of this lesson recorded its cell timing '
            "(JupyterLab's recordTiming was off, or the cells were cleared).</p>"
        )
    rows = []
    for item in report.items:
        values = minutes.get(item.title)
        if not values:
            continue
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        rows.append(
            [
                html.escape(item.title),
                len(values),
                f"{median:.0f}",
                f"{q1:.0f}-{q3:.0f}",
                item.estimate_minutes if item.estimate_minutes is not None else "-",
            ]
        )
    header = ["exercise", "students", "median min", "middle half", "heading's estimate"]
    return table_html(header, rows, {1, 2, 3, 4}) + minutes_plot(
        report.lesson, report.items, minutes
    )


def problems_section(record: ClassRecord) -> str:
    rows = [
        [
            html.escape(s.student),
            html.escape(s.lesson),
            html.escape("; ".join(s.problems)),
            html.escape(s.details[:300]),
        ]
        for s in record.submissions
        if s.problems
    ]
    if not rows:
        return '<p class="note">No submission had a grading problem.</p>'
    return table_html(["student", "lesson", "why", "grading details"], rows)


def alike_groups(pairs: list[Pair]) -> list[tuple[list[str], float, float]]:
    """Students linked by alike pairs, as groups: (students, least and most shared), largest first.

    Ten students who all handed in the same answers are one group of ten, not 45 pairs.
    """
    parent: dict[str, str] = {}

    def root(student: str) -> str:
        while parent.setdefault(student, student) != student:
            student = parent[student]
        return student

    for pair in pairs:
        parent[root(pair.first)] = root(pair.second)
    members: dict[str, list[str]] = {}
    for student in sorted(parent):
        members.setdefault(root(student), []).append(student)
    groups = []
    for students in members.values():
        shares = [min(p.similarity) for p in pairs if p.first in students]
        groups.append((students, min(shares), max(shares)))
    return sorted(groups, key=lambda g: (-len(g[0]), -g[2], g[0]))


def pairs_section(pairs: list[Pair]) -> str:
    if not pairs:
        return '<p class="note">No pair of submissions is suspiciously alike.</p>'
    rows = []
    for lesson in dict.fromkeys(p.lesson for p in pairs):
        for students, least, most in alike_groups([p for p in pairs if p.lesson == lesson]):
            shared = (
                f"{100 * least:.0f} %" if least == most else f"{100 * least:.0f}-{100 * most:.0f} %"
            )
            rows.append(
                [html.escape(lesson), len(students), html.escape(", ".join(students)), shared]
            )
    header = ["lesson", "students", "who", "shared by each alike pair (the lesser way)"]
    return table_html(header, rows, {1, 3})


def heatmap(record: ClassRecord) -> str:
    students = sorted({s.student for s in record.submissions})
    lessons = list(record.lessons)
    grid = np.full((len(students), len(lessons)), np.nan)
    for sub in record.submissions:
        if sub.lesson in lessons and sub.max_score:
            grid[students.index(sub.student), lessons.index(sub.lesson)] = sub.score / sub.max_score
    fig, ax = plt.subplots(figsize=(1.2 * len(lessons) + 3, min(0.25 * len(students) + 1.5, 30)))
    image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="none")
    ax.set_xticks(range(len(lessons)), lessons, rotation=30, ha="right")
    if len(students) <= 80:
        ax.set_yticks(range(len(students)), students, fontsize=7)
    else:
        ax.set_yticks([])
    ax.set_xlabel("lesson")
    ax.set_ylabel(f"student ({len(students)})")
    fig.colorbar(image, ax=ax, label="share of the lesson's points")
    return figure_html(fig, "scores: students x lessons")


def totals_table(record: ClassRecord) -> str:
    lessons = list(record.lessons)
    by_key = {(s.student, s.lesson): s for s in record.submissions}
    rows = []
    for student in sorted({s.student for s in record.submissions}):
        subs = [by_key.get((student, lesson)) for lesson in lessons]
        cells = [f"{s.score:g}/{s.max_score:g}" if s else "-" for s in subs]
        total = sum(s.score for s in subs if s)
        rows.append([html.escape(student), *cells, f"{total:g}"])
    return table_html(["student", *lessons, "total"], rows, set(range(1, len(lessons) + 2)))


def class_summary(record: ClassRecord) -> str:
    students = {s.student for s in record.submissions}
    graded = sum(s.status == "graded" for s in record.submissions)
    medians = [
        f"{lesson} {statistics.median(s.score for s in record.of_lesson(lesson)):g}"
        for lesson in record.lessons
    ]
    return (
        f"<p>{len(students)} students, {len(record.submissions)} submissions "
        f"({graded} graded), lessons: {', '.join(record.lessons)}. Median score per lesson: "
        f"{', '.join(medians)}.</p>"
    )


def render(record: ClassRecord, reports: list[LessonReport]) -> str:
    """The whole page."""
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Class report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Class report</h1>",
        class_summary(record),
        '<p class="note">This report only reads what grading recorded and flags what deserves '
        "a look; it never changes a grade. Students appear by their ids only.</p>",
        "<h2>1. Exercises: points and the most common failing checks</h2>",
    ]
    for report in reports:
        parts.append(f"<h3>{html.escape(report.lesson)}</h3>")
        parts.append(exercise_section(report, record.of_lesson(report.lesson)))
    parts.append("<h2>2. Time on task</h2>")
    parts.append(
        '<p class="note">From JupyterLab\'s recorded cell timing: per exercise, the runs of its '
        "cells from first to last, gaps over 30 minutes cut. A cell keeps only its last run, so "
        "this is a lower bound.</p>"
    )
    for report in reports:
        parts.append(f"<h3>{html.escape(report.lesson)}</h3>")
        parts.append(time_section(report, record.of_lesson(report.lesson)))
    parts.append("<h2>3. Look at by hand</h2><h3>Grading problems</h3>")
    parts.append(problems_section(record))
    parts.append("<h3>Submissions that are suspiciously alike</h3>")
    parts.append(
        '<p class="note">copydetect (winnowing, as MOSS) over each student\'s answer cells, the '
        "released stubs left out; a pair is listed when each shares at least "
        f"{100 * THRESHOLD:.0f} % of its code with the other. Renamed variables and "
        "reformatting do not hide a copy.</p>"
    )
    parts.append(pairs_section([pair for report in reports for pair in report.pairs]))
    parts.append("<h2>4. Students x lessons</h2>")
    parts.append(heatmap(record))
    parts.append(totals_table(record))
    parts.append("</body></html>")
    return "\n".join(parts)
