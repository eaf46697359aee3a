"""The Ansible roles and playbooks, offline: ansible-lint at its ``production`` profile, every
playbook's syntax, and the files each role renders for the example inventory — units passed
through ``systemd-analyze verify`` (which exits 0 on unknown keys: any output line fails), and
configurations accepted by the project's own loaders. Nothing is sent to a host."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.net import free_port
from tests.support.require import require_tool
from tests.support.targets import start_target
from waddleperf.autoperf.agent import load_checked
from waddleperf_server import config as server_config

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parents[3]
ANSIBLE = CHECKOUT / "ansible"
INVENTORY = ANSIBLE / "inventory" / "example" / "hosts.yml"
BIN = Path(sys.executable).parent
PLAYBOOKS = ("site.yml", "server.yml", "agents.yml", "ui.yml", "load_workers.yml", "preview.yml")
VAULT = {
    "vault_waddleperf_udp_hmac_key": "udp-key-" + "9f" * 12,
    "vault_waddleperf_stats_token": "stats-token-" + "4e" * 12,
    "vault_waddleperf_s3_access_key_id": "AKIA" + "7" * 16,
    "vault_waddleperf_s3_secret_access_key": "s3-secret-" + "c1" * 12,
    "vault_waddleperf_ui_admin_password": "ui-admin-" + "d2" * 12,
}
UNITS = {
    "server-us": "server/waddleperf-server.service",
    "agent-dc": "agent/waddleperf-agent.service",
    "ui-1": "ui/waddleperf-ui.service",
    "worker-1": "load/waddleperf-load-worker.service",
}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "WADDLEPERF"))}
    env.update(ANSIBLE_ROLES_PATH=str(ANSIBLE / "roles"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(Path(env.get("TMPDIR", "/tmp"))),
               PATH=f"{BIN}:{env.get('PATH', '')}")  # fmt: skip
    return env


def _run(argv: list[str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ANSIBLE, env=_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip


@pytest.fixture(scope="module")
def preview(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Every role's files for every host of the example inventory, and the playbook's output.
    The units' ExecStart points into this checkout's venv, so verify finds the command."""
    out = tmp_path_factory.mktemp("preview")
    roles = ("server", "agent", "ui", "load_worker")
    extra = {"waddleperf_preview_dir": str(out), **VAULT}
    extra.update({f"waddleperf_{r}_venv": str(BIN.parent) for r in roles})
    playbook = [str(BIN / "ansible-playbook"), "-i", str(INVENTORY), "playbooks/preview.yml"]
    done = _run([*playbook, "-e", json.dumps(extra)])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return out, done.stdout + done.stderr


