"""LibreSpeed's arithmetic, as its speedtest_worker.js does it. Pure: numbers in, numbers out.

- Speed: ``bytes · 8 · overheadCompensationFactor / seconds / 10⁶`` (1 048 576 with
  useMebibits); the factor (default 1.06) adds back HTTP/TCP/IP/Ethernet headers the browser
  never sees, so the figure approximates the line rate rather than the goodput.
- Grace time: bytes moved in the first ``grace_s`` seconds are discarded — at the first 200 ms
  tick after it, the clock and the byte count restart, unless nothing has arrived yet.
- Ping and jitter: the first reply only warms the connection. Then ``ping`` is the lowest
  round trip seen; jitter starts as |rtt₂ − rtt₁| and is then smoothed, spikes weighing more:
  J = 0.3·J + 0.7·d when d > J, else 0.8·J + 0.2·d, with d = |rttᵢ − rttᵢ₋₁|.
- getIP: ``{"processedString": "IP - ISP, CC (distance)", "rawIspInfo": …}`` or plain text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

OVERHEAD_COMPENSATION = 1.06
TICK_S = 0.2


def speed_mbps(
    n_bytes: int, seconds: float, overhead: float = OVERHEAD_COMPENSATION, mebibits: bool = False
) -> float | None:
    """LibreSpeed's speed figure in Mbit/s (or Mibit/s); None when no time has passed."""
    if seconds <= 0:
        return None
    return n_bytes * 8 * overhead / seconds / (1_048_576 if mebibits else 1_000_000)


@dataclass(frozen=True, slots=True)
class Window:
    """The measured part of a transfer: bytes and seconds after the grace time."""

    n_bytes: int
    seconds: float
    grace_applied: bool


def measured_window(ticks: Sequence[tuple[float, int]], grace_s: float) -> Window:
    """Bytes and seconds after the grace period, from (seconds since start, total bytes) ticks.

    The first tick past ``grace_s`` with bytes > 0 becomes the new origin; if none arrived by
    then, LibreSpeed keeps the original origin, and so do we (``grace_applied`` False).
    """
    origin = (0.0, 0)
    applied = False
    for t, total in ticks:
        if t > grace_s and total > 0:
            origin, applied = (t, total), True
            break
    if not ticks:
        return Window(0, 0.0, False)
    last_t, last_total = ticks[-1]
    return Window(max(last_total - origin[1], 0), max(last_t - origin[0], 0.0), applied)


@dataclass(frozen=True, slots=True)
class PingJitter:
    """LibreSpeed's ping (lowest RTT) and smoothed jitter, in the unit of the input."""

    ping: float | None
    jitter: float | None
    used: int  # round trips that counted (all but the warm-up one)


def ping_jitter(rtts: Sequence[float], clamp_below: float | None = None) -> PingJitter:
    """LibreSpeed's ping and jitter from round-trip times in order (first one is warm-up).

    ``clamp_below``: LibreSpeed replaces an RTT below 1 ms by the previous one (then by 1),
    because a browser clock ticks in whole ms; pass 1.0 to do the same. We measure with
    perf_counter and pass None, so sub-millisecond loopback RTTs stay what they are.
    """
    used = list(rtts[1:])
    if not used:
        return PingJitter(None, None, 0)
    ping = jitter = 0.0
    prev = 0.0
    for i, rtt in enumerate(used, start=1):
        if clamp_below is not None and rtt < clamp_below:
            rtt = prev if prev >= clamp_below else clamp_below
        delta = abs(rtt - prev)
        if i == 1:
            ping = rtt
        else:
            ping = min(ping, rtt)
            if i == 2:
                jitter = delta
            elif delta > jitter:
                jitter = jitter * 0.3 + delta * 0.7
            else:
                jitter = jitter * 0.8 + delta * 0.2
        prev = rtt
    return PingJitter(ping, jitter if len(used) >= 2 else None, len(used))


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """What getIP.php said about us: address, the text after it (ISP or kind), raw ISP data."""

    ip: str | None
    isp: str | None
    processed: str
    raw_isp: Any


def parse_getip(body: str) -> ClientInfo:
    """Parse a getIP.php answer: LibreSpeed's JSON, or the plain text old backends send."""
    text = body.strip()
    raw_isp: Any = None
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("processedString"), str):
        text = doc["processedString"].strip()
        raw_isp = doc.get("rawIspInfo")
    ip, sep, rest = text.partition(" - ")
    return ClientInfo(ip.strip() or None, rest.strip() or None if sep else None, text, raw_isp)
