"""``--metrics-listen`` refusals: a bad address or a port in use is one line naming the key,
exit 2, before any cycle runs."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.support.agentconf import quick_tiers, write_agent

SERVER = {"name": "lo", "host": "127.0.0.1"}


def test_a_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    run = write_agent(tmp_path, {"servers": [SERVER], "tiers": quick_tiers()})
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = run.run("--once", "--metrics-listen", f"127.0.0.1:{port}", timeout=60)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("waddleperf autoperf:")]
    assert len(lines) == 1 and "metrics.listen" in lines[0] and "cannot listen" in lines[0]
    assert "Traceback" not in done.stderr
    assert not run.bundles()  # no cycle ran


def test_a_bad_address_names_the_key(tmp_path: Path) -> None:
    run = write_agent(tmp_path, {"servers": [SERVER], "tiers": quick_tiers(),
                                 "metrics": {"listen": "metrics.example:9427"}})  # fmt: skip
    done = run.run("--check-config", timeout=60)
    assert done.returncode == 2
    assert "metrics.listen" in done.stderr and "is not an IP address" in done.stderr
