"""Row 7 of the bench: the generated class the class report is timed on, and its verdict."""

from __future__ import annotations

from bench import report
from bench.stats import Sample
from grader import course


def test_the_generated_class_has_every_released_lesson_and_varied_answers():
    record, files = report.generated_class(n_students=3)
    released = [
        lesson
        for lesson in course.lesson_ids()
        if course.release_path(course.REPO, lesson).exists()
    ]
    assert list(record.lessons) == released
    assert len(record.submissions) == len(files) == 3 * len(released)
    first = record.of_lesson(released[0])
    assert len({s.answers for s in first}) == 3, "each student answers in their own way"
    assert all(s.minutes and s.cell_scores for s in first)


def test_row_7_says_whether_the_report_met_its_minute():
    fast = {"read": Sample([2.0]), "report": Sample([10.0]), "submissions": 2100}
    slow = {"read": Sample([20.0]), "report": Sample([50.0]), "submissions": 2100}
    (line,), goal = report.report_lines(fast)
    assert line.row == "7" and line.verdict == "ok" and goal.status == "met"
    assert "12.0 s" in line.measured and "300" in line.item
    assert report.report_lines(slow)[1].status == "missed"
