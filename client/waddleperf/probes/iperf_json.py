"""iperf3 ``-J`` output → metrics and per-interval samples. Pure: a dict in, values out.

Layout read (iperf3 3.9 … 3.16): ``end.sum_sent`` / ``end.sum_received`` for the test's main
direction (client → server, or server → client with ``-R``), ``end.sum_*_bidir_reverse`` for
the other direction of ``--bidir``; ``end.streams[].sender`` carries the TCP sender's RTT in µs
(``mean_rtt``, ``min_rtt``, ``max_rtt``) — only where this side was the sender: for data the
client receives iperf3 reports zeros (-R) or the receiving socket's stale estimate (--bidir),
which we turn into null, never into a 0 ms or 5 µs RTT. UDP jitter and loss
come from the receiver (``sum_received``, else ``sum``). ``"error"`` is iperf3's own sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from waddleperf.results.model import MetricValue, Sample

Doc = dict[str, Any]
REVERSE = "reverse_"
_RTT = ("mean", "min", "max")


@dataclass
class IperfReport:
    """What one iperf3 run reported: error sentence, protocol, metrics, samples, null reasons."""

    error: str | None
    protocol: str
    reverse: bool
    bidir: bool
    metrics: dict[str, MetricValue] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _num(obj: Any, key: str) -> float | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def mbps(bits_per_second: float | None) -> float | None:
    """Bits per second → Mbit/s (10⁶ bit/s, as iperf3 itself counts)."""
    return None if bits_per_second is None else bits_per_second / 1e6


def _direction_metrics(end: Doc, suffix: str, prefix: str, udp: bool) -> dict[str, MetricValue]:
    sent, received = end.get("sum_sent" + suffix), end.get("sum_received" + suffix)
    out: dict[str, MetricValue] = {
        f"{prefix}sent_throughput_mbps": mbps(_num(sent, "bits_per_second")),
        f"{prefix}received_throughput_mbps": mbps(_num(received, "bits_per_second")),
        f"{prefix}sent_bytes": _int(_num(sent, "bytes")),
        f"{prefix}received_bytes": _int(_num(received, "bytes")),
    }
    if udp:
        # The receiver's view: jitter and loss are only known where the datagrams arrived.
        rx = received if isinstance(received, dict) else end.get("sum" + suffix) or {}
        out[f"{prefix}jitter_ms"] = _num(rx, "jitter_ms")
        out[f"{prefix}loss_pct"] = _num(rx, "lost_percent")
        out[f"{prefix}lost_count"] = _int(_num(rx, "lost_packets"))
        out[f"{prefix}packets_count"] = _int(_num(rx, "packets"))
    else:
        out[f"{prefix}retransmits_count"] = _int(_num(sent, "retransmits"))
    return out


def _obj(value: Any) -> Doc:
    return value if isinstance(value, dict) else {}


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def tcp_rtt_ms(streams: list[Any], local_sender: bool) -> dict[str, float | None]:
    """RTT figures in ms from the sender halves of ``streams`` with sender flag ``local_sender``.

    mean = mean of the streams' ``mean_rtt``; min/max over the streams. None when iperf3 gave
    only zeros (it does for a remote sender, whose kernel RTT it never sees).
    """
    means, mins, maxes = [], [], []
    for stream in streams:
        sender = stream.get("sender") if isinstance(stream, dict) else None
        if not isinstance(sender, dict) or bool(sender.get("sender")) is not local_sender:
            continue
        mean = _num(sender, "mean_rtt")
        if not mean:  # 0 = not measured
            continue
        means.append(mean / 1000)
        mins.append((_num(sender, "min_rtt") or mean) / 1000)
        maxes.append((_num(sender, "max_rtt") or mean) / 1000)
    if not means:
        return dict.fromkeys(_RTT)
    return {"mean": sum(means) / len(means), "min": min(mins), "max": max(maxes)}


def _interval_samples(intervals: list[Any], udp: bool, bidir: bool) -> list[Sample]:
    samples: list[Sample] = []
    keys = [("sum", "main")] + ([("sum_bidir_reverse", "reverse")] if bidir else [])
    for index, interval in enumerate(intervals):
        if not isinstance(interval, dict):
            continue
        for key, direction in keys:
            part = interval.get(key)
            if not isinstance(part, dict):
                continue
            sample: Sample = {
                "interval": index,
                "direction": direction,
                "start_s": _num(part, "start"),
                "end_s": _num(part, "end"),
                "bytes": _int(_num(part, "bytes")),
                "throughput_mbps": mbps(_num(part, "bits_per_second")),
                "omitted": bool(part.get("omitted", False)),
                "local_sender": bool(part.get("sender", False)),
            }
            if udp:
                sample["packets_count"] = _int(_num(part, "packets"))
                sample["jitter_ms"] = _num(part, "jitter_ms")
                sample["loss_pct"] = _num(part, "lost_percent")
            else:
                sample["retransmits_count"] = _int(_num(part, "retransmits"))
                rtts = [
                    r / 1000
                    for s in interval.get("streams", [])
                    if isinstance(s, dict) and bool(s.get("sender")) is bool(part.get("sender"))
                    and (r := _num(s, "rtt"))
                ]  # fmt: skip
                sample["rtt_ms"] = sum(rtts) / len(rtts) if rtts else None
            samples.append(sample)
    return samples


def parse_report(doc: Doc) -> IperfReport:
    """Read one ``iperf3 -J`` document (client side) into an IperfReport."""
    start = _obj(doc.get("start"))
    test = _obj(start.get("test_start"))
    protocol = str(test.get("protocol") or "TCP").upper()
    reverse = bool(test.get("reverse"))
    end = _obj(doc.get("end"))
    bidir = "sum_sent_bidir_reverse" in end or bool(test.get("bidir"))
    error = doc.get("error")
    report = IperfReport(
        error=str(error).strip() if error else None,
        protocol=protocol,
        reverse=reverse,
        bidir=bidir,
    )
    if not end or "sum_sent" not in end:
        if report.error is None:
            report.error = "iperf3 reported no end results"
        return report
    udp = protocol == "UDP"
    report.metrics.update(_direction_metrics(end, "", "", udp))
    if bidir:
        report.metrics.update(_direction_metrics(end, "_bidir_reverse", REVERSE, udp))
    if not udp:
        raw_streams = end.get("streams")
        streams = raw_streams if isinstance(raw_streams, list) else []
        directions = [("", not reverse)] + ([(REVERSE, False)] if bidir else [])
        for prefix, local in directions:
            # Only the sending kernel knows the data path's RTT: for streams the client
            # receives, iperf3 reports the receiving socket's own stale estimate (a few µs).
            rtt = tcp_rtt_ms(streams, local_sender=True) if local else dict.fromkeys(_RTT)
            for figure, value in rtt.items():
                report.metrics[f"{prefix}rtt_{figure}_ms"] = value
            if rtt["mean"] is None:
                where = "server → client" if prefix or reverse else "client → server"
                report.notes.append(
                    f"TCP RTT of the {where} direction is null: the server sent that data and "
                    "iperf3 does not report the remote sender's RTT"
                )
    report.samples = _interval_samples(doc.get("intervals") or [], udp, bidir)
    return report
