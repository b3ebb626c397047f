"""A student works through every lesson in JupyterLab, in a real browser.

For each lesson (whichever `solutions/*/*.py` exist, so a new lesson is
covered with no change here) the student's notebook from notebooks/ is opened
in the course's own JupyterLab, on a throw-away copy of the course:

1. Run All Cells on the untouched notebook: the run stops at the first
   exercise, with its "not implemented yet" error (that every error of the
   untouched notebook is one of those, or follows from one, is asserted on the
   round-trip grading of the untouched release, which runs every cell);
2. a plausible first attempt (the first function returns None) fails its
   visible test with one readable message that says what is wrong and hints,
   and the Validate button reports the failure;
3. the reference answers are typed into the answer cells, Run All Cells runs
   with no error and no warning, plots render inline with labelled axes, and
   training loops show a progress bar.

That is one full execution of each lesson with its answers (the round-trip
grading tests prove that the reference answers get full marks). The success
of the Validate button is shown once, on the small fixture course: its
reference answers typed in, Validate reports success.

Screenshots go to build/screenshots/<lesson>*.png.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import browser_tools
import nbformat
import pytest
from browser_tools import RUN_TIMEOUT_S
from course_tools import (
    answer_cells,
    error_outputs,
    grade_tests_after,
    unexpected_errors,
    warnings_shown,
)

from grader import course, grading, release

pytestmark = [pytest.mark.browser, pytest.mark.slow, browser_tools.NEEDS_CHROMIUM]

LESSONS = course.lesson_ids()
FIXTURE_COURSE = course.REPO / "tests" / "fixtures" / "course"
ERROR_OUTPUT = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
PLOT = ".jp-RenderedImage img"
PROGRESS_BAR = ".widget-hprogress, progress"  # tqdm.auto's ipywidgets bar, or a <progress>
VALIDATE_SUCCESS = "Success! Your notebook passes all the tests"


@pytest.fixture(scope="module")
def student_lab(tmp_path_factory):
    """JupyterLab on a copy of the course, with the committed student notebooks."""
    tmp = tmp_path_factory.mktemp("student")
    root = browser_tools.throwaway_course(tmp)
    yield from browser_tools.serve(root, tmp)


@pytest.fixture(scope="module")
def fixture_lab(tmp_path_factory):
    """JupyterLab on a copy of the small fixture course, released by grader.release."""
    tmp = tmp_path_factory.mktemp("fixture")
    root = browser_tools.throwaway_course(tmp, source=FIXTURE_COURSE, notebooks=False)
    release.release(root)
    yield from browser_tools.serve(root, tmp)


def intro_text(notebook: nbformat.NotebookNode) -> str:
    """The markdown the lesson opens with (before its first code cell), plain text."""
    text = []
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            break
        text.append(cell.source)
    return re.sub(r"[*_`#]", "", "\n".join(text)).lower()


def check_intro(lesson_id: str, notebook: nbformat.NotebookNode) -> None:
    intro = intro_text(notebook)
    assert intro, f"{lesson_id} does not open with a markdown introduction"
    missing = [
        what
        for what, pattern in (
            ("its goals", r"\bgoals?\b"),
            ("its points", r"\bpoints?\W{0,4}\d+|\d+\s+points?\b"),
            ("how long it takes", r"\d+\s*(to\s*\d+\s*)?(minutes?|mins?|hours?)\b"),
        )
        if not re.search(pattern, intro)
    ]
    assert not missing, f"{lesson_id}'s introduction does not state {', '.join(missing)}"
    stated = re.search(r"\bpoints?\W{0,4}(\d+)|(\d+)\s+points?\b", intro)
    total = course.total_points(notebook)
    assert float(stated.group(1) or stated.group(2)) == total, (
        f"{lesson_id}'s introduction states {stated.group(0)!r}, "
        f"but its graded cells are worth {total:g} points"
    )


def first_function_answer(notebook: nbformat.NotebookNode) -> int | None:
    """The first answer cell that defines a function (its stub raises inside it)."""
    for index in answer_cells(notebook):
        source = notebook.cells[index].source
        if notebook.cells[index].cell_type == "code" and re.search(
            r"^def .*:\n(.*\n)*?\s+raise NotImplementedError\(\)", source, flags=re.MULTILINE
        ):
            return index
    return None


def cells_with(nb: browser_tools.Notebook, selector: str) -> list[int]:
    """Indices of the cells whose outputs contain an element that matches `selector`."""
    return nb.cells().evaluate_all(
        "(cells, selector) => cells.flatMap((c, i) => "
        "[...c.querySelectorAll('.jp-OutputArea')].some(o => o.querySelector(selector)) "
        "? [i] : [])",
        selector,
    )


def type_answers(
    nb: browser_tools.Notebook,
    released: nbformat.NotebookNode,
    answers: nbformat.NotebookNode,
    lesson_id: str,
) -> None:
    """Type the answers of `answers` into the answer cells, save, check what was saved."""
    for index in answer_cells(released):
        nb.type_into(index, answers.cells[index].source)
    nb.save()
    typed = nb.read()
    mistyped = [
        i for i in answer_cells(released) if typed.cells[i].source != answers.cells[i].source
    ]
    assert not mistyped, f"{lesson_id}: the editor changed the typed answers of cells {mistyped}"


def check_validate_fails(lesson_id: str, result: str) -> None:
    """Validate on a notebook whose exercises are not done says so, with the error."""
    assert VALIDATE_SUCCESS not in result and "The following cell failed" in result, (
        f"{lesson_id}: Validate of unfinished exercises does not report a failed cell: {result}"
    )
    assert "NotImplementedError" in result or "is not right" in result, (
        f"{lesson_id}: Validate's failure shows neither the stubs' NotImplementedError "
        f"nor a failed test's message: {result}"
    )


def screenshot_of_failure(nb: browser_tools.Notebook, path: Path) -> None:
    """What the page showed when the test failed (for the report; never an error itself)."""
    try:
        nb.screenshot(path)
    except Exception as error:  # (the page may be what broke)
        print(f"no screenshot of the failure: {error}")


def wall_time(started: float, phases: dict[str, float]) -> str:
    return (
        f"{time.monotonic() - started:.0f} s ("
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in phases.items())
        + ")"
    )


@pytest.mark.parametrize("lesson_id", LESSONS)
def test_student_works_through_the_lesson(
    lesson_id, student_lab, page, screenshots, record_property
):
    started = time.monotonic()
    phases = {}  # name: seconds, for the report

    def lap(name):
        phases[name] = time.monotonic() - started - sum(phases.values())

    path = f"notebooks/{lesson_id}/{lesson_id}.ipynb"
    assert (student_lab.root / path).is_file(), (
        f"{path} is missing: `make release` writes the student notebooks"
    )
    shot = {
        name: screenshots / f"{lesson_id}{name}.png"
        for name in ("", "-intro", "-test-failure", "-validate", "-plot", "-progress", "-failed")
    }
    for old in shot.values():
        old.unlink(missing_ok=True)
    instructor = nbformat.read(
        release.build_source_notebook(course.source_path(student_lab.root, lesson_id)),
        as_version=4,
    )
    nb = browser_tools.Notebook(page, student_lab, path)
    try:
        released = nb.read()
        answers = grading.fill_answers(released, instructor)
        check_intro(lesson_id, released)
        nb.screenshot(shot["-intro"])

        lap("open")
        # 1. the untouched notebook: Run All stops at the first exercise, "not implemented yet"
        nb.run_all(RUN_TIMEOUT_S)
        nb.save()
        ran = nb.read()
        errors = error_outputs(ran)
        assert errors, f"{lesson_id}: the untouched notebook raised nothing"
        (first_error, _, _) = errors[0]
        assert not unexpected_errors(ran, answers), (
            f"{lesson_id}: the untouched notebook's Run All stops with "
            f"{errors[0]}, not an exercise's NotImplementedError (cell index, exception, message)"
        )
        not_run = [
            i
            for i, c in enumerate(ran.cells[:first_error])
            if c.cell_type == "code" and not c.execution_count
        ]
        assert not not_run, f"{lesson_id}: Run All did not run cells {not_run}"

        lap("untouched")
        # 2. a first attempt that returns None: its visible test says what is wrong, with a hint
        attempt = first_function_answer(released)
        if attempt is not None:
            tests = grade_tests_after(released, attempt)
            assert tests, f"{lesson_id}: answer cell {attempt} has no test cell after it"
            nb.type_into(
                attempt,
                released.cells[attempt].source.replace(
                    "raise NotImplementedError()", "return None"
                ),
            )
            nb.run_cells([attempt, tests[0]], RUN_TIMEOUT_S)
            nb.save()
            failures = [e for e in error_outputs(nb.read()) if e[0] == tests[0]]
            assert failures, (
                f"{lesson_id}: a function that returns None passes test cell {tests[0]}"
            )
            (_, name, message) = failures[0]
            nb.screenshot_at(tests[0], ERROR_OUTPUT, shot["-test-failure"], block="end")
            assert "is not right" in message and "hint" in message, (
                f"{lesson_id}: the visible test of answer cell {attempt} fails with "
                f"{name}: {message!r}, not a message that says what is wrong and hints at the fix"
            )

        lap("attempt")
        # ... and Validate says that the notebook does not pass yet (cheap: the
        # exercises' stubs fail at once; the success of Validate is the fixture's test)
        result = nb.validate()
        nb.screenshot(shot["-validate"])
        check_validate_fails(lesson_id, result)
        nb.close_dialog()

        lap("validate")
        # 3. the reference answers, typed in; everything runs, with no error or warning
        type_answers(nb, released, answers, lesson_id)
        student_lab.forget_figures()  # (a failed plot cell shows its empty axes)
        lap("typing")
        bars_seen = []

        def spot_progress_bar():
            """tqdm(leave=False) bars vanish when done: look for them while cells run."""
            if not bars_seen:
                bar = nb.show_first_output(PROGRESS_BAR)  # one look; scrolled into view
                if bar is not None:
                    bars_seen.append(bar)
                    # (the bar may be gone by the time of the picture: no matter)
                    nb.screenshot(shot["-progress"])

        nb.run_all(RUN_TIMEOUT_S, on_poll=spot_progress_bar)
        nb.save()
        lap("reference run")
        solved = nb.read()
        assert not error_outputs(solved), (
            f"{lesson_id} with the reference answers raises: {error_outputs(solved)}"
        )
        assert all(
            solved.cells[i].execution_count
            for i, c in enumerate(solved.cells)
            if c.cell_type == "code"
        ), f"{lesson_id}: some code cells did not run"
        assert not warnings_shown(solved), f"{lesson_id} shows warnings: {warnings_shown(solved)}"
        nb.screenshot_whole(shot[""])

        plots = cells_with(nb, PLOT)
        assert plots, f"{lesson_id}: no plot is rendered inline"
        nb.screenshot_at(plots[0], PLOT, shot["-plot"])
        figures = student_lab.figures(lesson_id)
        assert figures, f"{lesson_id}: the plots were not drawn by matplotlib's inline backend"
        assert not browser_tools.unlabelled_axes(figures), (
            f"{lesson_id}: axes without labels: {browser_tools.unlabelled_axes(figures)}"
        )

        if any("tqdm" in c.source for c in released.cells if c.cell_type == "code"):
            spot_progress_bar()  # a bar that stays (leave=True) is there after the run
            assert bars_seen, f"{lesson_id} uses tqdm but no progress bar was shown"

        lap("checks and screenshots")
    except Exception:
        screenshot_of_failure(nb, shot["-failed"])
        raise
    finally:
        for name in shot.values():
            if name.exists():
                record_property("screenshot", str(name.relative_to(browser_tools.REPO)))
        record_property("wall time", wall_time(started, phases))
        student_lab.shutdown_kernels()


def test_validate_passes_with_the_reference_answers(
    fixture_lab, page, screenshots, record_property
):
    """The Validate button's success: the fixture lesson with its reference answers typed in."""
    started = time.monotonic()
    phases = {}

    def lap(name):
        phases[name] = time.monotonic() - started - sum(phases.values())

    (lesson_id,) = course.lesson_ids(fixture_lab.root)
    shot, failed = (screenshots / f"{lesson_id}-{name}.png" for name in ("validate", "failed"))
    for old in (shot, failed):
        old.unlink(missing_ok=True)
    released = nbformat.read(course.release_path(fixture_lab.root, lesson_id), as_version=4)
    instructor = nbformat.read(course.instructor_path(fixture_lab.root, lesson_id), as_version=4)
    answers = grading.fill_answers(released, instructor)
    nb = browser_tools.Notebook(page, fixture_lab, f"notebooks/{lesson_id}/{lesson_id}.ipynb")
    try:
        lap("open")
        type_answers(nb, released, answers, lesson_id)
        lap("typing")
        result = nb.validate()
        lap("validate")
        nb.screenshot(shot)
        assert VALIDATE_SUCCESS in result, (
            f"{lesson_id}: Validate with the reference answers says: {result}"
        )
        nb.close_dialog()
    except Exception:
        screenshot_of_failure(nb, failed)
        raise
    finally:
        for name in (shot, failed):
            if name.exists():
                record_property("screenshot", str(name.relative_to(browser_tools.REPO)))
        record_property("wall time", wall_time(started, phases))
        fixture_lab.shutdown_kernels()
