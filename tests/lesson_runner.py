"""Build a lesson's definitions in this process, so tests can call and re-grade them.

nbval executes every lesson top to bottom in a kernel (the check that a notebook
runs, on the CPU or a GPU), and the round trip grades it in the sandbox; this
module does not execute it a third time. `Lesson.namespace()` runs, once per
test session, what the tests need: every answer cell and every other code cell
except the grade cells and the demos, i.e. the top-level statements of a cell
that use the student's code (a training run, a plot of its results). Tests then
re-run single grade cells in a copy of that namespace: after an answer was
changed to hold a typical student mistake, or with the cell's seeds shifted.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import os
import re
import textwrap
import traceback
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jupytext
import nbformat

from grader import course

TESTS = Path(__file__).resolve().parent
MISTAKE_TABLES = TESTS / "mistakes"
SEED_ARGUMENT = re.compile(r"\bseed\s*=\s*(\d+)")
HIDDEN_TESTS = "### BEGIN HIDDEN TESTS"
END_HIDDEN_TESTS = "### END HIDDEN TESTS"


@dataclass(frozen=True)
class Cell:
    """One cell of a lesson source."""

    index: int
    node: nbformat.NotebookNode

    @property
    def cell_type(self) -> str:
        return self.node.cell_type

    @property
    def source(self) -> str:
        return self.node.source

    @property
    def nbgrader(self) -> dict:
        return dict(self.node.metadata.get("nbgrader", {}))

    @property
    def grade_id(self) -> str | None:
        return course.grade_id(self.node)

    @property
    def is_grade_test(self) -> bool:
        return course.is_grade_test(self.node)

    @property
    def is_answer(self) -> bool:
        return course.is_answer(self.node)

    @property
    def is_written_answer(self) -> bool:
        return course.is_written_answer(self.node)

    def with_source(self, source: str) -> Cell:
        node = copy.deepcopy(self.node)
        node.source = source
        return Cell(self.index, node)


class CellFailed(RuntimeError):
    """A lesson cell raised while the lesson's definitions were being built."""


def read_cells(path: Path) -> list[Cell]:
    """Parse a py:percent lesson into cells, keeping nbgrader's metadata."""
    return [Cell(i, c) for i, c in enumerate(jupytext.read(path).cells)]


def _execute(cell: Cell, namespace: dict, lesson_id: str, source: str | None = None) -> None:
    label = f"<{lesson_id} cell {cell.index} {cell.grade_id or ''}>"
    exec(compile(cell.source if source is None else source, label, "exec"), namespace)


def visible_part(source: str) -> str:
    """A grade cell as the student's copy has it: the hidden-tests region removed."""
    if HIDDEN_TESTS not in source:
        return source
    before, rest = source.split(HIDDEN_TESTS, 1)
    return before + rest.split(END_HIDDEN_TESTS, 1)[1]


