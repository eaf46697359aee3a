"""The server and agent roles for real, on a throw-away copy of this machine: ansible-runner
(through ``waddleperf deploy``) runs in a mount namespace whose /etc, /opt and /var/lib are
overlays kept in the test's directory (tests/support/mountns.py), over Ansible's local
connection. ``--check`` first reports changes and makes none; the deploy installs the wheel
offline, writes configs, secrets and units; a second run changes nothing. Then the units'
ExecStart runs as their service users with their capabilities (PID 1 is not systemd): the
server answers on loopback and one agent cycle probes it and stores a bundle."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import mountns, wheels
from tests.support.net import free_port, wait_until
from tests.support.require import require_root, require_tool
from waddleperf_common.procs import stop

pytestmark = pytest.mark.slow

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")
SECRETS = {"waddleperf_udp_hmac_key": "udp-key-" + "5a" * 12,
           "waddleperf_stats_token": "stats-token-" + "6b" * 12}  # fmt: skip


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """A wheelhouse, pins and an inventory of two local hosts (a server, an agent)."""
    require_root("mount namespaces")
    require_tool("unshare", "util-linux")
    if not wheels.UV.exists():
        pytest.skip("needs the checkout's uv (make venv)")
    work = tmp_path_factory.mktemp("fleet")
    wheel = wheels.build_wheel(work)
    pins = wheels.export_pins(work, "server", ["server"])
    ports = {"http": free_port(), "tcp_echo": free_port(), "udp_echo": free_port(), "iperf": 0}
    local = {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}
    everyone = {
        "waddleperf_install_wheelhouse": str(wheel.parent),
        "waddleperf_install_requirements": str(pins),
        "waddleperf_install_uv": str(wheels.UV),
        "waddleperf_install_uv_cache_dir": wheels.ok([wheels.UV, "cache", "dir"], work).strip(),
        "waddleperf_agent_store": "local",
        **SECRETS,
    }
    server = {**local, "waddleperf_server_ports": ports, "waddleperf_server_bind": "127.0.0.1",
              "waddleperf_server_address": "127.0.0.1"}  # fmt: skip
    inventory = {"all": {"vars": everyone, "children": {
        "servers": {"hosts": {"srv": server}}, "agents": {"hosts": {"agt": local}}}}}  # fmt: skip
    path = work / "hosts.yml"
    path.write_text(json.dumps(inventory))
    return path, ports


def _deploy(root: Path, inventory: Path, *flags: str) -> tuple[int, dict[str, dict[str, int]]]:
    argv = [WADDLEPERF, "deploy", "--inventory", str(inventory), "--ansible-dir",
            str(wheels.CHECKOUT / "ansible"), "--json", *flags]  # fmt: skip
    done = subprocess.run(mountns.wrap(root, argv), capture_output=True, text=True, timeout=300,
                          check=False)  # fmt: skip
    assert done.stdout, done.stderr[-3000:]
    doc = json.loads(done.stdout)
    return done.returncode, {h.pop("host"): h for h in doc["hosts"]}


Deployed = tuple[Path, dict[str, dict[str, dict[str, int]]]]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, fleet: tuple[Path, dict[str, int]]
             ) -> Iterator[tuple[Path, dict[str, dict[str, dict[str, int]]]]]:  # fmt: skip
    inventory, _ = fleet
    checked = tmp_path_factory.mktemp("checked")
    root = tmp_path_factory.mktemp("machine")
    runs = {"check": _deploy(checked, inventory, "--check")[1]}
    runs["check_written"] = {"opt": {"files": len(list(
        mountns.upper(checked, "/opt").rglob("*")))}}  # fmt: skip
    rc, runs["first"] = _deploy(root, inventory)
    assert rc == 0, runs["first"]
    rc, runs["second"] = _deploy(root, inventory)
    assert rc == 0, runs["second"]
    yield root, runs


def test_check_reports_changes_and_makes_none(deployed: Deployed) -> None:
    _, runs = deployed
    assert runs["check"]["srv"]["changed"] > 0 and runs["check"]["agt"]["changed"] > 0
    assert runs["check"]["srv"]["failed"] == 0, runs["check"]
    assert runs["check_written"]["opt"]["files"] == 0


def test_a_second_run_changes_nothing(deployed: Deployed) -> None:
    _, runs = deployed
    assert runs["first"]["srv"]["changed"] > 0
    assert {h: t["changed"] for h, t in runs["second"].items()} == {"srv": 0, "agt": 0}


def test_secrets_are_0600_and_owned_as_planned(deployed: Deployed) -> None:
    root, _ = deployed
    key = mountns.upper(root, "/etc/waddleperf/server/udp.key")
    env = mountns.upper(root, "/etc/waddleperf/agent/agent.env")
    assert key.read_text().strip() == SECRETS["waddleperf_udp_hmac_key"]
    assert key.stat().st_mode & 0o777 == 0o600 and env.stat().st_mode & 0o777 == 0o600
    assert env.stat().st_uid == 0 and key.stat().st_uid != 0


def _exec_start(root: Path, unit: str) -> tuple[str, list[str]]:
    text = mountns.upper(root, f"/etc/systemd/system/{unit}").read_text()
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return fields["User"], shlex.split(fields["ExecStart"])


def _as(root: Path, user: str, argv: list[str], state: str) -> list[str]:
    """argv as ``user`` with CAP_NET_RAW ambient, as the unit runs it, after making the state
    directory systemd's StateDirectory= would make."""
    made = ["install", "-d", "-o", user, "-g", user, "-m", "0750", state]
    subprocess.run(mountns.wrap(root, made), check=True, timeout=30)
    setpriv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups",
               "--inh-caps=+net_raw", "--ambient-caps=+net_raw", "--no-new-privs"]  # fmt: skip
    return [*setpriv, *argv]


def test_the_deployed_server_answers_and_the_agent_stores_a_bundle(
    deployed: Deployed, fleet: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    root, _ = deployed
    _, ports = fleet
    user, argv = _exec_start(root, "waddleperf-server.service")
    log = (tmp_path / "server.log").open("wb")
    command = _as(root, user, argv, "/var/lib/waddleperf-server")
    server = subprocess.Popen(mountns.wrap(root, command), stdout=log, stderr=log)
    try:
        import http.client

        def answers() -> bool:
            conn = http.client.HTTPConnection("127.0.0.1", ports["http"], timeout=1)
            try:
                conn.request("GET", "/health")
                return conn.getresponse().status == 200
            except OSError:
                return False
            finally:
                conn.close()

        assert wait_until(answers, 30), (tmp_path / "server.log").read_text()[-2000:]
        user, argv = _exec_start(root, "waddleperf-agent.service")
        env_file = mountns.upper(root, "/etc/waddleperf/agent/agent.env").read_text()
        env = [line for line in env_file.splitlines() if line and not line.startswith("#")]
        agent = _as(root, user, ["env", *env, *argv, "--once"], "/var/lib/waddleperf-agent")
        done = subprocess.run(mountns.wrap(root, agent), capture_output=True, text=True,
                              timeout=180, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        bundles = list(mountns.upper(root, "/var/lib/waddleperf-agent/results").rglob("*.tar.gz"))
        assert len(bundles) == 1, done.stderr[-2000:]
    finally:
        stop(server, 10)
        log.close()
