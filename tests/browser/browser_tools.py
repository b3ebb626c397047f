"""Drive the course's JupyterLab in Debian's Chromium, for the browser tests.

A throw-away copy of the course (the student notebooks, the lesson sources,
nbgrader_config.py and the grader package) is served by `python -m grader.lab`
run inside the copy, exactly what `make lab` runs, so the repository's files
are never touched. A Notebook object wraps one open notebook in JupyterLab
and does what a student does with the mouse and keyboard: run all cells,
type an answer into a cell, save, press Validate.

Every wait polls a condition until a deadline, and each deadline is one of the
constants below: a machine that is busy with other work (CI, two test workers
on two cores) is slow, and a test that fails because it is slow is a broken
test.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import nbformat
import pytest

from grader.course import REPO

# Deadlines: how long a wait polls its condition before the test fails. Generous
# (minutes) on purpose: they bound a stuck test, they do not time a healthy one.
SERVER_START_S = 600  # `python -m grader.lab` answers its first HTTP request
HTTP_READ_S = 60  # one HTTP request; it is retried until HTTP_DEADLINE_S
HTTP_DEADLINE_S = 300  # an HTTP request to the running server, retries included
UI_WAIT_S = 300  # anything the page shows (Playwright's default timeout), a kernel start, a save
RUN_TIMEOUT_S = 1200  # one Run All of a lesson or one Validate (60 s on an idle laptop CPU)
POLL_S = 0.2  # between two looks at a condition
CHROMIUM = Path("/usr/bin/chromium")
# No outside network here: without the background-networking flags Chromium keeps
# trying to reach Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Skips a browser test, with the reason shown, before any fixture is set up.
NEEDS_CHROMIUM = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"browser tests skipped: {CHROMIUM} is not installed "
    "(`make browser-deps` installs Debian's chromium, as root)",
)
SCREENSHOTS = REPO / "build" / "screenshots"
VIEWPORT = {"width": 1400, "height": 1000}
FIGURE_LOG_VARIABLE = "RLCOURSE_FIGURE_LOG"

# JupyterLab user settings for the test's server only: every cell stays in the DOM
# (the notebook is not virtualised), and no news or update pop-ups.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

# IPython start-up file for the test's kernels: whenever a figure is rendered
# (the inline backend's PNG), record its axes so that the test can check their
# labels. The student's code and outputs are unchanged.
FIGURE_RECORDER = """
import json as _json
import os as _os


