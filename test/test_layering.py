"""Layering that the imports show, read statically from the source (nothing is imported):

- ar_core never imports ar_ros (ar_core runs without ROS);
- no import cycle among ar_core's modules.

Every import statement counts, those inside functions included. `import a.b` is an edge to the module a.b (a
package: its __init__.py); `from a.b import c` is an edge to a.b.c where that is a module, else to a.b.
Relative imports are resolved against the importing module's package.
"""
from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "ar_core"
FORBIDDEN = "ar_ros"


def module_files(package: str = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `package` (a package by its __init__.py)."""
    files = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def imports(name: str, path: Path, modules: set[str]) -> list[tuple[str, int]]:
    """(imported module, line) for every import statement in module `name`, by the rules above."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                parts = package.split(".")
                base = parts[:len(parts) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.append((submodule if submodule in modules else target, node.lineno))
    return found


def import_graph() -> dict[str, dict[str, int]]:
    """ar_core module -> {ar_core module it imports: line of the first such import}."""
    files = module_files()
    graph: dict[str, dict[str, int]] = {}
    for name, path in files.items():
        graph[name] = {}
        for imported, line in imports(name, path, set(files)):
            if imported in files:
                graph[name].setdefault(imported, line)
    return graph


def strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan: the groups of modules that reach each other through imports, those of two or more (or a
    module importing itself) only."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1 or node in graph[node]:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def shortest_cycle(start: str, graph: dict[str, dict[str, int]], group: set[str]) -> list[str]:
    """start -> ... -> start through the modules of `group` (breadth first, so the shortest)."""
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph[node]):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [start, *reversed(path[:-1]), start] if node != start else [start, start]
            if target in group and target not in previous:
                previous[target] = node
                queue.append(target)
    raise AssertionError(f"{start} is on no cycle in {sorted(group)}")


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    steps = [f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])]
    return " -> ".join([*steps, cycle[-1]])


def test_ar_core_never_imports_ar_ros():
    files = module_files()
    found = [f"{path.relative_to(ROOT)}:{line}: imports {imported}"
             for name, path in files.items() for imported, line in imports(name, path, set(files))
             if imported == FORBIDDEN or imported.startswith(f"{FORBIDDEN}.")]
    assert not found, "ar_core must run without ROS, but:\n" + "\n".join(found)


def test_no_import_cycle_in_ar_core():
    graph = import_graph()
    groups = strongly_connected(graph)
    report = [f"cycle among {', '.join(group)}:\n    {describe(shortest_cycle(group[0], graph, set(group)), graph)}"
              for group in groups]
    assert not groups, "import cycles in ar_core:\n" + "\n".join(report)


def test_the_checks_see_function_level_relative_and_from_imports(tmp_path):
    # The rules themselves, on a made-up package: a cycle closed only by an import inside a function.
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from .b import thing\n")
    (package / "a.py").write_text("from .sub import b\nimport ar_ros.node\n")
    (package / "sub" / "b.py").write_text("def f():\n    from ..a import g\n")
    (package / "c.py").write_text("from pkg import sub\n")
    modules = {"pkg", "pkg.a", "pkg.c", "pkg.sub", "pkg.sub.b"}
    assert imports("pkg.a", package / "a.py", modules) == [("pkg.sub.b", 1), ("ar_ros.node", 2)]
    assert imports("pkg.sub.b", package / "sub" / "b.py", modules) == [("pkg.a", 2)]
    assert imports("pkg.sub", package / "sub" / "__init__.py", modules) == [("pkg.sub.b", 1)]
    assert imports("pkg.c", package / "c.py", modules) == [("pkg.sub", 1)]
    graph = {"pkg.a": {"pkg.sub.b": 1}, "pkg.sub.b": {"pkg.a": 2}, "pkg.sub": {"pkg.sub.b": 1}, "pkg.c": {"pkg.sub": 1}}
    assert strongly_connected(graph) == [["pkg.a", "pkg.sub.b"]]
    assert describe(shortest_cycle("pkg.a", graph, {"pkg.a", "pkg.sub.b"}), graph) == \
        "pkg.a (line 1) -> pkg.sub.b (line 2) -> pkg.a"
