"""The Execute preprocessor that autograding uses: sandboxed, tamper-resistant, crash-proof.

nbgrader restores the source of grade cells and locked cells from the gradebook,
but a student's answer cell can still monkeypatch what the test cells call
(``np.allclose = lambda *a, **k: True``, ``rlhelpers.testing.check_close = ...``,
or a new ``check_close`` in the notebook's globals). :class:`GuardedExecute`
therefore, without changing any cell:

1. runs a hidden set-up snippet (:func:`kernel_guard`) before the first cell: it
   imports the modules that test cells rely on and snapshots their namespaces,
   reads the source of the check helpers (``rlhelpers.testing``), and installs an
   audit hook that refuses what reaches into a running check (trace and profile
   hooks, more audit hooks, changing a loaded function's code, gc's object walks,
   ctypes into the interpreter). The module list is derived
   from the import statements of the released notebook's non-answer cells
   (``import gymnasium``, ``from rlhelpers.envs.tabular import ...`` give
   gymnasium, rlhelpers.envs and rlhelpers.envs.tabular), plus builtins, math,
   numpy and rlhelpers.testing, and torch's testing helpers when torch is used.
   The kernel's working directory goes to the end of ``sys.path`` first, so a
   handed-in ``numpy.py`` or ``rlhelpers/`` cannot stand in for the real ones,
   and tqdm's monitor thread is turned off (``tqdm.tqdm.monitor_interval = 0``):
   a progress bar left open starts no thread that step 2 would report;
2. runs a hidden restore snippet before every grade cell: every attribute of
   those modules goes back to its snapshot, ``sys.modules`` entries are put
   back, threading's hooks, torch's function and dispatch modes, gc callbacks
   and signal handlers are removed, the threads the notebook started are
   stopped, the check helpers are loaded afresh from the source read at set-up,
   and the import statements of the released notebook's own (non-answer) cells
   run again, so ``np``, ``torch``, ``check_close`` ... in the notebook's globals
   are the real ones again; gc is off and thread switches rare until the cell
   ends. What it found is kept as a ``GUARD_MARK`` line of the grade cell's
   output (and named in the outcome); if the snippet fails, the grade cell is
   not run and scores 0. README ("What the guard does before each test") says
   what this cannot prevent;
3. starts the kernel through :class:`grader.kernel.sandbox.SandboxedKernelManager`,
   telling it which modules the notebook imports (the sandbox exposes them);
4. survives a kernel that dies (``os._exit``, a crash, the memory limit): the
   cell gets an error saying so, the cells after it are not run and get an
   error (their tests score 0), and the notebook's grades are still saved;
5. keeps what a grade cell writes to stderr (a warning, a progress bar) as
   ordinary output marked ``STDERR_MARK``: nbgrader would score any stderr
   output as a failed test;
6. keeps at most ``RLCOURSE_OUTPUT_LIMIT`` bytes of output per cell (1 MiB),
   already while the cell runs, and says where the rest was cut.

The per-cell time limit is nbclient's ``timeout`` (``RLCOURSE_CELL_TIMEOUT``,
see nbgrader_config.py); on a timeout the cell is interrupted and scores 0.
"""

from __future__ import annotations

import ast
import inspect

import nbformat
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Unicode

from grader.course import grade_id, is_answer, is_graded, reference_notebook
from grader.kernel.sandbox import SandboxedKernelManager, output_limit

GUARD = "__rlcourse_guard__"
BASE_MODULES = [
    "builtins",
    "sys",
    "math",
    "numpy",
    "numpy.testing",
    "numpy.linalg",
    "rlhelpers",
    "rlhelpers.testing",
]
TORCH_MODULES = ["torch", "torch.testing", "torch.nn.functional"]
CHECKS_MODULE = "rlhelpers.testing"
"""The check helpers: loaded again from their source before every grade cell."""
STDERR_MARK = "[stderr, costs no points] "
"""Starts the text a grade cell wrote to stderr, kept as ordinary output."""
CUT_MARK = "[output cut]"
"""Starts the line that says a cell's output was cut at the output limit."""
GUARD_MARK = "[grading guard] "
"""Starts the line that says what the guard undid or refused before a grade cell."""
SETUP_TIMEOUT = 120
"""Seconds the hidden set-up (importing what test cells use) may take at least."""
GRADE_SWITCH_INTERVAL_S = 1.0
"""sys.setswitchinterval while a grade cell runs: another thread waits up to this long."""
THREAD_STOP_S = 0.5
"""Seconds the guard waits, in all, for the threads a notebook started to stop
(once per thread: a thread blocked in C code dies when it wakes)."""