def _install_figure_recorder():
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        return
    original = FigureCanvasBase.print_figure

    def visible_tick_labels(labels):
        return any(label.get_visible() and label.get_text().strip() for label in labels)

    def print_figure(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        axes = []
        for ax in self.figure.get_axes():
            axes.append(
                {
                    "title": ax.get_title(),
                    "xlabel": ax.get_xlabel(),
                    "ylabel": ax.get_ylabel(),
                    "shown": bool(ax.axison and ax.get_visible()),
                    "colorbar": hasattr(ax, "_colorbar"),
                    "x_ticks": visible_tick_labels(ax.get_xticklabels()),
                    "y_ticks": visible_tick_labels(ax.get_yticklabels()),
                }
            )
        record = {"folder": _os.getcwd(), "axes": axes}
        with open(_os.environ["RLCOURSE_FIGURE_LOG"], "a") as log:
            log.write(_json.dumps(record) + "\\n")
        return result

    FigureCanvasBase.print_figure = print_figure


if _os.environ.get("RLCOURSE_FIGURE_LOG"):
    _install_figure_recorder()
del _install_figure_recorder
"""


# --------------------------------------------------------------------------- course and server


def throwaway_course(
    tmp: Path, source: Path = REPO, lessons: list[str] | None = None, notebooks: bool = True
) -> Path:
    """A course folder in `tmp`: the lesson sources of `source`, our config and grader.

    With `notebooks`, the student notebooks are copied from `source`'s notebooks/
    (what a student clones); without, the caller releases them.
    """
    from grader import release

    root = tmp / "course"
    root.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(
        REPO / "grader", root / "grader", ignore=shutil.ignore_patterns("work", "__pycache__")
    )
    for lesson_id in lessons or release.lesson_ids(source):
        (root / "solutions" / lesson_id).mkdir(parents=True)
        shutil.copy(
            source / "solutions" / lesson_id / f"{lesson_id}.py", root / "solutions" / lesson_id
        )
        if notebooks:
            released = source / "notebooks" / lesson_id / f"{lesson_id}.ipynb"
            if released.is_file():  # a missing one fails that lesson's test
                (root / "notebooks" / lesson_id).mkdir(parents=True)
                shutil.copy(released, root / "notebooks" / lesson_id)
    return root


T = TypeVar("T")


def poll(observe: Callable[[], T], done: Callable[[T], bool], timeout_s: float) -> T:
    """Observe until `done(observation)` holds, or `timeout_s` passed: the last observation.

    Each observation is made once and judged as made (no second look that a
    change in between could contradict); the caller asserts on the one returned.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        seen = observe()
        if done(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(POLL_S)


def http_request(
    url: str,
    method: str = "GET",
    deadline_s: float = HTTP_DEADLINE_S,
    alive: Callable[[], bool] | None = None,
) -> tuple[int, str, str]:
    """(status, body, final URL) of an HTTP request, retried until `deadline_s`.

    A busy server answers late or drops the connection: timeouts and refused or
    reset connections are retried (as long as `alive()`, when given, holds); an
    HTTP error status is an answer and raises urllib.error.HTTPError at once.
    """
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            request = urllib.request.Request(url, method=method)
            with urllib.request.urlopen(request, timeout=HTTP_READ_S) as response:
                return response.status, response.read().decode(), response.url
        except urllib.error.HTTPError:
            raise
        except (OSError, http.client.HTTPException) as error:
            if (alive is not None and not alive()) or time.monotonic() > deadline:
                raise TimeoutError(
                    f"{method} {url.split('?')[0]}: no answer in {deadline_s:.0f} s ({error!r})"
                ) from error
            time.sleep(POLL_S)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(root: Path, tmp: Path, instructor: bool = False):
    """Yield a LabServer on course folder `root` (state under `tmp`), stopped afterwards.

    `instructor`: `make instructor-lab`'s server, else `make lab`'s (a student's).
    """
    (tmp / "state").mkdir()
    server = LabServer(root, tmp / "state", instructor)
    try:
        yield server
    finally:
        server.stop()


class LabServer:
    """`python -m grader.lab` (what `make lab` runs) serving the course folder `root`.

    With `instructor`, `python -m grader.lab --instructor` (`make instructor-lab`).
    """

    def __init__(self, root: Path, state: Path, instructor: bool = False):
        self.root = root
        self.exchange = state / "exchange"
        self.port = free_port()
        self.token = secrets.token_hex(8)
        self.figure_log = state / "figures.jsonl"
        settings = state / "lab-settings"
        for name, values in LAB_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values))
        startup = state / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-record-figures.py").write_text(FIGURE_RECORDER)
        env = dict(os.environ)
        # `make lab` runs under the Makefile, which exports MPLBACKEND=Agg.
        env.setdefault("MPLBACKEND", "Agg")
        env.update(
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(state / "lab-workspaces"),
            IPYTHONDIR=str(state / "ipython"),
            NBGRADER_EXCHANGE=str(self.exchange),  # (nbgrader_config.py reads it)
            PYTHONDONTWRITEBYTECODE="1",
            **{FIGURE_LOG_VARIABLE: str(self.figure_log)},
        )
        self.log_path = state / "lab.log"
        self._log = self.log_path.open("w")
        # cwd = the course copy: `python -m` imports its grader package, whose
        # REPO is the copy, so grader.lab serves and configures the copy.
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "grader.lab",
                *(["--instructor"] if instructor else []),
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                f"--IdentityProvider.token={self.token}",
            ],
            cwd=root,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self.get("/api/status", deadline_s=SERVER_START_S)
        except (OSError, urllib.error.HTTPError) as error:
            self.stop()
            raise RuntimeError(
                f"JupyterLab did not start ({error}):\n" + self.log_path.read_text()[-5000:]
            ) from None

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}{path}{sep}token={self.token}"

    def get(
        self, path: str, method: str = "GET", deadline_s: float = HTTP_DEADLINE_S
    ) -> tuple[int, str, str]:
        """(status, body, final URL) of a request to the server (see http_request)."""
        return http_request(
            self.url(path), method, deadline_s, alive=lambda: self.process.poll() is None
        )

    def get_json(self, path: str):
        return json.loads(self.get(path)[1])

    def log(self) -> str:
        """What the server has written to its terminal so far."""
        self._log.flush()
        return self.log_path.read_text()

    def figures(self, lesson_id: str) -> list[dict]:
        """Axes of every figure rendered by the kernels of a lesson's notebook folder."""
        if not self.figure_log.exists():
            return []
        records = [json.loads(line) for line in self.figure_log.read_text().splitlines()]
        return [r for r in records if Path(r["folder"]).name == lesson_id]

    def forget_figures(self) -> None:
        self.figure_log.write_text("")

    def shutdown_kernels(self) -> None:
        """Stop every kernel (a lesson's kernel holds its data and torch threads)."""
        for kernel in self.get_json("/api/kernels"):
            try:
                self.get(f"/api/kernels/{kernel['id']}", method="DELETE")
            except urllib.error.HTTPError as error:
                if error.code != 404:  # 404: gone already (a retried DELETE)
                    raise

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)  # then killed: no test depends on it
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def unlabelled_axes(figures: list[dict]) -> list[str]:
    """Descriptions of the axes whose tick values have no axis label."""
    problems = []
    for number, figure in enumerate(figures, 1):
        for ax in figure["axes"]:
            if not ax["shown"] or ax["colorbar"]:
                continue
            missing = [
                name
                for name, ticks in (("xlabel", ax["x_ticks"]), ("ylabel", ax["y_ticks"]))
                if ticks and not ax[name].strip()
            ]
            if missing:
                title = ax["title"] or "(no title)"
                problems.append(f"figure {number}, axes {title!r}: no {' and no '.join(missing)}")
    return problems


