"""Per-hop figures of a multi-round trace, as mtr reports them. Pure: observations in, rows out.

For each TTL: probes sent, replies, loss % (100 · unanswered / sent), RTT last/avg/best/worst
and stdev in ms (population standard deviation, as stats.summarize's mdev), the address that
answered most often and how many distinct addresses answered (more than one: the path changed
or a balancer ignored the constant flow id). The destination hop is the lowest TTL the target
itself answered; rows stop there. When it never answered, rows stop after the last TTL that
anything answered (silent TTLs beyond it say nothing a person can use).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from waddleperf.probes.stats import summarize
from waddleperf.results.model import MetricValue, Sample


@dataclass(frozen=True, slots=True)
class Observation:
    """One probe's fate: round, TTL, and the reply (address, RTT ms, from the target) if any."""

    round: int
    ttl: int
    address: str | None = None
    rtt_ms: float | None = None
    final: bool = False


@dataclass(frozen=True, slots=True)
class Hop:
    """One TTL's row."""

    ttl: int
    address: str | None
    addresses: int
    sent: int
    received: int
    loss_pct: float
    last_ms: float | None
    avg_ms: float | None
    best_ms: float | None
    worst_ms: float | None
    stdev_ms: float | None
    final: bool
    name: str | None = None

    def sample(self) -> Sample:
        """The row as a record sample."""
        return {
            "hop": self.ttl, "address": self.address, "name": self.name,
            "addresses_count": self.addresses, "sent_count": self.sent,
            "received_count": self.received, "loss_pct": self.loss_pct,
            "rtt_last_ms": self.last_ms, "rtt_avg_ms": self.avg_ms, "rtt_best_ms": self.best_ms,
            "rtt_worst_ms": self.worst_ms, "rtt_stdev_ms": self.stdev_ms, "destination": self.final,
        }  # fmt: skip


def destination_ttl(observations: list[Observation]) -> int | None:
    """The lowest TTL at which the target itself answered, or None."""
    finals = [o.ttl for o in observations if o.final]
    return min(finals) if finals else None


def hop_rows(observations: list[Observation], max_ttl: int) -> list[Hop]:
    """Rows for TTL 1 … the destination (or the last answering TTL), mtr's figures each."""
    dest = destination_ttl(observations)
    answered = [o.ttl for o in observations if o.address is not None]
    last = dest if dest is not None else (max(answered) if answered else 0)
    rows = []
    for ttl in range(1, min(last, max_ttl) + 1):
        mine = sorted((o for o in observations if o.ttl == ttl), key=lambda o: o.round)
        got = [o for o in mine if o.address is not None]
        rtts = [o.rtt_ms for o in got if o.rtt_ms is not None]
        summary = summarize(rtts)
        counts = Counter(o.address for o in got)
        rows.append(
            Hop(
                ttl=ttl,
                address=counts.most_common(1)[0][0] if counts else None,
                addresses=len(counts),
                sent=len(mine),
                received=len(got),
                loss_pct=100.0 * (len(mine) - len(got)) / len(mine) if mine else 100.0,
                last_ms=rtts[-1] if rtts else None,
                avg_ms=summary.avg if summary else None,
                best_ms=summary.min if summary else None,
                worst_ms=summary.max if summary else None,
                stdev_ms=summary.mdev if summary else None,
                final=ttl == dest,
            )
        )
    return rows


def trace_metrics(rows: list[Hop], reached: bool) -> dict[str, MetricValue]:
    """Record metrics: hop count, destination reached (1/0), and the last hop's figures."""
    last = rows[-1] if rows else None
    return {
        "hops_count": len(rows),
        "dest_reached_count": 1 if reached else 0,
        "dest_rtt_avg_ms": last.avg_ms if reached and last else None,
        "dest_rtt_best_ms": last.best_ms if reached and last else None,
        "dest_loss_pct": last.loss_pct if reached and last else None,
        "silent_hop_count": sum(1 for r in rows if r.received == 0),
    }
