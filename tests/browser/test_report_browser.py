"""An instructor opens the class report (grader/report) in Chromium.

The page is rendered from a small made-up class (two lessons, five students,
recorded timing, a copied pair) without grading anything: the test is about
the page, tests/test_grading_report.py about its numbers. Every plot must load
and name both axes (the labels the figure was drawn with). Screenshot:
build/screenshots/class-report.png.
"""

from __future__ import annotations

import browser_tools
import pytest

from grader.report import page as report_page
from grader.report.exercises import Item
from grader.report.mistakes import CheckGroup, MistakeRow
from grader.report.records import ClassRecord, LessonInfo, Submission
from grader.report.similarity import Pair

pytestmark = [pytest.mark.browser, browser_tools.NEEDS_CHROMIUM]

LESSONS = ("01_x", "02_y")
STUDENTS = ("s1", "s2", "s3", "s4", "s5")


def made_up_class() -> tuple[ClassRecord, list[report_page.LessonReport]]:
    items = {
        lesson: [
            Item(lesson, "Exercise 1: one", "autograded", (f"test_a_{lesson}",), ("a",), 10),
            Item(lesson, "Exercise 2: two", "autograded", (f"test_b_{lesson}",), ("b",), 20),
            Item(lesson, "Written answer w", "written", (f"w_{lesson}",), (), None),
        ]
        for lesson in LESSONS
    }
    subs = []
    for n, student in enumerate(STUDENTS):
        for lesson in LESSONS:
            scores = {
                f"test_a_{lesson}": (float(n % 3), 2.0),
                f"test_b_{lesson}": (float(n % 2) * 3, 3.0),
                f"w_{lesson}": (1.0, 2.0),
            }
            total = sum(s for s, _ in scores.values())
            minutes = {"Exercise 1: one": 5.0 + 3 * n, "Exercise 2: two": 12.0 + 4 * n}
            subs.append(
                Submission(student, lesson, "graded", total, 7.0, "", scores, {}, [], "", minutes)
            )
    subs[0].problems = ["a cell ran out of time"]
    record = ClassRecord(
        {lesson: LessonInfo(lesson, items[lesson], "") for lesson in LESSONS}, subs
    )
    row = MistakeRow("a", "boundaries", "ignores the episode boundaries")
    reports = [
        report_page.LessonReport(
            lesson,
            items[lesson],
            {f"test_a_{lesson}": [CheckGroup(f"test_a_{lesson}", "boundaries #", ("s1",), (row,))]},
            [Pair("01_x", "s2", "s4", (0.9, 0.85))] if lesson == "01_x" else [],
            f"tests/mistakes/{lesson}.py",
        )
        for lesson in LESSONS
    ]
    return record, reports


def test_the_report_page_shows_every_part_with_labelled_plots(page, tmp_path, screenshots):
    record, reports = made_up_class()
    target = tmp_path / "index.html"
    target.write_text(report_page.render(record, reports))
    page.goto(target.as_uri())
    for heading in (
        "1. Exercises",
        "2. Time on task",
        "3. Look at by hand",
        "4. Students x lessons",
    ):
        assert page.get_by_role("heading", name=heading).is_visible(), heading
    images = page.locator("figure img").evaluate_all(
        "imgs => imgs.map(i => ({w: i.naturalWidth, x: i.dataset.xlabel, y: i.dataset.ylabel,"
        " alt: i.alt}))"
    )
    assert len(images) == 2 * 3 + 2 + 1, (
        "a histogram per item, a minutes plot per lesson, a heat map"
    )
    for image in images:
        assert image["w"] > 0, f"{image['alt']}: the image did not load"
        assert image["x"] and image["y"], f"{image['alt']}: an axis without a label"
    assert page.get_by_text("ignores the episode boundaries").first.is_visible()
    page.screenshot(path=str(screenshots / "class-report.png"), full_page=True)
