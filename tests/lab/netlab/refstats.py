"""Reading reference tools' output (ping, iperf3, traceroute, mtr) and the exact binomial bounds."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

_PING_COUNTS = re.compile(r"(\d+) packets transmitted, (\d+) received(?:, \+(\d+) duplicates)?")
_PING_RTT = re.compile(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms")


@dataclass(frozen=True)
class PingSummary:
    """iputils ping's summary: counts, and RTT min/avg/max/mdev in ms (None if none came back)."""

    transmitted: int
    received: int
    duplicates: int
    rtt_min_ms: float | None
    rtt_avg_ms: float | None
    rtt_max_ms: float | None
    rtt_mdev_ms: float | None

    @property
    def lost(self) -> int:
        """Echo requests without a reply."""
        return self.transmitted - self.received


def parse_ping(text: str) -> PingSummary:
    """Parse the last two lines iputils ``ping`` prints."""
    counts = _PING_COUNTS.search(text)
    if not counts:
        raise ValueError(f"no ping summary in: {text[-500:]!r}")
    rtt = _PING_RTT.search(text)
    vals: list[float | None] = [float(x) for x in rtt.groups()] if rtt else [None] * 4
    return PingSummary(int(counts.group(1)), int(counts.group(2)), int(counts.group(3) or 0), *vals)


def iperf3_mbps(json_text: str) -> float:
    """Receiver-side throughput in Mbit/s from ``iperf3 -J`` (TCP: sum_received; UDP: sum)."""
    doc: dict[str, Any] = json.loads(json_text)
    if "error" in doc:
        raise RuntimeError(f"iperf3: {doc['error']}")
    end = doc["end"]
    summary = end.get("sum_received") or end["sum"]
    return float(summary["bits_per_second"]) / 1e6


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def traceroute_hops(text: str) -> list[str]:
    """The first responding address of each hop in ``traceroute -n`` output ("*" if none)."""
    hops: list[str] = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if not parts or not parts[0].isdigit():
            continue
        hops.append(next((p for p in parts[1:] if _is_ip(p)), "*"))
    return hops


_MTR_ROW = re.compile(
    r"^\s*(\d+)\.\|--\s+(\S+)\s+([\d.]+)%?\s+(\d+)"
    r"\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class MtrHop:
    """One row of ``mtr --report``: hop, host ("???" if silent), Loss%, Snt, and the RTT columns
    Last/Avg/Best/Wrst/StDev in ms (mtr prints them to 0.1 ms)."""

    hop: int
    host: str
    loss_pct: float
    sent: int
    last_ms: float
    avg_ms: float
    best_ms: float
    worst_ms: float
    stdev_ms: float

    @property
    def lost(self) -> int:
        """Probes of this hop without a reply (Loss% is printed to 0.1 %, Snt exactly)."""
        return round(self.loss_pct * self.sent / 100)


def parse_mtr_report(text: str) -> list[MtrHop]:
    """The hop rows of ``mtr --report`` (``--no-dns``); continuation lines of hops where more
    than one address answered (``|  `|--``) are skipped."""
    return [
        MtrHop(int(m[1]), m[2], float(m[3]), int(m[4]), *(float(m[i]) for i in range(5, 10)))
        for m in _MTR_ROW.finditer(text)
    ]


def _log_pmf(n: int, p: float, k: int) -> float:
    if p <= 0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1:
        return 0.0 if k == n else -math.inf
    return (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )


def binomial_bounds(n: int, p: float, confidence: float = 0.99) -> tuple[int, int]:
    """The central interval [lo, hi] holding a Binomial(n, p) count with at least ``confidence``.

    Exact: lo is the largest k with P(X < k) <= (1 - confidence) / 2, hi the smallest k with
    P(X > k) <= (1 - confidence) / 2, from the probability mass function summed in log space.
    """
    if not (0 <= p <= 1 and 0 < confidence < 1 and n >= 0):
        raise ValueError("need n >= 0, 0 <= p <= 1, 0 < confidence < 1")
    tail = (1 - confidence) / 2
    pmf = [math.exp(_log_pmf(n, p, k)) for k in range(n + 1)]
    lo, below = 0, 0.0
    while lo < n and below + pmf[lo] <= tail:
        below += pmf[lo]
        lo += 1
    hi, above = n, 0.0
    while hi > 0 and above + pmf[hi] <= tail:
        above += pmf[hi]
        hi -= 1
    return lo, hi


T = TypeVar("T")


def second_chance(measure: Callable[[], T], ok: Callable[[T], bool], attempts: int = 5) -> list[T]:
    """Measure until the result is ``ok``, at most ``attempts`` times. Returns every result,
    last last.

    For checks a shared machine can spoil: one scheduling stall of a few tens of ms during a
    1–2 s ping run moves its average by most of a millisecond, and a disturbance can last long
    enough to spoil two runs in a row. A true lab error repeats and still fails every attempt;
    tests assert on the last result and print all.
    """
    runs = [measure()]
    while not ok(runs[-1]) and len(runs) < attempts:
        runs.append(measure())
    return runs
