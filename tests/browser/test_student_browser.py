"""A student works through every lesson in JupyterLab, in a real browser.

For each lesson (whichever `solutions/*/*.py` exist, so a new lesson is
covered with no change here) the student's notebook from notebooks/ is opened
in the course's own JupyterLab, on a throw-away copy of the course:

1. Run All Cells, carrying on after each error: the only errors are the
   "not implemented yet" ones of the exercises;
2. a plausible first attempt (the first function returns None) fails its
   visible test with one readable message that says what is wrong and hints;
3. the reference answers are typed into the answer cells, Run All Cells runs
   with no error and no warning, plots render inline with labelled axes,
   training loops show a progress bar, and Validate reports success.

Screenshots go to build/screenshots/<lesson>*.png.
"""

from __future__ import annotations

import re
import time

import browser_tools
import nbformat
import pytest
from playwright.sync_api import Error as PlaywrightError

from grader import grading, release

pytestmark = [pytest.mark.browser, pytest.mark.slow, browser_tools.NEEDS_CHROMIUM]

LESSONS = release.lesson_ids()
ERROR_OUTPUT = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
PLOT = ".jp-RenderedImage img"
PROGRESS_BAR = ".widget-hprogress, progress"  # tqdm.auto's ipywidgets bar, or a <progress>
RUN_TIMEOUT_S = 600  # one Run All of a lesson (60 s budget on 2 cores; tests share them)


@pytest.fixture(scope="module")
def student_lab(tmp_path_factory):
    """JupyterLab on a copy of the course, with the committed student notebooks."""
    tmp = tmp_path_factory.mktemp("student")
    root = browser_tools.throwaway_course(tmp)
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
    total = sum(
        cell.metadata["nbgrader"].get("points", 0)
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    )
    assert float(stated.group(1) or stated.group(2)) == total, (
        f"{lesson_id}'s introduction states {stated.group(0)!r}, "
        f"but its graded cells are worth {total:g} points"
    )


def first_function_answer(notebook: nbformat.NotebookNode) -> int | None:
    """The first answer cell that defines a function (its stub raises inside it)."""
    for index in browser_tools.answer_cells(notebook):
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
        for name in ("", "-intro", "-test-failure", "-plot", "-progress", "-validate")
    }
    for old in shot.values():
        old.unlink(missing_ok=True)
    instructor = nbformat.read(
        release.build_source_notebook(
            student_lab.root / "solutions" / lesson_id / f"{lesson_id}.py"
        ),
        as_version=4,
    )
    nb = browser_tools.Notebook(page, student_lab, path)
    try:
        released = nb.read()
        answers = grading.fill_answers(released, instructor)
        check_intro(lesson_id, released)
        page.screenshot(path=shot["-intro"])

        lap("open")
        # 1. the untouched notebook: only "not implemented yet" errors
        nb.run_all_past_errors(RUN_TIMEOUT_S)
        nb.save()
        ran = nb.read()
        errors = browser_tools.error_outputs(ran)
        assert errors, f"{lesson_id}: the untouched notebook raised nothing"
        unexpected = browser_tools.unexpected_errors(ran, answers)
        assert not unexpected, (
            f"{lesson_id}: the untouched notebook raises more than the exercises' "
            f"NotImplementedError and what follows from it (cell index, exception, message): "
            f"{unexpected}"
        )
        assert all(
            ran.cells[i].execution_count for i, c in enumerate(ran.cells) if c.cell_type == "code"
        ), f"{lesson_id}: some code cells did not run"

        lap("untouched")
        # 2. a first attempt that returns None: its visible test says what is wrong, with a hint
        attempt = first_function_answer(released)
        if attempt is not None:
            tests = browser_tools.test_cells_after(released, attempt)
            assert tests, f"{lesson_id}: answer cell {attempt} has no test cell after it"
            nb.type_into(
                attempt,
                released.cells[attempt].source.replace(
                    "raise NotImplementedError()", "return None"
                ),
            )
            nb.run_cells([attempt, tests[0]], RUN_TIMEOUT_S)
            nb.save()
            failures = [e for e in browser_tools.error_outputs(nb.read()) if e[0] == tests[0]]
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
        # 3. the reference answers, typed in; everything runs and Validate passes
        for index in browser_tools.answer_cells(released):
            nb.type_into(index, answers.cells[index].source)
        nb.save()
        typed = nb.read()
        mistyped = [
            i
            for i in browser_tools.answer_cells(released)
            if typed.cells[i].source != answers.cells[i].source
        ]
        assert not mistyped, (
            f"{lesson_id}: the editor changed the typed answers of cells {mistyped}"
        )
        student_lab.forget_figures()  # (a failed plot cell shows its empty axes)
        lap("typing")
        bars_seen = []

        def spot_progress_bar():
            """tqdm(leave=False) bars vanish when done: look for them while cells run."""
            if not bars_seen and cells_with(nb, PROGRESS_BAR):
                bar = cells_with(nb, PROGRESS_BAR)[0]
                try:
                    nb.screenshot_at(bar, PROGRESS_BAR, shot["-progress"], timeout_s=2)
                except PlaywrightError:  # it finished in the meantime
                    return
                bars_seen.append(bar)

        nb.run_all(RUN_TIMEOUT_S, on_poll=spot_progress_bar)
        nb.save()
        lap("reference run")
        solved = nb.read()
        assert not browser_tools.error_outputs(solved), (
            f"{lesson_id} with the reference answers raises: {browser_tools.error_outputs(solved)}"
        )
        assert all(
            solved.cells[i].execution_count
            for i, c in enumerate(solved.cells)
            if c.cell_type == "code"
        ), f"{lesson_id}: some code cells did not run"
        assert not browser_tools.warnings_shown(solved), (
            f"{lesson_id} shows warnings: {browser_tools.warnings_shown(solved)}"
        )
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
            if not bars_seen and cells_with(nb, PROGRESS_BAR):
                bars_seen.append(cells_with(nb, PROGRESS_BAR)[0])
                nb.screenshot_at(bars_seen[0], PROGRESS_BAR, shot["-progress"])
            assert bars_seen, f"{lesson_id} uses tqdm but no progress bar was shown"

        lap("checks and screenshots")
        result = nb.validate(RUN_TIMEOUT_S)
        lap("validate")
        page.screenshot(path=shot["-validate"])
        assert "Success! Your notebook passes all the tests" in result, result
        nb.close_dialog()
    finally:
        for name in shot.values():
            if name.exists():
                record_property("screenshot", str(name.relative_to(browser_tools.REPO)))
        record_property(
            "wall time",
            f"{time.monotonic() - started:.0f} s ("
            + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in phases.items())
            + ")",
        )
        student_lab.shutdown_kernels()
