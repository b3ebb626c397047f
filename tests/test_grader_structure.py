"""The grader's shape stays as designed: imports point one way, private names stay home.

Read from the source with `ast` (nothing is imported): every `import grader.x`,
`from grader import x` and `from grader.x import y` of a module under grader/
(any folder: dotted names such as "kernel.guard"), at its top or inside a
function, is an edge of the import graph.
"""

from __future__ import annotations

import ast
from functools import cache

from course_tools import REPO

GRADER = REPO / "grader"
KERNEL_SIDE = (
    "course",
    "limits",
    "kernel.sandbox",
    "kernel.guard",
    "kernel.submission",
    "kernel.feedback",
)
"""Modules that nbgrader's process runs (its config's preprocessors and kernel manager)."""
COORDINATOR = ("pipeline", "recording", "runners", "celery_app", "autograde", "preflight")
LAYERS = {
    "grade_one": ("pipeline", "recording", "runners", "celery_app", "autograde", "preflight"),
    "runners": ("pipeline", "recording", "autograde", "preflight"),
    "celery_app": ("pipeline", "recording", "runners", "autograde", "preflight"),
    "recording": ("pipeline", "runners", "celery_app", "autograde"),
    "preflight": ("pipeline", "recording", "runners", "celery_app", "autograde"),
    "pipeline": ("autograde",),
}
"""{module: grader modules it must not import}: pipeline -> runners -> grade_one -> course."""
SHARED = ("course", "limits")
"""The modules at grader/'s top that both sides of nbgrader's process use."""
FOLDERS_APART = {"kernel": ("hub", "demo"), "": ("hub", "demo"), "hub": ("demo",)}
"""{folder ("" the top): folders its modules must not import}: the demos use the hub and the
grading, the hub uses the grading, the grading (top and kernel/) uses neither."""
ALLOWED_ACROSS = {("report.build", "demo.classroom")}
"""(importer, imported) that FOLDERS_APART allows: the report shows the kept class demo's grades
when the course has none (`make class-demo`, then `make report`)."""


def module_name(path) -> str:
    """grader/kernel/guard.py -> "kernel.guard"; a package's __init__.py -> the package."""
    parts = path.relative_to(GRADER).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def module_paths() -> dict[str, str]:
    """{dotted module name: its path relative to grader/} of every module under grader/."""
    paths = sorted(p for p in GRADER.rglob("*.py") if "__pycache__" not in p.parts)
    return {module_name(p): p.relative_to(GRADER).as_posix() for p in paths}


def modules() -> dict[str, ast.Module]:
    return {name: ast.parse((GRADER / path).read_text()) for name, path in module_paths().items()}


def folder(name: str) -> str:
    """The folder a module lives in, relative to grader/ ("" its top; a package is its folder)."""
    if (GRADER / name.replace(".", "/") / "__init__.py").exists():
        return name.split(".")[0]
    return name.split(".")[0] if "." in name else ""


def grader_imports(tree: ast.Module) -> dict[str, set[str]]:
    """{grader module imported: names taken from it} (an empty set: the module itself)."""
    known = module_paths()
    found: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("grader."):
                    found.setdefault(alias.name.removeprefix("grader."), set())
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module != "grader" and not node.module.startswith("grader."):
                continue
            package = node.module.removeprefix("grader").removeprefix(".")
            for alias in node.names:
                submodule = f"{package}.{alias.name}" if package else alias.name
                if submodule in known:
                    found.setdefault(submodule, set())
                else:
                    found.setdefault(package, set()).add(alias.name)
    return found


def module_aliases(tree: ast.Module, known: set[str]) -> dict[str, str]:
    """{local name: grader module} of `from grader[.x] import y [as z]`, `import grader.x as y`."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "grader" or node.module.startswith("grader."):
                package = node.module.removeprefix("grader").removeprefix(".")
                for alias in node.names:
                    submodule = f"{package}.{alias.name}" if package else alias.name
                    if submodule in known:
                        aliases[alias.asname or alias.name] = submodule
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("grader.") and alias.asname:
                    aliases[alias.asname] = alias.name.removeprefix("grader.")
    return aliases


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of the graph as a path of modules, or [] when there is none."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_no_import_circle_in_grader():
    trees = modules()
    graph = {
        name: {m for m in grader_imports(tree) if m in trees and m != name}
        for name, tree in trees.items()
    }
    assert graph["pipeline"] >= {"runners", "recording", "preflight"}, "the graph is read"
    assert cycle(graph) == []
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"], "the check works"


def test_imports_point_one_way():
    trees = modules()
    wrong = []
    for name, forbidden in LAYERS.items():
        wrong += [f"{name} imports {m}" for m in grader_imports(trees[name]) if m in forbidden]
    for name in KERNEL_SIDE:
        wrong += [f"{name} imports {m}" for m in grader_imports(trees[name]) if m in COORDINATOR]
    assert wrong == []


def test_no_private_name_is_used_outside_its_module():
    trees = modules()
    used = []
    for name, tree in trees.items():
        for module, names in grader_imports(tree).items():
            used += [f"{name}: from grader.{module} import {n}" for n in names if is_private(n)]
        aliases = module_aliases(tree, set(trees))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and is_private(node.attr)
            ):
                used.append(f"{name}: {node.value.id}.{node.attr} (line {node.lineno})")
    assert used == []
    sample = ast.parse("from grader.kernel import sandbox\nsandbox._bwrap()\n")
    assert module_aliases(sample, {"kernel.sandbox"}) == {"sandbox": "kernel.sandbox"}, (
        "the check works"
    )


def test_the_preflight_key_covers_the_code_that_decides_a_grade_and_nothing_else():
    from grader.preflight import GRADING_CODE

    trees = modules()
    graph = {name: set(grader_imports(tree)) & set(trees) for name, tree in trees.items()}
    roots = ["grade_one", "kernel.guard", "kernel.submission", "preflight", "release"]
    needed, todo = set(), roots
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo += sorted(graph[name])
    assert {module_paths()[name] for name in needed} == set(GRADING_CODE)
    assert {"kernel/guard.py", "kernel/sandbox.py"} <= set(GRADING_CODE)
    assert not {"hub/layout.py", "demo/hub_term.py", "demo/classroom.py", "autograde.py"} & set(
        GRADING_CODE
    )


def folder_crossings(trees: dict[str, ast.Module]) -> list[str]:
    """Imports that FOLDERS_APART forbids, and kernel/ modules importing more than SHARED."""
    wrong = []
    for name, tree in trees.items():
        imported = [m for m in grader_imports(tree) if m in trees]
        apart = FOLDERS_APART.get(folder(name), ())
        wrong += [
            f"{name} imports {m}"
            for m in imported
            if folder(m) in apart and (name, m) not in ALLOWED_ACROSS
        ]
        if folder(name) == "kernel":
            wrong += [
                f"{name} imports {m}" for m in imported if folder(m) != "kernel" and m not in SHARED
            ]
    return wrong


def test_the_folders_hold_what_they_should():
    trees = modules()
    folders = {folder(name) for name in trees}
    assert {"", "kernel", "hub", "demo", "report"} <= folders, "the folders are read"
    assert set(KERNEL_SIDE) <= set(trees), "nbgrader's process runs these modules"
    assert folder_crossings(trees) == []
    broken = dict(trees, pipeline=ast.parse("from grader.hub import layout\n"))
    assert folder_crossings(broken) == ["pipeline imports hub.layout"], "the check works"
    broken = dict(trees, **{"kernel.guard": ast.parse("from grader import exchange\n")})
    assert folder_crossings(broken) == ["kernel.guard imports exchange"], "the check works"
