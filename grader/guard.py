"""The Execute preprocessor that autograding uses: sandboxed, tamper-resistant, crash-proof.

nbgrader restores the source of grade cells and locked cells from the gradebook,
but a student's answer cell can still monkeypatch what the test cells call
(``np.allclose = lambda *a, **k: True``, ``rlhelpers.testing.check_close = ...``,
or a new ``check_close`` in the notebook's globals). :class:`GuardedExecute`
therefore, without changing any cell:

1. runs a hidden set-up snippet before the first cell: it imports the modules
   that test cells rely on (builtins, math, numpy, rlhelpers.testing, torch
   when the notebook uses it) and snapshots their namespaces;
2. runs a hidden restore snippet before every grade cell: every attribute of
   those modules goes back to its snapshot, ``sys.modules`` entries are put
   back, and the import statements of the released notebook's own (non-answer)
   cells run again, so ``np``, ``torch``, ``check_close`` ... in the notebook's
   globals are the real ones again;
3. starts the kernel through :class:`grader.sandbox.SandboxedKernelManager`;
4. survives a kernel that dies (``os._exit``, a crash, the memory limit): the
   cell gets an error saying so, the cells after it are not run and get an
   error (their tests score 0), and the notebook's grades are still saved.

The per-cell time limit is nbclient's ``timeout`` (``RLCOURSE_CELL_TIMEOUT``,
see nbgrader_config.py); on a timeout the cell is interrupted and scores 0.
"""

from __future__ import annotations

import ast
import os

import nbformat
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Unicode

from grader.course import grade_id, is_answer, is_graded
from grader.sandbox import SandboxedKernelManager

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
SETUP_TIMEOUT = 120
"""Seconds the hidden set-up (importing what test cells use) may take at least."""

SETUP = """\
def _rlcourse_guard_setup(names):
    import importlib, sys
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

    def _reference_notebook(self, nb: NotebookNode, resources: dict) -> NotebookNode:
        info = (resources or {}).get("nbgrader", {})
        assignment, notebook = info.get("assignment"), info.get("notebook")
        if self.release_directory and assignment and notebook:
            path = os.path.join(self.release_directory, assignment, f"{notebook}.ipynb")
            if os.path.isfile(path):
                return nbformat.read(path, as_version=4)
        return nb

    def preprocess(self, nb, resources=None, km=None):
        reference = self._reference_notebook(nb, resources)
        code = "\n".join(c.source for c in reference.cells if c.cell_type == "code")
        names = BASE_MODULES + (TORCH_MODULES if "torch" in code else [])
        self._setup_code = SETUP.format(guard=GUARD, names=names)
        self._restore_code = RESTORE.format(
            guard=GUARD, imports="\n".join(notebook_imports(reference))
        )
        self._guard_ready = False
        self._dead_at: int | None = None
        return super().preprocess(nb, resources, km)

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
            return super().preprocess_cell(cell, resources, index)
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
