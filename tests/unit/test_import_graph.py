"""The import graph of the hub's own packages: no cycle, and no module importing a route module except the
app factory. Routes sit on top; the domain, the live room and the realtime edge import downward only.

For cycles only imports that run when a module is imported count: those of the module body and of its
module-level `if`/`try`/`with` blocks. For the route rule an import inside a function counts too (a lazy
import of a route is still a route import). Imports guarded by `TYPE_CHECKING` never run and are left out of
both."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hub", "channels", "persistence")
APP_FACTORY = "hub.app"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _run_time_imports(body: list[ast.stmt], *, in_functions: bool = False) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports a module executes when it is imported: its body's, and those in `if`/`try`/`with`
    blocks at module level, but not under `if TYPE_CHECKING:`; with `in_functions`, also those in the bodies
    of functions and classes (run later, or never)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _run_time_imports(node.body, in_functions=in_functions)
            yield from _run_time_imports(node.orelse, in_functions=in_functions)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _run_time_imports(block, in_functions=in_functions)
        elif isinstance(node, ast.With | ast.AsyncWith):
            yield from _run_time_imports(node.body, in_functions=in_functions)
        elif in_functions and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield from _run_time_imports(node.body, in_functions=True)


def _resolve(module: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    """The project modules `node` imports: for `from a.b import c`, `a.b.c` when that is a module, else `a.b`."""
    if isinstance(node, ast.Import):
        targets = {alias.name for alias in node.names}
    else:
        base = node.module or ""
        if node.level:
            anchor = module.split(".") if is_package else module.split(".")[:-1]
            anchor = anchor[:len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        targets = {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}
    found = set()
    for target in targets:
        # `import a.b.c` also imports `a` and `a.b`; the innermost known module names the edge.
        parts = target.split(".")
        while parts and ".".join(parts) not in known:
            parts.pop()
        if parts:
            found.add(".".join(parts))
    return found


def graph_of(sources: dict[str, tuple[str, bool]], *, in_functions: bool = False) -> dict[str, set[str]]:
    """Module → the project modules it imports, from module → (source text, is a package)."""
    known = set(sources)
    graph: dict[str, set[str]] = {}
    for module, (text, is_package) in sources.items():
        graph[module] = set()
        for node in _run_time_imports(ast.parse(text).body, in_functions=in_functions):
            graph[module] |= _resolve(module, is_package, node, known) - {module}
    return graph


def _sources() -> dict[str, tuple[str, bool]]:
    return {_module_name(path): (path.read_text(), path.name == "__init__.py")
            for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def import_graph(*, in_functions: bool = False) -> dict[str, set[str]]:
    return graph_of(_sources(), in_functions=in_functions)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path `a → b → … → a`, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def is_route_module(module: str) -> bool:
    return module.startswith("hub.api.") or module == "hub.realtime.websocket"


def route_importers(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{module} imports {target}" for module, targets in graph.items() if module != APP_FACTORY
                  for target in targets if is_route_module(target) and not module.startswith("hub.api."))


def test_the_import_graph_has_no_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_only_the_app_factory_imports_route_modules() -> None:
    assert route_importers(import_graph(in_functions=True)) == []


def test_route_modules_do_not_import_each_other() -> None:
    graph = import_graph()
    crossing = sorted(f"{module} imports {target}" for module, targets in graph.items()
                      if is_route_module(module) for target in targets if is_route_module(target))
    assert crossing == []


def test_a_domain_module_importing_a_route_is_caught() -> None:
    graph = {"hub.app": {"hub.api.posts"}, "hub.api.posts": {"hub.domain.posts"}, "hub.domain.posts": set()}
    assert route_importers(graph) == [] and find_cycle(graph) is None
    graph["hub.domain.posts"] = {"hub.api.posts"}
    assert route_importers(graph) == ["hub.domain.posts imports hub.api.posts"]
    assert find_cycle(graph) == ["hub.api.posts", "hub.domain.posts", "hub.api.posts"]


def test_route_imports_are_found_in_source_in_every_spelling() -> None:
    # Parsed from source, so the resolution of each spelling is what is under test, not a hand-built graph.
    package = ("", True)
    sources = {
        "hub": package, "hub.api": package, "hub.api.posts": ("", False), "hub.domain": package,
        "hub.domain.a": ("from hub.api import posts\n", False),
        "hub.domain.b": ("from ..api.posts import x\n", False),
        "hub.domain.c": ("def later():\n    import hub.api.posts\n", False),
        "hub.domain.d": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from hub.api import posts\n", False),
    }
    assert route_importers(graph_of(sources, in_functions=True)) == [
        "hub.domain.a imports hub.api.posts", "hub.domain.b imports hub.api.posts",
        "hub.domain.c imports hub.api.posts"]
    # A function's import runs later: it cannot make an import-time cycle.
    assert "hub.api.posts" not in graph_of(sources)["hub.domain.c"]
