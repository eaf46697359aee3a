"""The imports of a tree of Python packages, read with ``ast`` (nothing is imported).

Module level and inside functions count; ``if TYPE_CHECKING:`` blocks are left out (they never
run). Used by the import-cycle test and by the test-layout test.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path


def discover(packages: Mapping[str, Path]) -> dict[str, Path]:
    """Every module of the given packages by dotted name (a package by its own name)."""
    modules: dict[str, Path] = {}
    for name, root in packages.items():
        for path in sorted(root.rglob("*.py")):
            parts = [name, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _import_nodes(nodes: Iterable[ast.AST]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except under ``if TYPE_CHECKING:``."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))


def _base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    anchor = package[: len(package) - (node.level - 1)]
    return ".".join([*anchor, node.module] if node.module else anchor)


def imports_of(module: str, path: Path, known: Iterable[str]) -> set[str]:
    """The known modules ``module`` (at ``path``) imports; ``from pkg import name`` counts
    as importing ``pkg.name`` when that is a module, else as importing ``pkg``."""
    names = set(known)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(), str(path)).body):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = _base(module, is_package, node)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in names else base
                for alias in node.names
            ]
        for target in targets:
            # ``import a.b.c`` where only ``a.b`` is ours (an attribute, say): the deepest
            # known module on the dotted path is what runs.
            while target and target not in names:
                target = target.rpartition(".")[0]
            if target:
                found.add(target)
    return found


def import_graph(packages: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module → the modules of ``packages`` it imports."""
    modules = discover(packages)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}
