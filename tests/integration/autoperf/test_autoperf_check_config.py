"""``waddleperf autoperf --check-config``, and a bad tier entry stopping the agent at start-up."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from tests.support.agentconf import write_agent

BAD_TIER1 = {"probes": [{"probe": "icmpp"}, {"probe": "icmp", "options": {"cnt": 5}}]}


def _listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    return sock


def _bad(tmp_path: Path, port: int) -> dict[str, Any]:
    tier1 = {"probes": [{"probe": "tcp", "options": {"count": 1}}, *BAD_TIER1["probes"]]}
    server = {"name": "lo", "host": "127.0.0.1",
              "ports": {"http": 0, "tcp_echo": port, "udp_echo": 0, "iperf": 0}}  # fmt: skip
    return {"servers": [server], "tiers": {"tier1": tier1}}


def test_check_config_names_each_bad_key_and_value(tmp_path: Path) -> None:
    run = write_agent(tmp_path, {"tiers": {"tier1": BAD_TIER1}})
    proc = run.run("--check-config")
    assert proc.returncode == 2, proc.stderr
    assert "tiers.tier1.probes[0].probe: unknown probe 'icmpp' (known: " in proc.stderr
    assert "tiers.tier1.probes[1].options.cnt: unknown option cnt = 5" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not run.spool.exists()


def test_check_config_passes_the_shipped_defaults(tmp_path: Path) -> None:
    proc = write_agent(tmp_path, {}).run("--check-config")
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    assert line.startswith("config OK: 1 server(s)")


def test_once_with_a_bad_probe_exits_2_before_any_probe_runs(tmp_path: Path) -> None:
    listener = _listener()
    try:
        run = write_agent(tmp_path, _bad(tmp_path, listener.getsockname()[1]))
        proc = run.run("--once")
        assert proc.returncode == 2, proc.stderr
        assert "tiers.tier1.probes[1].probe: unknown probe 'icmpp'" in proc.stderr
        assert "tiers.tier1.probes[2].options.cnt" in proc.stderr
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            conn = None
        assert conn is None, "the tcp probe ran"
        assert not run.spool.exists() and run.bundles() == []
    finally:
        listener.close()
