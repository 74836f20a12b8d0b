"""The import graph of pilot/ keeps one direction of flow (issue 14, docs/architecture.md).

Every import in pilot/ — at module level and inside functions — is read with `ast` and reduced to
an edge between packages (pilot/ingest/services.py is "ingest", pilot/access.py is "access").
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "pilot"

WRITE_SIDE = {"ingest", "feedback", "flagging", "review"}
READ_SIDE = {"analytics", "readiness"}
# Composition roots wire capabilities together and may import anything; nothing else imports them
# and they take no part in the cycle check.
COMPOSITION_ROOTS = {"pilot", "cli", "demo", "worker.jobs", "worker.cron_config"}  # cron_config: `rq cron`

def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _exists(module: str) -> bool:
    path = ROOT.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imports(path: Path) -> list[tuple[str, int]]:
    """(imported pilot module, line) for every import in the file, wherever it sits."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub if _exists(sub) else base, node.lineno))
    return [(name, line) for name, line in found if name == "pilot" or name.startswith("pilot.")]


def layer(module: str) -> str:
    """The package a module belongs to: its first part under pilot/, or a composition root."""
    if module == "pilot" or module in {f"pilot.{root}" for root in COMPOSITION_ROOTS}:
        return module.removeprefix("pilot.")
    parts = module.split(".")
    return parts[1]


def import_edges() -> list[tuple[str, str, str, str, str]]:
    """(from package, to package, from module, to module, file:line) for every cross-package import."""
    edges = []
    for path in sorted(ROOT.rglob("*.py")):
        source = _module_name(path)
        for target, line in _imports(path):
            if layer(source) != layer(target):
                where = f"{path.relative_to(ROOT.parent)}:{line}"
                edges.append((layer(source), layer(target), source, target, where))
    return edges


def _say(edges) -> str:
    return "\n".join(f"  {where}: {source} -> {target}" for _, _, source, target, where in edges)


def test_the_walk_sees_function_level_imports():
    # pilot/worker/jobs.py imports its capabilities inside the job functions
    assert any(src == "worker.jobs" and dst == "flagging" for src, dst, *_ in import_edges())


def test_write_side_never_imports_read_side():
    crossing = [e for e in import_edges() if e[0] in WRITE_SIDE and e[1] in READ_SIDE]
    assert not crossing, "write side imports the read side:\n" + _say(crossing)


def test_pricing_is_imported_downward_only():
    upward = [e for e in import_edges() if e[0] == "pricing"
              and e[1] not in {"audit", "extensions", "models", "text"}]
    assert not upward, "pilot/pricing imports a capability:\n" + _say(upward)
    assert any(e[1] == "pricing" for e in import_edges() if e[0] == "ingest")
    assert any(e[1] == "pricing" for e in import_edges() if e[0] == "analytics")


def test_only_composition_roots_import_composition_roots():
    upward = [e for e in import_edges() if e[1] in COMPOSITION_ROOTS and e[0] not in COMPOSITION_ROOTS]
    assert not upward, "a capability imports a composition root (name worker jobs by dotted string):\n" + _say(upward)


def test_no_view_module_is_imported_by_another_package():
    """Views are leaves: constants and helpers they share sit beside their services."""
    into_views = [e for e in import_edges() if e[3].endswith(".views") and e[0] not in COMPOSITION_ROOTS]
    assert not into_views, "another package imports a views module:\n" + _say(into_views)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle in the graph as a list of packages, or None (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_cycle_among_packages():
    edges = [e for e in import_edges()
             if e[0] not in COMPOSITION_ROOTS and e[1] not in COMPOSITION_ROOTS]
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target, *_ in edges:
        graph[source].add(target)
    cycle = _cycle(graph)
    if cycle:
        steps = zip(cycle, cycle[1:])
        detail = [e for a, b in steps for e in edges if (e[0], e[1]) == (a, b)]
        pytest.fail("import cycle " + " -> ".join(cycle) + ":\n" + _say(detail))