# --------------------------------------------------------------------------- the browser side


class Notebook:
    """One notebook open in JupyterLab, driven like a student drives it."""

    def __init__(self, page, server: LabServer, path: str):
        self.page = page
        self.server = server
        self.path = path  # relative to the server root
        # ?reset: a fresh workspace, or JupyterLab reopens the notebooks of earlier tests
        page.goto(server.url(f"/lab/tree/{path}?reset"), timeout=UI_WAIT_S * 1000)
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=UI_WAIT_S * 1000)
        self.wait_until_idle(UI_WAIT_S)  # its kernel has started and is connected
        panels = page.locator(".jp-NotebookPanel").count()
        assert panels == 1, f"JupyterLab opened {panels} notebooks, not only {path}"
        # more room for the notebook: hide the file browser (View > Show Left Sidebar)
        if page.locator("#jp-left-stack").is_visible():
            page.keyboard.press("Escape")
            page.keyboard.press("Control+b")
            page.locator("#jp-left-stack").wait_for(state="hidden", timeout=UI_WAIT_S * 1000)
        page.mouse.move(0, 0)

    @property
    def file(self) -> Path:
        return self.server.root / self.path

    def read(self) -> nbformat.NotebookNode:
        return nbformat.read(self.file, as_version=4)

    def cells(self):
        return self.page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")

    def cell(self, index: int):
        return self.cells().nth(index)

    def prompts(self) -> list[str]:
        """The input prompt of every code cell: '[3]:', '[*]:' (running or queued), '[ ]:'."""
        return self.page.locator(
            ".jp-NotebookPanel .jp-Notebook .jp-CodeCell .jp-InputPrompt"
        ).all_inner_texts()

    def kernel_status(self) -> str:
        """The kernel's status: 'idle', 'busy', 'starting', ...; 'no kernel' before it is.

        'idle' only when both the status bar and the toolbar's execution
        indicator say so: the indicator says idle before the notebook has a
        kernel at all, and the status bar can lag behind a run.
        """
        text = self.page.locator(
            ".jp-StatusBar-TextItem[title^='Change kernel for']"
        ).first.inner_text()
        name, _, status = text.partition("|")
        if name.strip() == "No Kernel":
            return "no kernel"
        indicator = self.page.locator(".jp-Notebook-ExecutionIndicator").first.get_attribute(
            "data-status"
        )
        shown = status.strip().lower()
        return indicator if shown == "idle" and indicator else shown

    def settle(self) -> None:
        """Wait until the page has drawn what the last action changed (two animation frames)."""
        self.page.evaluate(
            "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
        )

    def wait_until_idle(
        self,
        timeout_s: float,
        before: list[str] | None = None,
        on_poll: Callable[[], None] | None = None,
        quiet_s: float = 0.5,
    ) -> list[str]:
        """Wait until the kernel is idle and no cell is queued, for `quiet_s` in a row.

        (A run marks every cell it queues with [*] as soon as it starts.) With
        `before`, the prompts from before a run was asked for, the run must also
        have begun: a prompt changed (each run of a cell gives it a new number),
        so a run that has not started yet is not taken for one that has ended;
        one that has not started after UI_WAIT_S never will. Returns the prompts.
        """
        started_at = time.monotonic()
        deadline = started_at + timeout_s
        quiet_since = None
        started = before is None
        while True:
            if on_poll is not None:
                on_poll()
            prompts = self.prompts()
            status = self.kernel_status()
            started = started or prompts != before
            done = started and status == "idle" and not any("*" in p for p in prompts)
            now = time.monotonic()
            if not done:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= quiet_s:
                return prompts
            if not started and now > started_at + min(UI_WAIT_S, timeout_s):
                raise TimeoutError(
                    f"{self.path}: no cell ran in {UI_WAIT_S} s "
                    f"(kernel {status}, prompts {prompts})"
                )
            if now > deadline:
                raise TimeoutError(
                    f"{self.path}: still running after {timeout_s:.0f} s "
                    f"(kernel {status}, prompts {prompts})"
                )
            self.page.wait_for_timeout(POLL_S * 1000)

    def menu(self, menu: str, item: str) -> None:
        """Click a menu of the menu bar, then one of its items (once it is enabled).

        (A click on a disabled item does nothing, silently: the menu is closed
        and opened again until the item is enabled, or UI_WAIT_S.)
        """
        deadline = time.monotonic() + UI_WAIT_S
        label = re.compile(f"^{re.escape(item)}$")
        while True:
            self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
            entry = self.page.locator(
                ".lm-Menu-item", has=self.page.locator(".lm-Menu-itemLabel", has_text=label)
            ).first
            entry.wait_for()
            if "lm-mod-disabled" not in (entry.get_attribute("class") or ""):
                entry.click()
                return
            self.page.keyboard.press("Escape")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.path}: {menu} > {item} stays disabled")
            self.page.wait_for_timeout(POLL_S * 1000)

    def select(self, index: int) -> None:
        """Select a cell in command mode (a click on its prompt, as a mouse user does).

        Checked, and clicked again until UI_WAIT_S: JupyterLab may scroll the
        notebook while the click is on its way.
        """
        deadline = time.monotonic() + UI_WAIT_S
        while True:
            self.page.keyboard.press("Escape")
            # near the top of the prompt, where its "[ ]:" is: a tall cell's centre
            # may be out of view
            self.cell(index).evaluate("e => e.scrollIntoView({block: 'start'})")
            self.settle()
            self.cell(index).locator(".jp-InputPrompt").click(position={"x": 12, "y": 10})
            active = self.active_cell()
            if active == index:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.path}: could not select cell {index} (cell {active} is)")

    def active_cell(self) -> int:
        return self.cells().evaluate_all(
            "cells => cells.findIndex(c => c.classList.contains('jp-mod-active'))"
        )

    def run_menu(self, item: str, timeout_s: float, on_poll=None) -> list[str]:
        """Run > `item`, and wait until the run it starts has ended: the prompts then."""
        before = self.prompts()
        self.menu("Run", item)
        return self.wait_until_idle(timeout_s, before=before, on_poll=on_poll)

    def run_all(self, timeout_s: float, on_poll=None) -> None:
        """Run > Run All Cells, and wait for the kernel. Stops at the first error.

        `on_poll()` is called a few times a second while the cells run.
        """
        self.run_menu("Run All Cells", timeout_s, on_poll=on_poll)

    def type_into(self, index: int, text: str) -> None:
        """Replace a cell's text as a student does: click into it, select all, type."""
        from playwright.sync_api import expect

        cell = self.cell(index)
        cell.scroll_into_view_if_needed()
        if "jp-MarkdownCell" in (cell.get_attribute("class") or ""):
            cell.dblclick()  # a rendered markdown cell opens its editor on a double click
        editor = cell.locator(".cm-content")
        editor.click()
        # the keys go where the focus is: wait until it is in this editor
        expect(editor).to_be_focused(timeout=UI_WAIT_S * 1000)
        self.page.keyboard.press("Control+a")
        # insert_text types the whole text as one input event: no auto-indent
        # or bracket closing of the editor on the way.
        self.page.keyboard.insert_text(text)
        self.page.keyboard.press("Escape")

    def run_cells(self, indices: list[int], timeout_s: float) -> None:
        """Run some cells one at a time (select, then Run > Run Selected Cell)."""
        for index in indices:
            self.select(index)
            self.run_menu("Run Selected Cell and Do not Advance", timeout_s)

    def save(self) -> None:
        """File > Save Notebook, then wait until the file on disk is written."""
        before = self.file.stat().st_mtime_ns
        self.page.locator(
            ".jp-NotebookPanel-toolbar [data-command='docmanager:save']"
        ).first.click()
        deadline = time.monotonic() + UI_WAIT_S
        while self.file.stat().st_mtime_ns == before or self.dirty():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.path} was not saved in {UI_WAIT_S} s")
            self.page.wait_for_timeout(POLL_S * 1000)

    def dirty(self) -> bool:
        return self.page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").count() > 0

    def validate(self, timeout_s: float = RUN_TIMEOUT_S) -> str:
        """Press the toolbar's Validate button; the text of the dialog that answers.

        (The button saves the notebook, then the server executes it all.)
        """
        self.page.locator(".jp-NotebookPanel-toolbar .validate-button").first.click()
        # "Validation Results", or "Validation failed" when the save failed
        dialog = self.page.locator(
            ".jp-Dialog", has=self.page.locator(".jp-Dialog-header", has_text="Validation")
        )
        dialog.wait_for(timeout=timeout_s * 1000)
        return dialog.locator(".jp-Dialog-body").inner_text()

    def close_dialog(self) -> None:
        self.page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
        self.page.locator(".jp-Dialog").wait_for(state="detached", timeout=UI_WAIT_S * 1000)

    def screenshot(self, path: Path) -> Path:
        """What the student sees now (the mouse out of the way)."""
        self.page.mouse.move(0, 0)
        self.settle()
        self.page.screenshot(path=path)
        return path

    def screenshot_at(self, index: int, selector: str, path: Path, block: str = "center") -> Path:
        """What the student sees with `selector` in cell `index` scrolled into view.

        The element must be there (it is waited for, until UI_WAIT_S).
        """
        target = self.cell(index).locator(selector).first
        target.evaluate("(e, block) => e.scrollIntoView({block})", block)
        return self.screenshot(path)

    def show_first_output(self, selector: str) -> int | None:
        """Scroll the first output element that matches `selector` into view: its cell's index.

        One look, inside the page: an element that vanishes a moment later (a
        tqdm bar with leave=False, when its loop ends) has been seen all the same.
        None when there is none now.
        """
        index = self.cells().evaluate_all(
            """(cells, selector) => {
                for (const [i, cell] of cells.entries()) {
                    for (const area of cell.querySelectorAll('.jp-OutputArea')) {
                        const found = area.querySelector(selector);
                        if (found) {
                            found.scrollIntoView({block: 'center'});
                            return i;
                        }
                    }
                }
                return -1;
            }""",
            selector,
        )
        return None if index < 0 else index

    def screenshot_whole(self, path: Path, max_height: int = 60_000) -> Path:
        """The whole notebook panel in one tall image, stitched from scrolled views."""
        from PIL import Image

        scroller = self.page.locator(".jp-NotebookPanel .jp-WindowedPanel-outer").first
        box = scroller.bounding_box()
        box["height"] -= 2  # leave out the panel's bottom border
        height = min(scroller.evaluate("e => e.scrollHeight"), max_height)
        step = int(box["height"])
        whole = Image.new("RGB", (int(box["width"]), height), "white")
        self.page.mouse.move(0, 0)
        top = 0
        while top < height:
            shown = scroller.evaluate("(e, top) => { e.scrollTop = top; return e.scrollTop; }", top)
            self.settle()
            view = Image.open(io.BytesIO(self.page.screenshot(clip=box)))
            # at the end the scroller stops early: keep only the part not yet pasted
            whole.paste(view.crop((0, top - shown, view.width, view.height)), (0, top))
            if shown + step <= top:
                break
            top = shown + step
        whole.save(path)
        scroller.evaluate("e => { e.scrollTop = 0; }")
        return path
