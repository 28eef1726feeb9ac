"""The import graph of the hub's own packages: no cycle, and no module importing a route module except the
app factory. Routes sit on top; the domain, the live room and the realtime edge import downward only.

Only imports that run when a module is imported count: those of the module body and of its module-level
`if`/`try`/`with` blocks. Imports guarded by `TYPE_CHECKING` never run and are left out, as are imports
inside functions."""

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


def _run_time_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports a module executes when it is imported: its body's, and those in `if`/`try`/`with`
    blocks at module level, but not under `if TYPE_CHECKING:` nor in functions or classes."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _run_time_imports(node.body)
            yield from _run_time_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _run_time_imports(block)
        elif isinstance(node, ast.With):
            yield from _run_time_imports(node.body)


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


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        graph[module] = set()
        for node in _run_time_imports(tree.body):
            graph[module] |= _resolve(module, is_package, node, known) - {module}
    return graph


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
    assert route_importers(import_graph()) == []


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
