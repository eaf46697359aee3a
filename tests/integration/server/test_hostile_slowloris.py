"""Slowloris from 20 addresses (1520 connections trickling a byte a second) plus one address
at its cap reconnecting as fast as it can, against a real server on loopback: a legitimate
client from another address must get ≥ 99 % of its requests answered with p99 < 250 ms, and the
server's RSS must stay within its own per-connection figure.

Twice: with the pool sized by memory (the attack fits; the head deadline and the minimum rate
cut the tricklers) and with a pool of 1000 (the attack does not fit: deadlines shrink, waiting
connections of the biggest sources are shed, the legitimate newcomer is let in).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.integration.server import hostilehelp
from tests.support.httphelp import ResponseReader, http_server, request_bytes
from tests.support.require import require
from waddleperf_server.http.pool import CONNECTION_OVERHEAD_BYTES

pytestmark = [pytest.mark.serial, pytest.mark.slow, pytest.mark.timeout(150)]

ROOT = Path(__file__).resolve().parents[3]
SLOW_SOURCES, PER_SOURCE = 20, 76  # 1520 connections, under the per-source cap of 96
FLOOD_SOURCE, FLOOD_HOLD, FLOOD_RATE = "127.0.2.1", 96, 1400.0
LEGIT_SOURCE = "127.0.3.1"
LEGIT_REQUESTS, LEGIT_GAP_S = 300, 0.05
ATTACK_S = 26.0


@pytest.fixture(autouse=True)
def _many_fds() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = SLOW_SOURCES * PER_SOURCE + FLOOD_HOLD + 512
    require(hard >= need, f"needs RLIMIT_NOFILE ≥ {need} (hard limit {hard})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class Attack:
    """An attack process (hostilehelp); ``counts()`` waits for its end and its figures."""

    def __init__(self, *args: object) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.server.hostilehelp", *map(str, args)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        """Until its connections are up."""
        assert self.proc.stdout is not None
        start = time.monotonic()
        line = self.proc.stdout.readline()  # the process prints "ready" within its budget
        assert line.strip() == "ready", line
        assert time.monotonic() - start < timeout

    def counts(self) -> dict[str, int]:
        """Its figures, once its time is over."""
        out, _ = self.proc.communicate(timeout=ATTACK_S + 30)
        doc: dict[str, int] = json.loads(out.strip().splitlines()[-1])
        return doc

    def kill(self) -> None:
        """Stop it if it still runs."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class RssWatch(threading.Thread):
    """The server's VmRSS (bytes), sampled every 0.2 s until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[int] = []
        self.done = threading.Event()

    def read(self) -> int:
        """VmRSS now, bytes."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def run(self) -> None:
        while not self.done.wait(0.2):
            self.samples.append(self.read())


def legit_client(port: int) -> list[float | None]:
    """LEGIT_REQUESTS requests, each on a new connection from LEGIT_SOURCE, LEGIT_GAP_S
    apart: the latency of each (s), None when it was not answered 200 within 2 s."""
    out: list[float | None] = []
    for _ in range(LEGIT_REQUESTS):
        start = time.monotonic()
        try:
            with hostilehelp.connect_from(LEGIT_SOURCE, port, timeout=2.0) as sock:
                sock.sendall(request_bytes("GET", "/backend/empty.php?r=0.1"))
                status, _, _ = ResponseReader(sock).read()
            out.append(time.monotonic() - start if status == 200 else None)
        except OSError:
            out.append(None)
        time.sleep(max(0.0, LEGIT_GAP_S - (time.monotonic() - start)))
    return out


@pytest.mark.parametrize(
    ("config", "pool"),
    [pytest.param(None, None, id="pool-by-memory"),
     pytest.param("http:\n  max_connections: 1000\n", 1000, id="pool-of-1000")],
)  # fmt: skip
def test_slowloris_and_a_reconnect_flood_leave_a_legit_client_served(
    tmp_path: Path, config: str | None, pool: int | None
) -> None:
    with http_server(tmp_path, config) as srv:
        port = srv.http_port
        watch = RssWatch(srv.proc.pid)
        rss_idle = watch.read()
        watch.start()
        attacks = [
            Attack("slowloris", port, "127.0.1.1", SLOW_SOURCES, PER_SOURCE, ATTACK_S),
            Attack("flood", port, FLOOD_SOURCE, FLOOD_HOLD, ATTACK_S, FLOOD_RATE),
        ]
        try:
            for attack in attacks:
                attack.wait_ready()
            health = requests.get(srv.base_url + "/health", timeout=5).json()["services"]["http"]
            assert health["connections"] >= (pool or SLOW_SOURCES * PER_SOURCE + FLOOD_HOLD) - 50
            cpu0, t0 = sum(psutil.Process(srv.proc.pid).cpu_times()[:2]), time.monotonic()
            latencies = legit_client(port)
            cpu_pct = (
                (sum(psutil.Process(srv.proc.pid).cpu_times()[:2]) - cpu0)
                / (time.monotonic() - t0)
                * 100
            )
            slow, flood = (a.counts() for a in attacks)
        finally:
            for attack in attacks:
                attack.kill()
            watch.done.set()
            watch.join()
        status = requests.get(srv.base_url + "/health", timeout=5).json()["services"]["http"]
    answered = sorted(x for x in latencies if x is not None)
    p99 = answered[int(len(answered) * 0.99) - 1] if answered else float("inf")
    print(f"\nlegit: {len(answered)}/{len(latencies)} answered, p50 "
          f"{answered[len(answered) // 2] * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
          f"max {answered[-1] * 1000:.1f} ms")  # fmt: skip
    print(f"slowloris: {slow}\nflood: {flood}\nserver: {status}, CPU {cpu_pct:.0f} %")
    peak = max(watch.samples)
    print(f"RSS idle {rss_idle / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB")

    assert len(answered) >= 0.99 * len(latencies)
    assert p99 < 0.250
    # the attack was as large as promised and really hit the server
    assert slow["max_open"] >= SLOW_SOURCES * PER_SOURCE
    # The reconnect loop ran flat out: at half its rate or more, or bounded by the server's
    # answers (each connect waits for its reply or refusal: under a full pool that wait, not
    # the rate, sets the pace), idling less than a tenth of the attack ahead of its schedule.
    assert flood["connects"] >= 0.5 * FLOOD_RATE * ATTACK_S or (
        flood["idle_s"] < 0.1 * ATTACK_S and flood["connects"] >= 0.1 * FLOOD_RATE * ATTACK_S
    ), flood
    assert flood["replies_429"] > 0 and status["source_rejected"] >= flood["replies_429"]
    # tricklers were cut by their deadline, not left to hold their slots
    assert slow["closed_by_server"] >= SLOW_SOURCES * PER_SOURCE / 2
    if pool is not None:
        assert status["max_connections"] == pool
        # the legit newcomers took waiting slots of big sources; tricklers beyond were refused
        assert status["shed"] > 0 and status["pool_full_rejected"] > 0
    # memory: within the server's own figure per connection it held, plus the per-request
    # working set; the head budget is not reached by trickling a byte a second
    held = min(status["max_connections"], SLOW_SOURCES * PER_SOURCE + FLOOD_HOLD + 256)
    assert peak - rss_idle < held * CONNECTION_OVERHEAD_BYTES + 32 * 2**20
