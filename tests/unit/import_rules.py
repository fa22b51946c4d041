"""The layering rules of ``docs/architecture.md``, as a check over a module import graph.

The graph is read from the source with ``ast`` (function-local imports included, because a lazy
import is still a dependency), so the check needs no import side effects and sees every module,
even one no test loads. ``violations`` takes the graph as plain data, so a test can feed it a
made-up graph and see each rule fail.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOP_PACKAGES = ("schemas", "services")

# Libraries that talk to the outside world (or are the store's library): the domain imports none.
IO_LIBRARIES = frozenset({"psycopg", "psycopg_pool", "fastapi", "starlette", "uvicorn", "aiokafka", "faststream",
                          "httpx", "eventsourcing", "jwt", "websockets", "socket", "subprocess", "asyncio",
                          "urllib", "http", "requests", "smtplib", "aiosmtplib", "aiosmtpd"})
APP_FACTORIES = ("services.command_api.app", "services.query_api.app", "services.gateway")
DEV_TOOLING = "services.dev"
DOC_GENERATORS = "services.docsgen"
DOMAIN = "services.domain"
MONITOR = "services.monitor"  # the run monitor's static server: web framework and stdlib only


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _targets(node: ast.AST, module: str, is_package: bool, known: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    assert isinstance(node, ast.ImportFrom)
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    found = []
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        found.append(candidate if candidate in known else base)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> every module it imports (first-party modules by full name, others by full name too)."""
    files = {module_name(p): p for top in TOP_PACKAGES for p in (root / top).rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        graph[module] = {target for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                         for target in _targets(node, module, is_package, known)}
    return graph


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _first_party(module: str) -> bool:
    return module.split(".")[0] in TOP_PACKAGES


def closure(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` reaches through first-party imports (third-party names included as leaves)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                if _first_party(target):
                    todo.append(target)
    return seen


def _owners(graph: dict[str, set[str]]) -> dict[str, str]:
    """Module -> the package it belongs to (a package's ``__init__`` belongs to the package itself)."""
    packages = {parent for module in graph for parent in _parents(module)}
    return {module: module if module in packages else module.rsplit(".", 1)[0] for module in graph}


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def package_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of two or more packages (Tarjan over the package graph)."""
    owner = _owners(graph)
    edges: dict[str, set[str]] = {}
    for module, targets in graph.items():
        for target in targets:
            if target in graph and owner[target] != owner[module]:
                edges.setdefault(owner[module], set()).add(owner[target])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Every broken rule, one line each (empty when the layering holds)."""
    found: list[str] = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            top = target.split(".")[0]
            if _within(module, "schemas") and _within(target, "services"):
                found.append(f"{module} -> {target}: schemas import nothing from services")
            if _within(module, DOMAIN) and _first_party(target) and not (
                    _within(target, "schemas") or _within(target, DOMAIN)):
                found.append(f"{module} -> {target}: the domain imports only schemas and itself")
            if _within(module, DOMAIN) and top in IO_LIBRARIES:
                found.append(f"{module} -> {target}: the domain does no I/O")
            if _within(target, DOC_GENERATORS) and not _within(module, DOC_GENERATORS):
                found.append(f"{module} -> {target}: nothing at run time imports the doc generators")
            if _within(module, MONITOR) and _first_party(target) and not _within(target, MONITOR):
                found.append(f"{module} -> {target}: the monitor's server imports no other agentloom code")
            if _within(module, MONITOR) and top in IO_LIBRARIES and top not in ("fastapi", "starlette"):
                found.append(f"{module} -> {target}: the monitor's server needs only fastapi, starlette and stdlib")
    for module in sorted(m for m in graph if _within(m, "services.query_api")):
        reached = closure(graph, module)
        for forbidden in ("services.command_api", "services.executor", "eventsourcing"):
            if any(_within(r, forbidden) for r in reached):
                found.append(f"{module} reaches {forbidden}: the query API imports no command, executor or "
                             "eventsourcing code")
    for factory in APP_FACTORIES:
        if factory in graph and any(_within(r, DEV_TOOLING) for r in closure(graph, factory)):
            found.append(f"{factory} reaches {DEV_TOOLING}: no app factory imports dev tooling")
    for group in package_cycles(graph):
        found.append(f"import cycle between packages: {' <-> '.join(group)}")
    return found
