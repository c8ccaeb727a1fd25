"""The import graph of bridgebot, rules and adapters: no circles, and each layer imports
only the layers below it (docs/architecture.md, "What may import what").

Every import counts, including those under ``if TYPE_CHECKING:`` and inside functions: a
circle that only the type checker sees is still a circle for a reader.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bridgebot", "rules", "adapters")

#: Who may import whom, by module prefix: the longest matching prefix applies. A module may
#: always import its own package. The shared vocabulary (model, errors, the adapter
#: contract, pacing) sits at the bottom; composition roots (cli, demo, the test harness)
#: at the top may import anything.
VOCABULARY = ("bridgebot.model", "bridgebot.errors", "bridgebot.contract", "bridgebot.pacing")
ALLOWED: dict[str, tuple[str, ...]] = {
    "rules": ("rules", "bridgebot.model"),
    "bridgebot.model": (),
    "bridgebot.errors": (),
    "bridgebot.pacing": (),
    "bridgebot.contract": ("bridgebot.model",),
    "adapters": ("adapters", *VOCABULARY),
    "bridgebot.config": ("bridgebot.config", *VOCABULARY, "rules"),
    "bridgebot.store": ("bridgebot.store", "bridgebot.errors"),
    "bridgebot.core": (
        "bridgebot.core",
        *VOCABULARY,
        "bridgebot.config",
        "bridgebot.store",
        "rules",
    ),
    "bridgebot.admin": (
        "bridgebot.admin",
        "bridgebot.core",
        "bridgebot.store",
        "bridgebot.config",
        *VOCABULARY,
        "rules",
    ),
    "bridgebot.web": (
        "bridgebot.web",
        "bridgebot.app",
        "bridgebot.admin",
        "bridgebot.core",
        "bridgebot.store",
        "bridgebot.config",
        *VOCABULARY,
        "rules",
    ),
    "bridgebot.lab": ("bridgebot.lab", "bridgebot.pacing"),
    "bridgebot.lab.harness": ("bridgebot", "adapters", "rules"),
    "bridgebot.lab.relay": ("bridgebot", "adapters", "rules"),
    "bridgebot.app": ("bridgebot", "rules"),
    "bridgebot.cli": ("bridgebot", "adapters", "rules"),
    "bridgebot.demo": ("bridgebot", "adapters", "rules"),
    "bridgebot": ("bridgebot",),  # the package's own __init__
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    # ``from pkg import sub`` imports the submodule; ``from pkg import name`` the package.
    subs = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES]
    yield from subs
    if len(subs) < len(node.names):
        yield base


def _project_module(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        deps = graph.setdefault(module, set())
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(module, path, node):
                    found = _project_module(target)
                    if found is not None and found != module:
                        deps.add(found)
    return graph


GRAPH = _graph()


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    return circles


def _layer(module: str) -> str:
    return max((p for p in ALLOWED if module == p or module.startswith(p + ".")), key=len)


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_finds_a_planted_circle() -> None:
    """The circle finder itself: a → b → c → a is found, a tree is not."""
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_sees_every_package() -> None:
    assert {"bridgebot.core.hub", "rules.decide", "adapters.matrix.client"} <= set(GRAPH)
    assert "bridgebot.core.router" in GRAPH["bridgebot.core.hub"]


def test_no_import_circles() -> None:
    circles = _circles(GRAPH)
    assert not circles, "import circles (break each with a narrower dependency):\n" + "\n".join(
        " ↔ ".join(c) for c in circles
    )


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down(module: str) -> None:
    layer = _layer(module)
    allowed = (layer, *ALLOWED[layer])
    wrong = sorted(d for d in GRAPH[module] if not _within(d, allowed))
    assert not wrong, f"{module} (layer {layer}) may not import {', '.join(wrong)}"