def kernel_guard(names, checks_module, switch_interval, stop_within):  # noqa: C901, PLR0915
    """Runs in the kernel, before the notebook's first cell; returns (before, after).

    Set-up: moves the working directory to the end of sys.path, turns tqdm's monitor
    thread off (a bar left open is not a thread of the notebook's), hides dill (it
    takes interpreter pointers through ctypes when imported), imports `names`
    and snapshots their namespaces, compiles the source of `checks_module`, and
    installs an audit hook (the first one: it cannot be removed) that refuses, for
    the rest of the kernel's life, what reaches into a running check: adding an
    audit hook, sys.settrace / sys.setprofile, changing the code or defaults of a
    function of a module loaded at set-up or of the check helpers, gc's object
    walks and ctypes' access to the interpreter's API or to raw memory.

    before() (before every grade cell) undoes what the notebook's code could have
    installed and prints what it found, a line each: the modules' attributes,
    threading's trace and profile hooks, torch's function and dispatch modes,
    gc callbacks and thresholds, signal handlers; it stops the threads the
    notebook started (an asynchronous SystemExit), loads `checks_module` afresh
    from the source read at set-up, switches gc off and makes thread switches
    rare. after() (after every grade cell) turns gc and thread switches back.
    Everything in here runs in the student's process: README ("What the guard
    does before each test") says what it still cannot prevent.
    """
    import ctypes
    import gc
    import importlib
    import os
    import signal
    import sys
    import threading
    import time
    import types

    here = {"", ".", os.getcwd()}
    sys.path[:] = [p for p in sys.path if p not in here] + [p for p in sys.path if p in here]
    try:  # tqdm's monitor thread is tqdm's, not the notebook's: its bars work without one
        import tqdm

        tqdm.tqdm.monitor_interval = 0
    except Exception:  # noqa: BLE001, S110  (no tqdm in the kernel)
        pass
    # dill looks up CPython's capsule API through ctypes when imported (torch imports it when
    # it is installed, as the real-LM extras install it): hidden, so that neither the hook
    # below refuses an innocent `import torch` nor its resolved pointers are left in reach
    for name in ("dill",):
        sys.modules.setdefault(name, None)
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S110  (a name that is not a module)
            pass
    snapshot = [(n, sys.modules[n], dict(vars(sys.modules[n]))) for n in names if n in sys.modules]
    checks = sys.modules.get(checks_module)
    pristine = None
    if getattr(checks, "__file__", None):
        with open(checks.__file__, encoding="utf-8") as handle:
            code = compile(handle.read(), checks.__file__, "exec", dont_inherit=True)
        pristine = (checks.__file__, checks.__spec__, code)
    main = sys.modules["__main__"]
    loaded = frozenset(
        id(vars(m)) for m in list(sys.modules.values()) if hasattr(m, "__dict__") and m is not main
    )
    found = []
    refused_events = frozenset(
        {
            "sys.addaudithook",
            "sys.settrace",
            "sys.setprofile",
            "gc.get_objects",
            "gc.get_referrers",
            "gc.get_referents",
            "ctypes.cdata",
        }
    )
    function_parts = frozenset({"__code__", "__defaults__", "__kwdefaults__"})
    function_type = types.FunctionType

    def audit(event, args):
        if event in refused_events:
            what = event
        elif (
            event == "object.__setattr__"
            and type(args[0]) is function_type
            and args[1] in function_parts
            and (
                id(args[0].__globals__) in loaded
                or args[0].__globals__.get("__name__") == checks_module
            )
        ):
            what = f"changing {args[0].__qualname__}.{args[1]}"
        elif event == "ctypes.dlsym" and str(args[1]).startswith(("Py", "_Py")):
            what = f"ctypes.pythonapi.{args[1]}"
        else:
            return
        found.append(what)
        raise RuntimeError(f"the grading guard refuses {what}")

    set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
    thread_id, exception = ctypes.c_ulong, ctypes.py_object(SystemExit)
    sys.addaudithook(audit)
    modules, setattr_, getattr_, missing, say = sys.modules, setattr, getattr, object(), print
    setup_threads, signalled = frozenset(sys._current_frames()), set()
    callbacks, thresholds = list(gc.callbacks), gc.get_threshold()
    interval = sys.getswitchinterval()
    handlers = {}
    for number in signal.valid_signals():
        try:
            handlers[number] = signal.getsignal(number)
        except (OSError, ValueError):
            pass

    def restore_modules():
        for name, module, attributes in snapshot:
            modules[name] = module
            for key, value in attributes.items():
                if getattr_(module, key, missing) is not value:
                    try:
                        setattr_(module, key, value)
                    except Exception:  # noqa: BLE001, S110
                        pass

    def remove_hooks(report):
        for kind in ("trace", "profile"):
            if getattr_(threading, f"_{kind}_hook", None) is not None:
                report.append(f"a thread {kind} hook (threading.set{kind})")
                getattr_(threading, f"set{kind}")(None)
        if sys.gettrace() is not None or sys.getprofile() is not None:
            report.append("a trace or profile hook that could not be removed")
        torch = modules.get("torch")
        if torch is not None:
            for _ in range(torch._C._len_torch_function_stack()):
                mode = torch._C._pop_torch_function_stack()
                report.append(f"a torch function mode ({type(mode).__name__})")
            for _ in range(torch._C._len_torch_dispatch_stack()):
                mode = torch._C._pop_torch_dispatch_stack(None)  # None: the user's modes
                report.append(f"a torch dispatch mode ({type(mode).__name__})")
        if gc.callbacks != callbacks:
            report.append(f"{len(gc.callbacks) - len(callbacks)} gc callback(s)")
            gc.callbacks[:] = callbacks
        if gc.get_threshold() != thresholds:
            gc.set_threshold(*thresholds)
        for number, handler in handlers.items():
            if signal.getsignal(number) is not handler:
                report.append(f"a handler of signal {number}")
                signal.signal(number, handler)

    def stop_threads(report):
        # Every thread that runs Python code has a frame in sys._current_frames (threads
        # started with _thread too). It gets the SystemExit at its next instruction: one
        # blocked in C (a sleep, a lock) dies when it wakes, unless it catches it.
        names = {t.ident: t.name for t in threading.enumerate()}
        started = [i for i in sys._current_frames() if i not in setup_threads]
        for ident in started:
            set_async_exc(thread_id(ident), exception)
        waiting, deadline = (
            [i for i in started if i not in signalled],
            time.monotonic() + stop_within,
        )
        while waiting and time.monotonic() < deadline:
            time.sleep(0.002)
            waiting = [i for i in waiting if i in sys._current_frames()]
        alive = sys._current_frames()
        for ident in started:
            if ident not in signalled:  # said once, not before every grade cell
                state = "still running" if ident in alive else "stopped"
                report.append(f"a thread the notebook started ({names.get(ident, ident)}), {state}")
        signalled.update(started)

    def load_checks():
        if pristine is None:
            return
        file, spec, code = pristine
        fresh = types.ModuleType(checks_module)
        fresh.__file__, fresh.__spec__ = file, spec
        modules[checks_module] = fresh
        exec(code, vars(fresh))  # noqa: S102  (the source read before any student cell)
        package, _, leaf = checks_module.rpartition(".")
        if package in modules:
            setattr_(modules[package], leaf, fresh)

    def before():
        report, found[:] = [f"refused {what}" for what in found], []
        restore_modules()
        remove_hooks(report)
        stop_threads(report)
        load_checks()
        gc.disable()
        sys.setswitchinterval(switch_interval)
        for line in dict.fromkeys(report):
            say(line)  # the builtin print of set-up, to the restored sys.stdout

    def after():
        gc.enable()
        sys.setswitchinterval(interval)

    return before, after


