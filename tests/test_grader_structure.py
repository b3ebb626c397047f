"""The grader's shape stays as designed: imports point one way, private names stay home.

Read from the source with `ast` (nothing is imported): every `import grader.x`,
`from grader import x` and `from grader.x import y` of a module in grader/,
at its top or inside a function, is an edge of the import graph.
"""

from __future__ import annotations

import ast

from course_tools import REPO

GRADER = REPO / "grader"
KERNEL_SIDE = ("course", "limits", "sandbox", "guard", "submission", "feedback")
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


def modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text()) for path in sorted(GRADER.glob("*.py"))}


def grader_imports(tree: ast.Module) -> dict[str, set[str]]:
    """{grader module imported: names taken from it} (an empty set: the module itself)."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("grader."):
                    found.setdefault(alias.name.split(".")[1], set())
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "grader":
                for alias in node.names:
                    found.setdefault(alias.name, set())
            elif node.module.startswith("grader."):
                names = {alias.name for alias in node.names}
                found.setdefault(node.module.split(".")[1], set()).update(names)
    return found


def module_aliases(tree: ast.Module, known: set[str]) -> dict[str, str]:
    """{local name: grader module} of `from grader import x [as y]` and `import grader.x as y`."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "grader":
            for alias in node.names:
                if alias.name in known:
                    aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("grader.") and alias.asname:
                    aliases[alias.asname] = alias.name.split(".")[1]
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
    sample = ast.parse("from grader import sandbox\nsandbox._bwrap()\n")
    assert module_aliases(sample, {"sandbox"}) == {"sandbox": "sandbox"}, "the check works"


def test_the_preflight_key_covers_the_code_that_decides_a_grade_and_nothing_else():
    from grader.preflight import GRADING_CODE

    trees = modules()
    graph = {name: set(grader_imports(tree)) & set(trees) for name, tree in trees.items()}
    needed, todo = set(), ["grade_one", "guard", "submission", "preflight", "release"]
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo += sorted(graph[name])
    assert {f"{name}.py" for name in needed} == set(GRADING_CODE)
    assert not {"hub.py", "hub_demo.py", "demo.py", "autograde.py"} & set(GRADING_CODE)
