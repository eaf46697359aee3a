"""Start the real ``waddleperf server`` as a child process for tests, and stop it for sure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.net import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")


@dataclass
class RunningServer:
    """A server process and the ports it serves on loopback."""

    proc: subprocess.Popen[bytes]
    host: str
    http_port: int
    tcp_echo_port: int
    udp_echo_port: int
    iperf_port: int
    stderr_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.http_port}"

    def health(self) -> dict[str, object]:
        with urllib.request.urlopen(self.base_url + "/health", timeout=5) as resp:
            data: dict[str, object] = json.loads(resp.read())
            return data

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return self.proc.returncode


def start_server(
    tmp_path: Path,
    host: str = "127.0.0.1",
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    config_yaml: str | None = None,
    services: Sequence[str] = ("http", "tcp_echo", "udp_echo", "iperf"),
    wait: float = 15.0,
) -> RunningServer:
    """Start a server with free ports for the named services (others disabled); wait for /health."""
    ports = {
        name: (free_port(host) if name in services else 0)
        for name in ("http", "tcp_echo", "udp_echo", "iperf")
    }
    cmd = [
        WADDLEPERF,
        "server",
        "--bind",
        host,
        "--http-port",
        str(ports["http"]),
        "--tcp-echo-port",
        str(ports["tcp_echo"]),
        "--udp-echo-port",
        str(ports["udp_echo"]),
        "--iperf-port",
        str(ports["iperf"]),
        *args,
    ]
    if config_yaml is not None:
        cfg = tmp_path / "server.yml"
        cfg.write_text(config_yaml)
        cmd += ["--config", str(cfg)]
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("WADDLEPERF_")}
    child_env.update(env or {})
    stderr_path = tmp_path / f"server-{ports['http']}-{ports['udp_echo']}.log"
    with stderr_path.open("wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=child_env)
    srv = RunningServer(
        proc, host, ports["http"], ports["tcp_echo"], ports["udp_echo"], ports["iperf"], stderr_path
    )
    ready = wait_until(lambda: proc.poll() is not None or "ready" in srv.log(), wait)
    if not ready or proc.poll() is not None:
        srv.stop(signal.SIGKILL)
        raise RuntimeError(f"server did not start: {srv.log()[-2000:]}")
    return srv