def cell_result(source: str, namespace: dict, label: str = "<grade cell>"):
    """Run a cell's code in `namespace`; the value of its last line if that is an expression
    (what nbgrader scores a grade cell by), else None."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, label, "exec"), namespace)
    if last is None:
        return None
    return eval(compile(ast.Expression(last.value), label, "eval"), namespace)


# --------------------------------------------------------------------------- demos


def bound_names(node: ast.AST) -> set[str]:
    """Names a statement assigns, defines or imports (anywhere in it)."""
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            names.add(sub.id)
        elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(sub.name)
        elif isinstance(sub, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in sub.names)
    return names


def used_names(node: ast.AST) -> set[str]:
    return {sub.id for sub in ast.walk(node) if isinstance(sub, ast.Name)}


DEFINITION = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Import | ast.ImportFrom


def is_pyplot_call(statement: ast.stmt) -> bool:
    """`plt.xlabel(...)`, `plt.legend()`: a bare pyplot call, which binds nothing."""
    if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
        return False
    func = statement.value.func
    while isinstance(func, ast.Attribute):
        func = func.value
    return isinstance(func, ast.Name) and func.id == "plt"


def split_demo(source: str, student: set[str], data: set[str]) -> tuple[str, set[str]]:
    """(the definitions of a cell, the names that depend on the student's code).

    A top-level `def`, `class` or import is a definition and is kept (a function
    that calls the student's code joins `student`: calling it is a demo too). Any
    other statement that uses a name of `student` is a demo: it is left out, and
    the names it would bind, or the data it may change (`results[k] = train(...)`),
    join `student`. A bare pyplot call is left out too: without the demo's
    curves, `plt.legend()` would only warn. `data` collects the names that kept
    statements bind.
    """
    tree = ast.parse(source)
    student = set(student)
    kept = []
    for statement in tree.body:
        uses_student = bool(used_names(statement) & student)
        if isinstance(statement, DEFINITION):
            kept.append(statement)
            if uses_student:
                student |= bound_names(statement)
        elif uses_student:
            student |= bound_names(statement) | (used_names(statement) & data)
        elif is_pyplot_call(statement):
            continue
        else:
            kept.append(statement)
            data |= bound_names(statement)
    lines = source.splitlines()
    return "\n".join("\n".join(_lines_of(statement, lines)) for statement in kept), student


def _lines_of(statement: ast.stmt, lines: list[str]) -> list[str]:
    """The source lines of a top-level statement, its decorators included."""
    first = min([statement.lineno] + [d.lineno for d in getattr(statement, "decorator_list", [])])
    return lines[first - 1 : statement.end_lineno]


# --------------------------------------------------------------------------- lessons


class Lesson:
    """A lesson source, its cells and a cached build of its definitions."""

    def __init__(self, lesson_id: str, path: Path):
        self.lesson_id = lesson_id
        self.path = path
        self.cells = read_cells(path)
        self._namespace: dict | None = None

    @classmethod
    @cache
    def load(cls, lesson_id: str) -> Lesson:
        """The lesson `solutions/<lesson_id>/<lesson_id>.py` (one object per id)."""
        path = course.source_path(course.REPO, lesson_id)
        if not path.exists():
            raise FileNotFoundError(f"no lesson source at {path}")
        return cls(lesson_id, path)

    @classmethod
    def from_path(cls, path: Path) -> Lesson:
        return cls(path.stem, path)

    def cell(self, grade_id: str) -> Cell:
        for cell in self.cells:
            if cell.grade_id == grade_id:
                return cell
        known = ", ".join(c.grade_id for c in self.cells if c.grade_id)
        raise KeyError(f"{self.lesson_id} has no cell with grade_id {grade_id!r}; known: {known}")

    @property
    def code_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.cell_type == "code"]

    @property
    def grade_test_ids(self) -> list[str]:
        return [c.grade_id for c in self.code_cells if c.is_grade_test]

    @property
    def answer_ids(self) -> list[str]:
        """grade_ids of the code cells the student writes in."""
        return [c.grade_id for c in self.code_cells if c.is_answer]

    def definitions(self) -> list[tuple[Cell, str]]:
        """(cell, the source to run) of every cell the namespace is built from."""
        student: set[str] = set()
        data: set[str] = set()
        plan = []
        for cell in self.code_cells:
            if cell.is_grade_test:
                continue
            if cell.is_answer:
                student |= bound_names(ast.parse(cell.source))
                plan.append((cell, cell.source))
            else:
                source, student = split_demo(cell.source, student, data)
                plan.append((cell, source))
        return plan

    def namespace(self) -> dict:
        """The lesson's definitions, built once (cached): answers, set-up, helpers."""
        if self._namespace is None:
            self._namespace = self._run(self.definitions(), {"__name__": "__main__"})
        return self._namespace

    def namespace_with(self, *names: str) -> dict:
        """A copy of the namespace in which the demos that bind `names` also ran."""
        scratch = copy.copy(self.namespace())
        wanted = set(names)
        plan = [
            (cell, cell.source)
            for cell in self.code_cells
            if not cell.is_grade_test
            and not cell.is_answer
            and bound_names(ast.parse(cell.source)) & wanted
        ]
        return self._run(plan, scratch)

    def _run(self, plan: list[tuple[Cell, str]], namespace: dict) -> dict:
        os.environ.setdefault("MPLBACKEND", "Agg")
        import matplotlib.pyplot as plt

        previous_dir = Path.cwd()
        os.chdir(self.path.parent)
        try:
            for cell, source in plan:
                try:
                    _execute(cell, namespace, self.lesson_id, source)
                except Exception as error:
                    trace = "".join(traceback.format_exception(error))
                    raise CellFailed(
                        f"{self.lesson_id}: cell {cell.index} ({cell.grade_id}) raised:\n"
                        f"{textwrap.indent(source, '    ')}\n{trace}"
                    ) from error
                plt.close("all")
        finally:
            os.chdir(previous_dir)
        return namespace

    # ----------------------------------------------------------------------- re-grading

    def run_cells(self, namespace: dict, grade_ids: list[str]) -> dict[str, BaseException | None]:
        """Run the named cells in a copy of `namespace`; what each raised, or None."""
        scratch = copy.copy(namespace)
        return {gid: self._try(self.cell(gid), scratch) for gid in grade_ids}

    def _try(self, cell: Cell, namespace: dict) -> BaseException | None:
        previous_dir = Path.cwd()
        os.chdir(self.path.parent)
        try:
            _execute(cell, namespace, self.lesson_id)
        except Exception as error:  # the caller inspects it
            return error
        finally:
            os.chdir(previous_dir)
        return None

    def with_seed_offset(self, grade_id: str, offset: int) -> Cell:
        """Grade cell `grade_id` with every `seed=N` in it replaced by `seed=N + offset`.

        Everything else (thresholds, budgets) is the lesson's own text, so a seed
        sweep proves exactly what the grader checks.
        """
        cell = self.cell(grade_id)
        if not SEED_ARGUMENT.search(cell.source):
            raise ValueError(f"{grade_id} passes no seed=N to anything: nothing to sweep")
        shifted = SEED_ARGUMENT.sub(lambda m: f"seed={int(m.group(1)) + offset}", cell.source)
        return cell.with_source(shifted)

    def run_with_seed_offset(self, grade_id: str, offset: int) -> BaseException | None:
        """Run the real grade cell with its seeds shifted, in a copy of the namespace."""
        return self._try(self.with_seed_offset(grade_id, offset), copy.copy(self.namespace()))

    def with_mistake(self, namespace: dict, answer_id: str, old: str, new: str) -> dict:
        """A copy of `namespace` in which answer cell `answer_id` ran with `old` -> `new`."""
        answer = self.cell(answer_id)
        if old not in answer.source:
            raise ValueError(
                f"the mistake to inject is stale: {old!r} does not occur in cell {answer_id!r}"
            )
        scratch = copy.copy(namespace)
        _execute(answer, scratch, self.lesson_id, answer.source.replace(old, new))
        return scratch

    def quiz_score(self, namespace: dict, old: str | None = None, new: str | None = None) -> float:
        """The points the quiz's grade cell gives (its last line), its answers edited old -> new."""
        scratch = self.with_mistake(namespace, "quiz", old, new) if old else copy.copy(namespace)
        return cell_result(self.cell("test_quiz").source, scratch, "<test_quiz>")

    def mistake_errors(
        self, answer_id: str, old: str, new: str, grade_id: str
    ) -> tuple[BaseException | None, BaseException | None]:
        """(what grade cell `grade_id` raises, what its visible part raises: the student's
        copy, hidden tests removed, as Validate runs it) with the mistake old -> new in
        answer cell `answer_id`; None for a cell that passes.

        Both start with the cell's lines before its hidden tests; when those lines raise
        on their own, both raise just that (a grade cell seeds what it uses), so one run
        of them answers for the two: a training exercise's mistake is trained once.
        """
        cell = self.cell(grade_id)

        def run(source: str) -> BaseException | None:
            scratch = self.with_mistake(self.namespace(), answer_id, old, new)
            return self._try(cell.with_source(source), scratch)

        shared = cell.source.split(HIDDEN_TESTS, 1)[0]
        if shared != cell.source and compiles(shared):
            error = run(shared)
            if error is not None:
                return error, error
        return run(cell.source), run(visible_part(cell.source))

    def assert_mistake_caught(
        self,
        answer_id: str,
        old: str,
        new: str,
        failing: list[str],
        passing: list[str] = (),
        message_contains: str | None = None,
    ) -> dict[str, BaseException | None]:
        """Inject a mistake; its exercise's tests must fail helpfully, the others pass.

        The cells run in throw-away copies of the lesson's namespace, as they would
        in the student's kernel, so the lesson's own namespace stays clean. Returns
        what the visible part of each failing cell raised (see `mistake_errors`).
        """
        visible = {}
        for gid in failing:
            error, visible[gid] = self.mistake_errors(answer_id, old, new, gid)
            assert error is not None, f"{gid} passed although {answer_id} holds {new!r}"
            assert isinstance(error, AssertionError), (
                f"{gid} crashed instead of failing an assertion: {error!r}"
            )
            message = str(error)
            assert len(message) > 20, f"{gid} fails with an unhelpful message: {message!r}"
            if message_contains:
                assert message_contains.lower() in message.lower(), (
                    f"{gid}'s message does not mention {message_contains!r}: {message}"
                )
        scratch = self.with_mistake(self.namespace(), answer_id, old, new)
        for gid in passing:
            error = self._try(self.cell(gid), scratch)
            assert error is None, f"{gid} should be unaffected by the mistake but raised {error!r}"
        return visible


def compiles(source: str) -> bool:
    """Whether `source` is complete Python (a cell cut at its hidden tests may not be)."""
    try:
        compile(source, "<part of a cell>", "exec")
    except SyntaxError:
        return False
    return True


def lesson_ids() -> list[str]:
    """Every lesson in solutions/, in course order."""
    return course.lesson_ids(course.REPO)


# --------------------------------------------------------------------------- mistake tables


@dataclass(frozen=True)
class Mistake:
    """One row of a mistake table: answer text `old` replaced by `new`.

    The grade cell must fail with a message that contains `words`. Its visible part
    (what Validate runs) must fail too, unless `hidden_only` says why no small
    hand-computed case can catch this mistake (a wrong quiz value, a threshold).
    """

    old: str
    new: str
    words: str
    hidden_only: str | None = None


@dataclass(frozen=True)
class MistakeTable:
    """tests/mistakes/<lesson>.py: the typical mistakes of each answer cell of a lesson.

    MISTAKES = {answer grade_id: [(old text, new text, words the failure message
    must contain[, why only the hidden tests catch it])]}: the mistake fails
    `test_<answer grade_id>` with a message that contains the words, and every
    CHEAP test cell but that one still passes. A row without the fourth item must
    also fail the grade cell's visible part (the student's Validate).
    SEED_SWEEPS = {grade cell: number of seed offsets}: the real grade cell passes
    with its seeds shifted by 0, 1, ... (10 for every training exercise).
    """

    lesson_id: str
    mistakes: dict[str, list[Mistake]]
    cheap: list[str]
    seed_sweeps: dict[str, int]

    @property
    def rows(self) -> list[Mistake]:
        return [row for rows in self.mistakes.values() for row in rows]

    def visible_share(self) -> float:
        """The share of rows that the visible tests are meant to catch."""
        rows = self.rows
        return sum(row.hidden_only is None for row in rows) / len(rows) if rows else 1.0


@cache
def mistake_table(lesson_id: str) -> MistakeTable:
    path = MISTAKE_TABLES / f"{lesson_id}.py"
    if not path.is_file():
        raise FileNotFoundError(
            f"{lesson_id} has no mistake table: write {path.relative_to(TESTS.parent)} "
            "(see AUTHORING.md)"
        )
    spec = importlib.util.spec_from_file_location(f"mistakes_{lesson_id}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    mistakes = {
        answer_id: [Mistake(*row) for row in rows] for answer_id, rows in module.MISTAKES.items()
    }
    return MistakeTable(
        lesson_id, mistakes, list(module.CHEAP), dict(getattr(module, "SEED_SWEEPS", {}))
    )


def grade_cell_of(answer_id: str) -> str:
    """The grade cell that tests an answer cell: `test_<answer grade_id>`."""
    return f"test_{answer_id}"
