"""A lesson's functions and classes as a Python module, without running its demos.

The bench trains and times what the lessons define (lesson 01's `run_testbed`,
lesson 04's `train_a2c`...). It reads the lesson's py:percent source and
executes, from each code cell that is not a grade cell, only the top-level
statements that define something: imports, functions, classes (dataclasses
included) and assignments to UPPER_CASE names (`DEVICE = rlhelpers.device()`).
Everything else (demo runs, plots, prints) is left out, so loading a lesson
takes a second, whatever its demos cost. Lesson code that needs a demo's
variable at call time would fail with a NameError naming it.
"""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path

import jupytext

from grader import course
from grader.course import REPO


def is_constant_name(name: str) -> bool:
    """DEVICE, A2C_SEEDS: a module constant by the lessons' naming habit."""
    return name.isupper()


def _assigned_names(node: ast.stmt) -> list[str] | None:
    """The plain names an assignment binds, or None when it binds anything else."""
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names = []
    for target in targets:
        if not isinstance(target, ast.Name):
            return None
        names.append(target.id)
    return names


def is_definition(node: ast.stmt) -> bool:
    """An import, a def or class, or an assignment to UPPER_CASE names only."""
    if isinstance(
        node,
        ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
    ):
        return True
    if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
        names = _assigned_names(node)
        return bool(names) and all(is_constant_name(name) for name in names)
    return False


def _python_source(cell_source: str) -> str:
    """The cell as plain Python (IPython magics translated, as a kernel would)."""
    try:
        ast.parse(cell_source)
        return cell_source
    except SyntaxError:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(cell_source)


def definitions(source: Path) -> str:
    """The definition statements of a lesson source's code cells, in order, as one module."""
    notebook = jupytext.read(source)
    kept = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or course.is_grade_test(cell):
            continue
        python = _python_source(cell.source)
        lines = python.splitlines()
        for node in ast.parse(python).body:
            if is_definition(node):
                first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
                kept.append("\n".join(lines[first - 1 : node.end_lineno]))
    return "\n\n".join(kept) + "\n"


def load_lesson(lesson_id: str, root: Path = REPO) -> types.ModuleType:
    """The lesson's definitions executed in a fresh module `bench_lesson_<id>`."""
    source = course.source_path(root, lesson_id)
    name = f"bench_lesson_{lesson_id}"
    module = types.ModuleType(name, f"definitions of {source.name}")
    module.__file__ = str(source)
    sys.modules[name] = module  # dataclasses look their module up while they are built
    code = compile(definitions(source), str(source), "exec")
    exec(code, module.__dict__)  # noqa: S102  (the course's own lesson code)
    return module


def has_lesson(lesson_id: str, root: Path = REPO) -> bool:
    return course.source_path(root, lesson_id).is_file()
