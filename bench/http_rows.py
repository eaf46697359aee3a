"""The HTTP rows of ``bench/server.py``: our ``empty.php`` and ``garbage.php`` against
nginx + php-fpm running the same backend in PHP, and against nginx answering an empty 200
(the upper bound of any backend), all driven by wrk, medians of rounds interleaved.

Our HTTP workers are steered by *source address* (one source, one worker: its per-source
limits are exact), so a load from a single address exercises one worker, by design. The
many-clients rows therefore spread wrk over several source addresses, which on loopback
takes a network namespace of the benchmark's own (root): there ``lo`` holds 127.0.0.2–9 as
well, and a connection to 127.0.0.N leaves from 127.0.0.N.
"""

from __future__ import annotations

import re
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Source addresses of the many-clients rows (inside the benchmark's namespace).
SOURCES = tuple(f"127.0.0.{i}" for i in range(2, 10))
CONNECTIONS = 64  # wrk -c, as the figures were taken
THREADS = 2

_UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


@dataclass(frozen=True)
class WrkResult:
    """What one or several concurrent wrk runs reached together."""

    requests_per_s: float
    bytes_per_s: float
    errors: int


def _parse(out: str) -> WrkResult:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)([KMGT]?B)", out)
    if rate is None or transfer is None:
        raise RuntimeError(f"wrk printed no rate: {out}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    if socket_errors is not None:
        errors += sum(int(n) for n in socket_errors.groups()[1:])  # read, write, timeout
    return WrkResult(
        float(rate.group(1)), float(transfer.group(1)) * _UNITS[transfer.group(2)], errors
    )


def wrk(urls: Sequence[str], threads: int, connections: int, seconds: int) -> WrkResult:
    """Run one wrk per URL at once (``threads`` and ``connections`` shared out between them)
    for ``seconds`` s; the sums of their request and byte rates and errors."""
    per_threads = max(1, threads // len(urls))
    per_conns = max(per_threads, connections // len(urls))
    procs = [
        subprocess.Popen(
            ["wrk", "-t", str(per_threads), "-c", str(per_conns), "-d", f"{seconds}s", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for url in urls
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 30)
        results.append(_parse(out))
    return WrkResult(
        sum(r.requests_per_s for r in results),
        sum(r.bytes_per_s for r in results),
        sum(r.errors for r in results),
    )


def urls(port: int, path: str, many: bool) -> list[str]:
    """The wrk URLs for a server on ``port``: one source (127.0.0.1), or one per
    :data:`SOURCES` address (inside the namespace only)."""
    hosts = SOURCES if many else ("127.0.0.1",)
    return [f"http://{host}:{port}{path}" for host in hosts]


@dataclass(frozen=True)
class Row:
    """One printed comparison: medians and every round, ours and the reference's."""

    name: str
    ours: float
    ref: float
    unit: str
    rounds_ours: tuple[float, ...]
    rounds_ref: tuple[float, ...]


def compare(
    name: str,
    unit: str,
    ours: Callable[[], float],
    ref: Callable[[], float],
    rounds: int,
) -> Row:
    """Run ``ours`` and ``ref`` alternately ``rounds`` times; the row of their medians."""
    got_ours: list[float] = []
    got_ref: list[float] = []
    for _ in range(rounds):
        got_ours.append(ours())
        got_ref.append(ref())
    return Row(
        name,
        statistics.median(got_ours),
        statistics.median(got_ref),
        unit,
        tuple(got_ours),
        tuple(got_ref),
    )


def request_rate(urls_: Sequence[str], seconds: int) -> float:
    """Requests/s of a wrk run (``-t2 -c64`` shared out over ``urls_``); RuntimeError when
    a reply failed."""
    result = wrk(urls_, THREADS, CONNECTIONS, seconds)
    if result.errors:
        raise RuntimeError(f"{result.errors} failed requests against {urls_[0]}")
    return result.requests_per_s


def download_mbps(url: str, seconds: int, connections: int = 4) -> float:
    """Download Mbit/s of ``wrk -t2 -c{connections}`` fetching ``url`` over and over."""
    result = wrk([url], THREADS, connections, seconds)
    return result.bytes_per_s * 8 / 1e6
