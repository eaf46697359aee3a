"""``waddleperf deploy`` for real through ansible-runner: a host nobody answers for (a free
loopback port) is reported unreachable, in the table and in JSON, and the exit code says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.net import free_port

CHECKOUT = Path(__file__).resolve().parents[3]
WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")

pytestmark = pytest.mark.slow


def _inventory(tmp_path: Path) -> Path:
    path = tmp_path / "hosts.yml"
    hosts = {
        "down": {
            "ansible_host": "127.0.0.1",
            "ansible_port": free_port(),
            "ansible_user": "nobody",
            "ansible_ssh_common_args": "-o ConnectTimeout=5",
        }
    }
    path.write_text(json.dumps({"all": {"children": {"servers": {"hosts": hosts}}}}))
    return path


def _deploy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WADDLEPERF, "deploy", *args], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def test_an_unreachable_host_is_reported_and_fails_the_run(tmp_path: Path) -> None:
    inventory = _inventory(tmp_path)
    tree = str(CHECKOUT / "ansible")
    done = _deploy("--inventory", str(inventory), "--ansible-dir", tree, "--playbook",
                   "server.yml", "--json")  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert doc["hosts"] == [{"host": "down", "ok": 0, "changed": 0, "failed": 0,
                             "unreachable": 1, "skipped": 0}]  # fmt: skip
    table = _deploy("--inventory", str(inventory), "--ansible-dir", tree, "--playbook",
                    "server.yml", "--check")  # fmt: skip
    assert table.returncode == 1
    assert "(check)" in table.stdout and "unreachable" in table.stdout
    row = next(line for line in table.stdout.splitlines() if " down " in line)
    assert [c.strip() for c in row.split("│")[1:-1]] == ["down", "0", "0", "0", "1"], row


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    done = _deploy("--inventory", str(tmp_path / "nope.yml"))
    assert done.returncode == 2
    assert (
        done.stderr
        == f"waddleperf deploy: inventory {tmp_path / 'nope.yml'}: no such file or directory\n"
    )
    done = _deploy("--inventory", str(_inventory(tmp_path)), "--ansible-dir",
                   str(CHECKOUT / "ansible"), "--playbook", "bogus.yml")  # fmt: skip
    assert done.returncode == 2 and "playbook 'bogus.yml': one of site.yml" in done.stderr
