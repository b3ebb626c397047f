"""Run a lesson's source in this process, so tests can reuse what it defined.

A lesson (`solutions/NN_topic/NN_topic.py`) is executed once per test session:
its code cells run in order in one globals dict. Tests then call the lesson's
functions directly, or re-run single cells, for example a grade cell after an
answer cell was changed to hold a typical student mistake.
"""

from __future__ import annotations

import copy
import os
import textwrap
import traceback
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jupytext

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"


@dataclass(frozen=True)
class Cell:
    """One cell of a lesson source."""

    index: int
    cell_type: str
    source: str
    nbgrader: dict

    @property
    def grade_id(self) -> str | None:
        return self.nbgrader.get("grade_id")

    @property
    def is_grade_test(self) -> bool:
        """An autograded test cell: graded, and not an answer the student writes."""
        return bool(self.nbgrader.get("grade")) and not self.nbgrader.get("solution")

    @property
    def is_answer(self) -> bool:
        return bool(self.nbgrader.get("solution"))


class CellFailed(RuntimeError):
    """A lesson cell raised while the whole lesson was being executed."""


def read_cells(path: Path) -> list[Cell]:
    """Parse a py:percent lesson into cells, keeping nbgrader's metadata."""
    notebook = jupytext.read(path)
    return [
        Cell(i, c.cell_type, c.source, dict(c.metadata.get("nbgrader", {})))
        for i, c in enumerate(notebook.cells)
    ]


def _execute(cell: Cell, namespace: dict, lesson_id: str) -> None:
    code = compile(cell.source, f"<{lesson_id} cell {cell.index} {cell.grade_id or ''}>", "exec")
    exec(code, namespace)


class Lesson:
    """A lesson source, its cells and a cached run of all of them."""

    def __init__(self, lesson_id: str, path: Path):
        self.lesson_id = lesson_id
        self.path = path
        self.cells = read_cells(path)
        self._namespace: dict | None = None

    @classmethod
    @cache
    def load(cls, lesson_id: str) -> Lesson:
        """The lesson `solutions/<lesson_id>/<lesson_id>.py` (one object per id)."""
        path = SOLUTIONS / lesson_id / f"{lesson_id}.py"
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

    def namespace(self) -> dict:
        """Execute every code cell once (cached) and return the globals they built."""
        if self._namespace is None:
            self._namespace = self._run_all()
        return self._namespace

    def _run_all(self) -> dict:
        os.environ.setdefault("MPLBACKEND", "Agg")
        import matplotlib.pyplot as plt

        namespace: dict = {"__name__": "__main__"}
        previous_dir = Path.cwd()
        os.chdir(self.path.parent)
        try:
            for cell in self.code_cells:
                try:
                    _execute(cell, namespace, self.lesson_id)
                except Exception as error:
                    trace = "".join(traceback.format_exception(error))
                    raise CellFailed(
                        f"{self.lesson_id}: cell {cell.index} ({cell.grade_id}) raised:\n"
                        f"{textwrap.indent(cell.source, '    ')}\n{trace}"
                    ) from error
                plt.close("all")
        finally:
            os.chdir(previous_dir)
        return namespace

    def run_cells(self, namespace: dict, grade_ids: list[str]) -> dict[str, BaseException | None]:
        """Run the named cells in a copy of `namespace`; what each raised, or None."""
        scratch = copy.copy(namespace)
        return {gid: self._try(self.cell(gid), scratch) for gid in grade_ids}

    def _try(self, cell: Cell, namespace: dict) -> BaseException | None:
        try:
            _execute(cell, namespace, self.lesson_id)
        except Exception as error:  # the caller inspects it
            return error
        return None

    def with_mistake(self, namespace: dict, answer_id: str, old: str, new: str) -> dict:
        """A copy of `namespace` in which answer cell `answer_id` ran with `old` -> `new`."""
        answer = self.cell(answer_id)
        if old not in answer.source:
            raise ValueError(
                f"the mistake to inject is stale: {old!r} does not occur in cell {answer_id!r}"
            )
        broken = Cell(
            answer.index, answer.cell_type, answer.source.replace(old, new), answer.nbgrader
        )
        scratch = copy.copy(namespace)
        _execute(broken, scratch, self.lesson_id)
        return scratch

    def assert_mistake_caught(
        self,
        answer_id: str,
        old: str,
        new: str,
        failing: list[str],
        passing: list[str] = (),
        message_contains: str | None = None,
    ) -> None:
        """Inject a mistake; its exercise's tests must fail helpfully, the others pass.

        The cells run in one throw-away copy of the lesson's namespace, as they
        would in the student's kernel, so the lesson's own namespace stays clean.
        """
        scratch = self.with_mistake(self.namespace(), answer_id, old, new)
        for gid in failing:
            error = self._try(self.cell(gid), scratch)
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
        for gid in passing:
            error = self._try(self.cell(gid), scratch)
            assert error is None, f"{gid} should be unaffected by the mistake but raised {error!r}"


def lesson_ids() -> list[str]:
    """Every lesson in solutions/, in course order."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if (p / f"{p.name}.py").exists())