def test_ansible_lint_is_clean_at_the_production_profile() -> None:
    done = _run([str(BIN / "ansible-lint"), "--nocolor", "--profile", "production", "."], 300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Profile 'production' was required, and it passed" in done.stderr + done.stdout


def test_every_playbook_parses() -> None:
    # One ansible-playbook for all of them (it takes several): ~4 s each of start-up saved;
    # its error names the playbook and the line.
    done = _run([str(BIN / "ansible-playbook"), "--syntax-check", "-i", str(INVENTORY),
                 *(f"playbooks/{p}" for p in PLAYBOOKS)], 120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("playbook: playbooks/") == len(PLAYBOOKS), done.stdout


def test_no_secret_reaches_the_output(preview: tuple[Path, str]) -> None:
    _, output = preview
    assert "censored" in output
    for name, value in VAULT.items():
        assert value not in output, name


def test_secrets_are_written_0600(preview: tuple[Path, str]) -> None:
    out, _ = preview
    server = out / "server-eu" / "server"
    assert (server / "udp.key").read_text().strip() == VAULT["vault_waddleperf_udp_hmac_key"]
    assert (server / "operator.token").read_text().strip() == VAULT["vault_waddleperf_stats_token"]
    env = (out / "agent-dc" / "agent" / "agent.env").read_text()
    assert f"AWS_SECRET_ACCESS_KEY={VAULT['vault_waddleperf_s3_secret_access_key']}\n" in env
    ui_env = (out / "ui-1" / "ui" / "ui.env").read_text()
    assert f"AWS_SECRET_ACCESS_KEY={VAULT['vault_waddleperf_s3_secret_access_key']}\n" in ui_env
    assert "WADDLEPERF_UI_DB_URI" not in ui_env  # no database URI given: SQLite
    for path in (server / "udp.key", server / "operator.token", out / "agent-dc/agent/agent.env",
                 out / "ui-1/ui/ui.env"):  # fmt: skip
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_the_server_configs_load(preview: tuple[Path, str]) -> None:
    out, _ = preview
    eu = server_config.load(user_file=out / "server-eu/server/server.yml", environ={})
    us = server_config.load(user_file=out / "server-us/server/server.yml", environ={})
    assert (eu.http.port, us.http.port) == (8080, 80)
    assert eu.udp_echo.hmac_key_file == out / "server-eu/server/udp.key"
    assert eu.operator.token_file == out / "server-eu/server/operator.token"
    assert eu.operator.allowed_networks == ["127.0.0.0/8", "::1/128"]  # metrics off


def test_every_agent_config_loads_and_shares_one_bucket(preview: tuple[Path, str]) -> None:
    out, _ = preview
    agents = ("agent-office", "agent-dc", "agent-load-master")
    cfgs = [load_checked(out / a / "agent" / "autoperf.yml", environ={}) for a in agents]
    assert {c.storage.store.s3.bucket for c in cfgs if c.storage.store.s3} == {
        "waddleperf-results"}  # fmt: skip
    assert all(c.storage.store.kind == "s3" for c in cfgs)
    assert [s.host for s in cfgs[0].servers] == ["192.0.2.10", "192.0.2.11"]
    assert cfgs[0].servers[1].ports.http == 80
    assert all(c.metrics.listen is None for c in cfgs)  # the metrics tag is opt-in


def test_the_ui_config_loads_and_reads_the_agents_bucket(preview: tuple[Path, str]) -> None:
    out, _ = preview
    path = out / "ui-1" / "ui" / "ui.yml"
    cfg = load_checked(path, environ={})
    assert cfg.storage.store.kind == "s3" and cfg.storage.store.s3 is not None
    assert cfg.storage.store.s3.bucket == "waddleperf-results"
    assert [s.host for s in cfg.servers] == ["192.0.2.10", "192.0.2.11"]
    data_dir = Path("/var/lib/waddleperf-ui")
    assert (cfg.ui.host, cfg.ui.port, cfg.ui.data_dir) == ("127.0.0.1", 8000, data_dir)
    assert cfg.ui.allowed_networks == ["192.0.2.0/24"] and cfg.ui.results == []
    done = _run([str(BIN / "waddleperf"), "ui", "--config", str(path), "--check-config"], 60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "history from s3://waddleperf-results/waddleperf" in done.stdout
    unit = (out / "ui-1" / "ui" / "waddleperf-ui.service").read_text()
    etc = out / "ui-1" / "ui"  # the preview's waddleperf_ui_etc
    assert f"EnvironmentFile={etc}/ui.env\n" in unit
    assert f"/bin/waddleperf ui --config {etc}/ui.yml\n" in unit


@pytest.mark.parametrize("host", sorted(UNITS))
def test_units_verify_without_a_word(preview: tuple[Path, str], host: str) -> None:
    require_tool("systemd-analyze", "systemd")
    out, _ = preview
    unit = out / host / UNITS[host]
    text = unit.read_text()
    for key in ("User=waddleperf-", "NoNewPrivileges=yes", "ProtectSystem=strict",
                "ProtectHome=yes", "PrivateTmp=yes", "StateDirectory=waddleperf-"):  # fmt: skip
        assert key in text, (host, key)
    caps = next(line for line in text.splitlines() if line.startswith("AmbientCapabilities="))
    low_port = host == "server-us"  # its HTTP port is 80
    assert caps == "AmbientCapabilities=CAP_NET_RAW" + (" CAP_NET_BIND_SERVICE" * low_port)
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert (done.returncode, done.stdout + done.stderr) == (0, ""), unit


def test_verify_does_speak_of_an_unknown_key(tmp_path: Path) -> None:
    """The check above can fail: an unknown key is reported although the exit code is 0."""
    require_tool("systemd-analyze", "systemd")
    unit = tmp_path / "bogus.service"
    unit.write_text("[Service]\nExecStart=/bin/true\nNoSuchKey=1\n")
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert "NoSuchKey" in done.stdout + done.stderr


def test_load_worker_units_join_a_master_and_share_its_run(
    preview: tuple[Path, str], tmp_path: Path
) -> None:
    """The load worker role's unit, as rendered, makes a Locust worker of a tier-3 master: two
    of them (its ExecStart with the master's address turned to loopback) join a master's run
    against a real Flask target, and the master's record counts both."""
    out, _ = preview
    text = (out / "worker-1" / UNITS["worker-1"]).read_text()
    argv = shlex.split(next(line for line in text.splitlines()
                            if line.startswith("ExecStart="))[len("ExecStart="):])  # fmt: skip
    assert argv[1:4] == ["load", "run", "--worker"], argv
    port = free_port()
    target = start_target(tmp_path, "flask", workers=1)
    procs: list[subprocess.Popen[str]] = []
    try:
        master = subprocess.Popen(
            [str(BIN / "waddleperf"), "load", "run", "--host", target.url, "--master",
             "--expect-workers", "2", "--master-port", str(port), "--users", "4",
             "--spawn-rate", "4", "--duration", "4", "--no-plots", "--json",
             "--out", str(tmp_path / "master")],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        procs.append(master)
        for n in range(2):
            mine = list(argv)
            mine[mine.index("--master-host") + 1] = "127.0.0.1"
            mine[mine.index("--master-port") + 1] = str(port)
            mine[mine.index("--out") + 1] = str(tmp_path / f"worker{n}")
            procs.append(subprocess.Popen(mine, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, text=True))  # fmt: skip
        stdout, stderr = master.communicate(timeout=120)
        codes = [p.wait(timeout=30) for p in procs[1:]]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        target.stop()
    assert master.returncode == 0, stderr[-3000:]
    assert codes == [0, 0]
    record = json.loads(stdout)
    assert record["params"]["role"] == "master" and record["metrics"]["workers_count"] == 2
    assert record["metrics"]["requests_count"] > 0
