"""Run one of ``ansible/playbooks`` with ansible-runner's Python API; the per-host tally back.

The runner works in a private directory of its own (a temporary one, removed after); the
inventory, the playbooks and the roles stay where they are.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from waddleperf.deploy.tally import HostTally, tally

PLAYBOOKS = ("site.yml", "server.yml", "agents.yml", "ui.yml", "load_workers.yml")


class DeployError(Exception):
    """Bad input to a deploy (a missing inventory, playbook or Ansible tree)."""


@dataclass(frozen=True)
class DeployRequest:
    """What to run: the inventory, the playbook of the Ansible tree, and the usual limits."""

    inventory: Path
    ansible_dir: Path
    playbook: str = "site.yml"
    limit: str | None = None
    tags: str | None = None
    check: bool = False
    extravars: dict[str, Any] | None = None
    private_key: Path | None = None


@dataclass(frozen=True)
class DeployOutcome:
    """How the run ended (ansible-runner's status and rc) and each host's tally."""

    status: str
    rc: int
    hosts: list[HostTally]


def find_ansible_dir(inventory: Path) -> Path:
    """The Ansible tree (the folder holding ``playbooks/site.yml``): the first one found going
    up from the inventory, as ``ansible/`` or as the folder itself."""
    if not inventory.exists():
        raise DeployError(f"inventory {inventory}: no such file or directory")
    start = inventory.resolve().parent
    for folder in (start, *start.parents):
        for candidate in (folder, folder / "ansible"):
            if (candidate / "playbooks" / "site.yml").is_file():
                return candidate
    raise DeployError(f"no Ansible tree (playbooks/site.yml) above {inventory}: use --ansible-dir")


def _checked(request: DeployRequest) -> Path:
    if not request.inventory.exists():
        raise DeployError(f"inventory {request.inventory}: no such file or directory")
    if request.playbook not in PLAYBOOKS:
        raise DeployError(f"playbook {request.playbook!r}: one of {', '.join(PLAYBOOKS)}")
    playbook = request.ansible_dir / "playbooks" / request.playbook
    if not playbook.is_file():
        raise DeployError(f"playbook {playbook}: no such file")
    return playbook


def _cmdline(request: DeployRequest) -> str | None:
    flags: Sequence[str] = ["--check", "--diff"] if request.check else []
    return " ".join(flags) or None


def _binary() -> str:
    """ansible-playbook of this environment (a venv's bin is not always on PATH)."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    found = str(beside) if beside.exists() else shutil.which("ansible-playbook")
    if not found:
        raise DeployError("ansible-playbook not found: pip install 'waddleperf[deploy]'")
    return found


def run(request: DeployRequest, quiet: bool = True) -> DeployOutcome:
    """Run the playbook; its per-host tally (raises DeployError on bad input)."""
    playbook = _checked(request)
    import ansible_runner

    envvars = {
        "PATH": os.pathsep.join([str(Path(_binary()).parent), os.environ.get("PATH", "")]),
        "ANSIBLE_ROLES_PATH": str(request.ansible_dir / "roles"),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
    }
    with tempfile.TemporaryDirectory(prefix="waddleperf-deploy-") as private:
        options: dict[str, Any] = {
            "private_data_dir": private,
            "playbook": str(playbook.resolve()),
            "inventory": str(request.inventory.resolve()),
            "envvars": envvars,
            "quiet": quiet,
            "extravars": request.extravars or {},
        }
        if request.limit:
            options["limit"] = request.limit
        if request.tags:
            options["tags"] = request.tags
        if cmdline := _cmdline(request):
            options["cmdline"] = cmdline
        if request.private_key:
            options["ssh_key"] = request.private_key.read_text()
        result = ansible_runner.run(**options)
        hosts = tally(result.events)
        return DeployOutcome(status=str(result.status), rc=int(result.rc or 0), hosts=hosts)
