"""Every lesson's mistake table and seed sweeps, read by one generic test each.

A row of tests/mistakes/<lesson>.py puts one typical student mistake into one
answer cell; the exercise's own grade cell must fail with a message that names
the problem, and the lesson's other cheap grade cells must still pass. A seed
sweep re-runs a real grade cell with its seeds shifted, so the lesson stays the
single source of every threshold.
"""

from __future__ import annotations

import pytest
from lesson_runner import Lesson, grade_cell_of, lesson_ids, mistake_table


def mistake_cases() -> list:
    cases = []
    for lesson_id in lesson_ids():
        for answer_id, rows in mistake_table(lesson_id).mistakes.items():
            for number, mistake in enumerate(rows, 1):
                cases.append(
                    pytest.param(
                        lesson_id, answer_id, mistake, id=f"{lesson_id}-{answer_id}-{number}"
                    )
                )
    return cases


def sweep_cases() -> list:
    return [
        pytest.param(lesson_id, grade_id, offset, id=f"{lesson_id}-{grade_id}+{offset}")
        for lesson_id in lesson_ids()
        for grade_id, offsets in mistake_table(lesson_id).seed_sweeps.items()
        for offset in range(offsets)
    ]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # an overflow may be the mistake
@pytest.mark.parametrize(("lesson_id", "answer_id", "mistake"), mistake_cases())
def test_mistake_is_caught(lesson_id, answer_id, mistake):
    failing = grade_cell_of(answer_id)
    lesson = Lesson.load(lesson_id)
    visible = lesson.assert_mistake_caught(
        answer_id=answer_id,
        old=mistake.old,
        new=mistake.new,
        failing=[failing],
        passing=[gid for gid in mistake_table(lesson_id).cheap if gid != failing],
        message_contains=mistake.words,
    )[failing]
    if mistake.hidden_only is None:
        assert isinstance(visible, AssertionError), (
            f"Validate misses this mistake: the visible part of {failing} "
            f"{'passes' if visible is None else f'crashes ({visible!r})'} with {mistake.new!r}. "
            "Add a small hand-computed case that catches it, or give the row a fourth item "
            "saying why only the hidden tests can."
        )
    else:
        assert visible is None, (
            f"the visible part of {failing} now catches {mistake.new!r}: drop the row's "
            f"hidden-only reason ({mistake.hidden_only!r})"
        )


@pytest.mark.slow
@pytest.mark.parametrize(("lesson_id", "grade_id", "offset"), sweep_cases())
def test_reference_passes_the_grade_cell_on_other_seeds(lesson_id, grade_id, offset):
    """The reference answer passes the real grade cell with every seed=N moved to N + offset."""
    error = Lesson.load(lesson_id).run_with_seed_offset(grade_id, offset)
    assert error is None, f"{lesson_id}: {grade_id} with its seeds shifted by {offset}: {error!r}"


@pytest.mark.parametrize("lesson_id", lesson_ids())
def test_cheap_grade_cells_pass_on_the_definitions(lesson_id):
    """The reference's cheap grade cells pass in the namespace that the mistakes start from.

    (The expensive ones are run by their seed sweep, offset 0 being the grade cell
    itself; nbval and the round trip run every cell of the lesson.)
    """
    lesson = Lesson.load(lesson_id)
    cheap = mistake_table(lesson_id).cheap
    assert lesson.run_cells(lesson.namespace(), cheap) == dict.fromkeys(cheap)