SETUP = """\
{source}
{guard} = kernel_guard({names!r}, {checks!r}, {interval!r}, {stop!r})
del kernel_guard
"""

RESTORE = """\
{guard}[0]()
{imports}
"""

AFTER = "{guard}[1]()\n"
"""The hidden snippet after a grade cell: gc and thread switches as before."""


def setup_code(names: list[str]) -> str:
    """The hidden set-up snippet: kernel_guard's source and its call, bound to GUARD."""
    return SETUP.format(
        source=inspect.getsource(kernel_guard),
        guard=GUARD,
        names=names,
        checks=CHECKS_MODULE,
        interval=GRADE_SWITCH_INTERVAL_S,
        stop=THREAD_STOP_S,
    )


def restore_code(imports: list[str]) -> str:
    """The hidden snippet before a grade cell: prints what it undid, re-runs `imports`."""
    return RESTORE.format(guard=GUARD, imports="\n".join(imports))


def notebook_imports(notebook: NotebookNode) -> list[str]:
    """The top-level import statements of a notebook's cells that are not answers."""
    statements = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or is_answer(cell):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom) and not getattr(node, "level", 0):
                text = ast.unparse(node)
                if text not in statements:
                    statements.append(text)
    return statements


def guarded_modules(notebook: NotebookNode) -> list[str]:
    """The modules the guard snapshots and restores before every grade cell.

    BASE_MODULES, torch's testing helpers when the notebook uses torch, and every
    module (and parent package) that the import statements of the notebook's
    non-answer cells name: `from a.b import c` gives a, a.b and a.b.c (the
    set-up skips a name that is not a module).
    """
    names = list(BASE_MODULES)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    if "torch" in code:
        names += TORCH_MODULES
    for statement in notebook_imports(notebook):
        node = ast.parse(statement).body[0]
        if isinstance(node, ast.Import):
            dotted = [alias.name for alias in node.names]
        else:
            dotted = [f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"]
            dotted.append(node.module)
        for name in dotted:
            parts = name.split(".")
            names += [".".join(parts[: i + 1]) for i in range(len(parts))]
    return list(dict.fromkeys(names))


def top_level_modules(notebook: NotebookNode) -> tuple[str, ...]:
    """The top-level packages the notebook's non-answer cells import (builtins aside)."""
    names = {name.split(".")[0] for name in guarded_modules(notebook)}
    return tuple(sorted(names - {"builtins"}))


def _output_size(output: NotebookNode) -> int:
    """Bytes an output holds: its text, its data (images are base64 text), its traceback."""
    size = len(output.get("text", ""))
    for value in output.get("data", {}).values():
        size += len(value) if isinstance(value, str) else len(str(value))
    size += len(output.get("evalue", "")) + sum(len(x) for x in output.get("traceback", []))
    return size


def _cut_output(output: NotebookNode, room: int) -> NotebookNode | None:
    """The part of an output that fits in `room` bytes (None: nothing of it fits)."""
    if output.output_type == "stream" and room > 0:
        output.text = output.text[:room]
        return output
    if output.output_type == "error":
        output.evalue = output.evalue[: max(room, 200)]
        output.traceback = [f"{output.ename}: {output.evalue}"]
        return output
    return None


def _cut_notice(limit: int) -> NotebookNode:
    return nbformat.v4.new_output(
        "stream",
        name="stdout",
        text=f"\n{CUT_MARK} the output of this cell passed {limit // 1024} KiB "
        "(RLCOURSE_OUTPUT_LIMIT): the rest of it was not kept\n",
    )


def mark_stderr(cell: NotebookNode) -> bool:
    """Turn a cell's stderr output into marked stdout (nbgrader fails a cell on stderr)."""
    marked = False
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stderr":
            output.name = "stdout"
            output.text = STDERR_MARK + output.text
            marked = True
    return marked


_GUARD_FAILED = (
    "the grading guard could not undo what earlier cells changed, so this test was not run"
)


def _printed(cell: NotebookNode) -> list[str]:
    """The non-empty lines a (hidden) cell printed on stdout."""
    text = "".join(
        o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout"
    )
    return [line for line in text.splitlines() if line.strip()]


def _guard_notice(found: list[str]) -> NotebookNode:
    """The output that says what the guard undid or refused before a grade cell."""
    return nbformat.v4.new_output(
        "stream", name="stdout", text=f"{GUARD_MARK}found before this test: {'; '.join(found)}\n"
    )


def _error_output(ename: str, message: str) -> NotebookNode:
    return nbformat.v4.new_output(
        "error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"]
    )


