"""Which optional part of WaddlePerf (a pip extra) a command needs, and whether it is installed.

The base install is the agent and the probes; ``server``, ``load`` and ``targets`` add what
those roles import. The distributions of each extra are read back from this installation's
metadata (``[project.optional-dependencies]`` in pyproject.toml), so they are written once.
A command whose extra is missing says so in one line and exits 2 instead of failing with an
ImportError deep inside.
"""

from __future__ import annotations

import re

import typer

DIST = "waddleperf"
EXIT_USAGE = 2

_EXTRA_MARKER = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(extra: str) -> list[str]:
    """Names of the distributions ``extra`` adds to the base install ([] if unknown)."""
    from importlib import metadata  # ~0.02 s of start-up: only when a command asks

    try:
        reqs = metadata.requires(DIST) or []
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return []
    names: list[str] = []
    for req in reqs:
        spec, _, marker = req.partition(";")
        found = _EXTRA_MARKER.search(marker)
        name = _NAME.match(spec.strip())
        if found and name and _canonical(found.group(1)) == _canonical(extra):
            names.append(name.group(0))
    return names


def _installed(name: str) -> bool:
    from importlib import metadata

    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def missing(*extras: str) -> list[str]:
    """Those of ``extras`` with at least one distribution not installed, in the given order."""
    return [e for e in extras if not all(_installed(n) for n in requirements(e))]


def hint(*extras: str) -> str:
    """The one line that names missing extras and how to install them."""
    spec = f"waddleperf[{','.join(extras)}]"
    return f"needs {spec}: pip install '{spec}'"


def require(command: str, *extras: str) -> None:
    """Exit 2 with one line on stderr if any of ``extras`` is not installed for ``command``."""
    absent = missing(*extras)
    if absent:
        typer.echo(f"waddleperf {command}: {hint(*absent)}", err=True)
        raise typer.Exit(EXIT_USAGE)
