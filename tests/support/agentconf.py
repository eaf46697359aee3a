"""An agent's config written for a test (servers on loopback, short tiers) and the
``waddleperf autoperf`` process it starts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from waddleperf.localstack import LocalServer

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")


def server_entry(srv: LocalServer, name: str = "lo") -> dict[str, Any]:
    """The ``servers:`` entry for a test server."""
    return {
        "name": name,
        "host": srv.host,
        "ports": {"http": srv.http_port, "tcp_echo": srv.tcp_echo_port,
                  "udp_echo": srv.udp_echo_port, "iperf": srv.iperf_port},
    }  # fmt: skip


def quick_tiers(**over: Any) -> dict[str, Any]:
    """Short tiers: no dns (no resolver on loopback), one-second iperf runs, no load."""
    tiers: dict[str, Any] = {
        "interval_s": 1,
        "jitter_pct": 0,
        "tier1": {"probes": [
            {"probe": "icmp", "options": {"count": 3, "interval_s": 0.05, "timeout_s": 1}},
            {"probe": "tcp", "options": {"count": 2}},
            {"probe": "udp", "options": {"count": 20, "interval_s": 0.005, "timeout_s": 1}},
            {"probe": "http", "options": {"count": 2}},
        ]},
        "tier2": {"probes": [
            {"probe": "udp", "label": "udp_long",
             "options": {"count": 50, "interval_s": 0.005, "timeout_s": 1}},
            {"probe": "iperf", "options": {"duration_s": 1}},
        ]},
        "tier3": {"load": False, "probes": [
            {"probe": "iperf", "label": "iperf_down",
             "options": {"duration_s": 1, "reverse": True}},
        ]},
    }  # fmt: skip
    for key, value in over.items():
        tiers[key] = {**tiers.get(key, {}), **value} if isinstance(value, dict) else value
    return tiers


@dataclass
class AgentRun:
    """Where an agent's files go and how to start it."""

    tmp: Path
    config: Path

    @property
    def spool(self) -> Path:
        return self.tmp / "spool"

    @property
    def store(self) -> Path:
        return self.tmp / "store"

    def argv(self, *args: str) -> list[str]:
        return [WADDLEPERF, "autoperf", "--config", str(self.config), *args]

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WADDLEPERF_")}
        env.update(extra or {})
        return env

    def run(self, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), env=self.env(env), capture_output=True,
                              text=True, timeout=timeout, cwd=self.tmp)  # fmt: skip

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(*args), env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=self.tmp)  # fmt: skip

    def bundles(self) -> list[Path]:
        return sorted(self.store.rglob("*.tar.gz")) + sorted(self.spool.glob("*.tar.gz"))


def write_agent(tmp: Path, doc: Mapping[str, Any]) -> AgentRun:
    """An agent config file in ``tmp`` (spool and local store inside it too)."""
    full = {
        "storage": {"spool_dir": str(tmp / "spool"), "store": {"dir": str(tmp / "store")}},
        **doc,
    }
    path = tmp / "autoperf.yml"
    path.write_text(yaml.safe_dump(dict(full)))
    return AgentRun(tmp, path)
