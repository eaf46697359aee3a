"""Test helpers live where every layer may import them: ``tests/support``.

A test module may import a helper from its own folder (or a folder below it, such as the lab's
``netlab``), and anything from ``tests/support``; never a helper from another test folder,
never a ``test_*`` module (its tests would belong to two places), and ``tests/support`` and
``bench/`` import nothing of the tests but ``tests/support``. The imports are read with
``ast`` (tests.support.imports), nothing is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tests.support.imports import discover, import_graph

REPO = Path(__file__).resolve().parents[2]
TREES = {"tests": REPO / "tests", "bench": REPO / "bench"}
SUPPORT = "tests.support"


def _folder(module: str, packages: set[str]) -> str:
    return module if module in packages else module.rpartition(".")[0]


def _within(module: str, folder: str) -> bool:
    return module == folder or module.startswith(folder + ".")


def misplaced(graph: Mapping[str, set[str]], packages: set[str]) -> list[str]:
    """``importer → imported: why`` for every import of the tests that breaks the layout."""
    found = []
    for importer, imported in sorted(graph.items()):
        here = _folder(importer, packages)
        for target in sorted(imported):
            if not _within(target, "tests"):
                continue  # the code under test, bench's own modules, the standard library
            if target.rpartition(".")[2].startswith("test_"):
                why = "a test module is no helper"
            elif _within(target, SUPPORT):
                continue
            elif _within(importer, SUPPORT) or _within(importer, "bench"):
                where = "tests/support" if _within(importer, SUPPORT) else "bench"
                why = f"{where}/ imports only {SUPPORT} of the tests"
            elif not _within(_folder(target, packages), here):
                why = "a helper of another test folder: move it to tests/support"
            else:
                continue
            found.append(f"{importer} → {target}: {why}")
    return found


def _check(trees: Mapping[str, Path]) -> list[str]:
    modules = discover(trees)
    packages = {name for name, path in modules.items() if path.name == "__init__.py"}
    return misplaced(import_graph(trees), packages)


def test_every_test_helper_is_imported_from_its_own_folder_or_tests_support() -> None:
    assert _check(TREES) == []


def test_the_layout_check_names_each_kind_of_misplaced_import(tmp_path: Path) -> None:
    files = {
        "tests/__init__.py": "",
        "tests/support/__init__.py": "",
        "tests/support/net.py": "from tests.support import imports\n",
        "tests/support/imports.py": "from tests.unit.a import helpers\n",  # support → a test folder
        "tests/unit/__init__.py": "",
        "tests/unit/a/__init__.py": "",
        "tests/unit/a/helpers.py": "",
        "tests/unit/a/test_one.py": "from tests.unit.a.helpers import x\nimport json\n",
        "tests/unit/a/test_two.py": "from tests.unit.a.test_one import f\n",  # a test module
        "tests/unit/a/deep/__init__.py": "",
        "tests/unit/a/deep/test_three.py": "from tests.unit.a import helpers\n",  # from above
        "tests/unit/b/__init__.py": "",
        "tests/unit/b/test_four.py": (
            "from tests.support.net import y\n"
            "def later():\n    from tests.unit.a.deep import test_three\n"  # function level
        ),
        "tests/lab/__init__.py": "",
        "tests/lab/test_five.py": "from tests.lab.netlab.ns import Namespace\n",  # below: fine
        "tests/lab/netlab/__init__.py": "",
        "tests/lab/netlab/ns.py": "import tests.unit.a.helpers\n",  # another folder
        "bench/__init__.py": "",
        "bench/run.py": "from tests.support import net\nfrom tests.lab.netlab import ns\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert _check({"tests": tmp_path / "tests", "bench": tmp_path / "bench"}) == [
        "bench.run → tests.lab.netlab.ns: bench/ imports only tests.support of the tests",
        "tests.lab.netlab.ns → tests.unit.a.helpers: "
        "a helper of another test folder: move it to tests/support",
        "tests.support.imports → tests.unit.a.helpers: "
        "tests/support/ imports only tests.support of the tests",
        "tests.unit.a.deep.test_three → tests.unit.a.helpers: "
        "a helper of another test folder: move it to tests/support",
        "tests.unit.a.test_two → tests.unit.a.test_one: a test module is no helper",
        "tests.unit.b.test_four → tests.unit.a.deep.test_three: a test module is no helper",
    ]
