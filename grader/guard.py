"""The Execute preprocessor that autograding uses: sandboxed, tamper-resistant, crash-proof.

nbgrader restores the source of grade cells and locked cells from the gradebook,
but a student's answer cell can still monkeypatch what the test cells call
(``np.allclose = lambda *a, **k: True``, ``rlhelpers.testing.check_close = ...``,
or a new ``check_close`` in the notebook's globals). :class:`GuardedExecute`
therefore, without changing any cell:

1. runs a hidden set-up snippet before the first cell: it imports the modules
   that test cells rely on and snapshots their namespaces. The list is derived
   from the import statements of the released notebook's non-answer cells
   (``import gymnasium``, ``from rlhelpers.envs.tabular import ...`` give
   gymnasium, rlhelpers.envs and rlhelpers.envs.tabular), plus builtins, math,
   numpy and rlhelpers.testing, and torch's testing helpers when torch is used.
   The kernel's working directory goes to the end of ``sys.path`` first, so a
   handed-in ``numpy.py`` or ``rlhelpers/`` cannot stand in for the real ones;
2. runs a hidden restore snippet before every grade cell: every attribute of
   those modules goes back to its snapshot, ``sys.modules`` entries are put
   back, and the import statements of the released notebook's own (non-answer)
   cells run again, so ``np``, ``torch``, ``check_close`` ... in the notebook's
   globals are the real ones again;
3. starts the kernel through :class:`grader.sandbox.SandboxedKernelManager`,
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

import nbformat
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Unicode

from grader.course import grade_id, is_answer, is_graded, reference_notebook
from grader.sandbox import SandboxedKernelManager, output_limit

GUARD = "__rlcourse_guard__"
BASE_MODULES = [
    "builtins",
    "math",
    "numpy",
    "numpy.testing",
    "numpy.linalg",
    "rlhelpers",
    "rlhelpers.testing",
]
TORCH_MODULES = ["torch", "torch.testing", "torch.nn.functional"]
STDERR_MARK = "[stderr, costs no points] "
"""Starts the text a grade cell wrote to stderr, kept as ordinary output."""
CUT_MARK = "[output cut]"
"""Starts the line that says a cell's output was cut at the output limit."""
SETUP_TIMEOUT = 120
"""Seconds the hidden set-up (importing what test cells use) may take at least."""

SETUP = """\
def _rlcourse_guard_setup(names):
    import importlib, os, sys
    here = {{"", ".", os.getcwd()}}
    sys.path[:] = [p for p in sys.path if p not in here] + [p for p in sys.path if p in here]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            pass
    snapshot = [(n, sys.modules[n], dict(vars(sys.modules[n]))) for n in names if n in sys.modules]
    modules, setattr_, getattr_, missing = sys.modules, setattr, getattr, object()
    def restore():
        for name, module, attributes in snapshot:
            modules[name] = module
            for key, value in attributes.items():
                if getattr_(module, key, missing) is not value:
                    try:
                        setattr_(module, key, value)
                    except Exception:
                        pass
    return restore
{guard} = _rlcourse_guard_setup({names!r})
del _rlcourse_guard_setup
"""

RESTORE = """\
{guard}()
{imports}
"""


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
        self._setup_code = SETUP.format(guard=GUARD, names=guarded_modules(reference))
        self._restore_code = RESTORE.format(
            guard=GUARD, imports="\n".join(notebook_imports(reference))
        )
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
            if is_graded(cell):
                self._run_hidden(self._restore_code, index)
            cell, resources = super().preprocess_cell(cell, resources, index)
            if is_graded(cell):
                mark_stderr(cell)
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
