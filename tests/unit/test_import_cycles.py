"""No import circle in server/, client/ or common/: the imports are read with ``ast`` (module
level and inside functions; ``if TYPE_CHECKING:`` blocks left out, they never run) and any
strongly connected component of more than one module, or a module importing itself, fails."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.support.imports import import_graph

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {
    "waddleperf_server": REPO / "server" / "waddleperf_server",
    "waddleperf": REPO / "client" / "waddleperf",
    "waddleperf_common": REPO / "common" / "waddleperf_common",
}

Graph = Mapping[str, Iterable[str]]


def find_cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components with more than one module, and modules that import
    themselves; each sorted, the list sorted (Tarjan's algorithm, iterative)."""
    edges = {node: sorted(set(targets)) for node, targets in graph.items()}
    for targets in list(edges.values()):
        for target in targets:
            edges.setdefault(target, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
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
                    if len(component) > 1 or node in edges[node]:
                        cycles.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(edges[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return sorted(cycles)


def test_the_cycle_finder_names_every_circle_and_only_those() -> None:
    graph = {
        "a": ["b"],
        "b": ["c"],
        "c": ["a", "d"],  # a → b → c → a
        "d": ["e"],
        "e": [],
        "f": ["f"],  # imports itself
        "g": ["h", "a"],
        "h": ["g"],  # g ⇄ h, reaching into a's circle without joining it
    }
    assert find_cycles(graph) == [["a", "b", "c"], ["f"], ["g", "h"]]
    assert find_cycles({"a": ["b"], "b": ["c"], "c": []}) == []


def _write(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_walker_reads_every_kind_of_import(tmp_path: Path) -> None:
    _write(
        tmp_path / "pkg",
        {
            "__init__.py": "",
            "a.py": "def f():\n    from pkg.sub import b\n",  # function level, submodule
            "sub/__init__.py": "from .b import thing\n",  # relative, from a package
            "sub/b.py": "from .. import c\nthing = 1\n",  # two dots, name is a module
            "c.py": (
                "from typing import TYPE_CHECKING\n"
                "import pkg.d\n"
                "if TYPE_CHECKING:\n    from pkg import a\n"  # never runs: no edge
                "else:\n    import os\n"
            ),
            "d.py": "from pkg.sub import thing\nimport json\n",  # a name, not a module
            "e.py": "from . import e\n",
        },
    )
    graph = import_graph({"pkg": tmp_path / "pkg"})
    assert graph == {
        "pkg": set(),
        "pkg.a": {"pkg.sub.b"},
        "pkg.c": {"pkg.d"},
        "pkg.d": {"pkg.sub"},
        "pkg.e": {"pkg.e"},
        "pkg.sub": {"pkg.sub.b"},
        "pkg.sub.b": {"pkg.c"},
    }
    assert find_cycles(graph) == [["pkg.c", "pkg.d", "pkg.sub", "pkg.sub.b"], ["pkg.e"]]


def test_the_walker_sees_the_real_packages() -> None:
    graph = import_graph(PACKAGES)
    assert "waddleperf_common.udp_wire" in graph["waddleperf.probes.udp"]
    assert len(graph) > 100


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph(PACKAGES))
    if cycles:
        pytest.fail("import cycles: " + "; ".join(" ↔ ".join(c) for c in cycles))