class GuardedExecute(Execute):
    """nbgrader's Execute with the sandboxed kernel, the test-helper guard and crash handling."""

    release_directory = Unicode(
        "",
        help="Folder of the released notebooks (<dir>/<assignment>/<notebook>.ipynb): "
        "their import statements are re-run before every grade cell.",
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------ set-up

    def preprocess(self, nb, resources=None, km=None):
        reference = reference_notebook(self.release_directory, resources) or nb
        self._setup_code = setup_code(guarded_modules(reference))
        self._restore_code = restore_code(notebook_imports(reference))
        self._after_code = AFTER.format(guard=GUARD)
        self._import_modules = top_level_modules(reference)
        self._guard_ready = False
        self._dead_at: int | None = None
        self._output_kept: dict[int, int] = {}
        return super().preprocess(nb, resources, km)

    def create_kernel_manager(self):
        manager = super().create_kernel_manager()
        manager.import_modules = self._import_modules
        return manager

    def output(self, outs, msg, display_id, cell_index):
        """nbclient's output handler, keeping at most output_limit() bytes per cell."""
        limit, kept = output_limit(), self._output_kept.get(id(outs), 0)
        if kept > limit:
            return None  # already cut: the notice is in place
        out = super().output(outs, msg, display_id, cell_index)
        if out is None or not outs or outs[-1] is not out:
            return out
        size = _output_size(out)
        if kept + size <= limit:
            self._output_kept[id(outs)] = kept + size
            return out
        outs.pop()
        cut = _cut_output(out, limit - kept)
        if cut is not None:
            outs.append(cut)
        outs.append(_cut_notice(limit))
        self._output_kept[id(outs)] = limit + 1
        return cut

    def _run_hidden(self, code: str, index: int) -> NotebookNode:
        """Run `code` in the kernel without recording it in the notebook; the cell it ran in."""
        original = self.nb.cells[index]
        hidden = nbformat.v4.new_code_cell(code)
        try:
            self.execute_cell(hidden, index, store_history=False)
        finally:
            self.nb.cells[index] = original
        errors = [o for o in hidden.outputs if o.output_type == "error"]
        if errors:
            self.log.warning("grading guard: %s: %s", errors[0].ename, errors[0].evalue)
        return hidden

    def _stop_kernel(self) -> None:
        try:
            run_sync(self.km.shutdown_kernel)(now=True)
        except Exception:  # noqa: BLE001  (it is going away in any case)
            pass

    # ------------------------------------------------------------------ cells

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if self._dead_at is not None:
            cell.outputs = [
                _error_output(
                    "KernelDied",
                    f"not run: the kernel died or was stopped in cell {self._dead_at}",
                )
            ]
            return cell, resources
        try:
            if not self._guard_ready:
                # imports (torch included) may take a while on a busy machine
                timeout, self.timeout = self.timeout, max(self.timeout or 0, SETUP_TIMEOUT)
                try:
                    self._run_hidden(self._setup_code, index)
                finally:
                    self.timeout = timeout
                self._guard_ready = True
            if not is_graded(cell):
                return super().preprocess_cell(cell, resources, index)
            restored = self._run_hidden(self._restore_code, index)
            if any(o.output_type == "error" for o in restored.outputs):
                cell.outputs = [_error_output("GuardError", _GUARD_FAILED)]
                return cell, resources
            found = _printed(restored)
            cell, resources = super().preprocess_cell(cell, resources, index)
            mark_stderr(cell)
            if found:
                cell.outputs.insert(0, _guard_notice(found))
            self._run_hidden(self._after_code, index)
            return cell, resources
        except CellTimeoutError:
            # the interrupt at the time limit was swallowed (the kernel stays busy)
            self._dead_at = index
            self.log.warning("cell %s ignored the interrupt; the kernel is stopped", index)
            self._stop_kernel()
            cell.outputs = list(cell.get("outputs", [])) + [
                _error_output(
                    "CellTimeoutError",
                    f"the cell ran past the time limit ({self.timeout} s) and ignored the "
                    "interrupt: the kernel was stopped and the cells after it were not run",
                )
            ]
            self.nb.cells[index] = cell
            return cell, resources
        except DeadKernelError:
            self._dead_at = index
            self.log.warning("the kernel died in cell %s; the cells after it are not run", index)
            cell.outputs = list(cell.get("outputs", [])) + [
                _error_output(
                    "KernelDied",
                    "the kernel died while running this cell (os._exit, a crash, "
                    "or the memory limit); the cells after it were not run",
                )
            ]
            self.nb.cells[index] = cell
            return cell, resources


def output_notes(notebook: NotebookNode) -> dict[str, list[str]]:
    """{grade_id: what to know of its output}: stderr kept as output, output cut."""
    notes: dict[str, list[str]] = {}
    for cell in notebook.cells:
        if cell.cell_type != "code" or not (is_graded(cell) or is_answer(cell)):
            continue
        texts = [o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream"]
        found = []
        stderr = [t[len(STDERR_MARK) :] for t in texts if t.startswith(STDERR_MARK)]
        if stderr and is_graded(cell):
            first = next((line for t in stderr for line in t.splitlines() if line.strip()), "")
            found.append(f"wrote to stderr (kept, no points lost): {first.strip()[:100]}")
        if any(t.lstrip("\n").startswith(CUT_MARK) for t in texts):
            found.append(f"output cut at {output_limit() // 1024} KiB")
        guarded = [t[len(GUARD_MARK) :].strip() for t in texts if t.startswith(GUARD_MARK)]
        if guarded and is_graded(cell):
            found.append(f"grading guard: {guarded[0][:300]}")
        if found:
            notes[grade_id(cell)] = found
    return notes


def describe_outputs(notebook: NotebookNode) -> dict[str, str]:
    """{grade_id: 'ok' | its first error} for the answer and test cells of an executed notebook."""
    result = {}
    for cell in notebook.cells:
        if cell.cell_type != "code" or not (is_graded(cell) or is_answer(cell)):
            continue
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        result[grade_id(cell)] = (
            "ok" if not errors else f"{errors[-1].ename}: {errors[-1].evalue}".strip()
        )
    return result
