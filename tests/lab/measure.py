"""Measure the lab's precision against reference tools; prints Markdown for docs/lab.md.

    python -m tests.lab.measure            (root; takes about two minutes)

Each figure is what iputils ping, iperf3 or the delayer's own counters report for a setting,
from the same run, so the table in docs/lab.md can be reproduced and compared on another machine.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Literal

from tests.lab.accuracy import counting_drops
from tests.lab.netlab import Lab
from tests.lab.netlab.refstats import binomial_bounds, iperf3_mbps, parse_ping
from tests.lab.netlab.services import start_iperf3_server


def table(*columns: str) -> list[str]:
    """The header and separator rows of a Markdown table."""
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def each_setting(
    lab: Lab, link: int, direction: Literal["up", "down"], name: str, values: Sequence[float]
) -> Iterator[float]:
    """Each of ``values`` set as ``name`` on that link with everything else cleared; the lab is
    cleared again after the last."""
    for value in values:
        lab.clear()
        lab.set_link(link, direction, **{name: value})
        yield value
    lab.clear()


def ping(lab: Lab, count: int = 300, interval: str = "0.01", v6: bool = False) -> dict[str, float]:
    """avg/mdev/min/max RTT (ms) and lost count of ``ping`` client → server."""
    target = lab.server_ip6 if v6 else lab.server_ip
    out = lab.client.ns.run(
        ["ping", "-n", "-q", "-c", str(count), "-i", interval, "-W", "1", target], check=False
    ).stdout
    s = parse_ping(out)
    return {
        "avg": s.rtt_avg_ms or 0.0,
        "mdev": s.rtt_mdev_ms or 0.0,
        "min": s.rtt_min_ms or 0.0,
        "max": s.rtt_max_ms or 0.0,
        "lost": float(s.lost),
    }


def section_delay(lab: Lab) -> list[str]:
    """Ping RTT against injected one-way delay (same both ways), and the delayer's own error."""
    rows = table("one-way delay set (each way)", "RTT expected", "ping avg", "error", "ping mdev",
                 "delayer late mean / p99 / max")  # fmt: skip
    lab.clear()
    base = ping(lab)
    rows.append(f"| none (kernel only) | 0 | {base['avg']:.3f} | — | {base['mdev']:.3f} | — |")
    for d in (0.0, 1.0, 5.0, 20.0, 50.0, 100.0):
        lab.start_delayer(1)
        lab.set_link(0, "both", delay_ms=d)
        lab.delayers[1].stats(reset=True)
        r = ping(lab, count=200 if d >= 50 else 300)
        st = lab.delayers[1].stats()["tuns"]
        late_mean = max(t["late_mean_ms"] for t in st.values())
        late_p99 = max(t["late_p99_ms"] for t in st.values())
        late_max = max(t["late_max_ms"] for t in st.values())
        rows.append(
            f"| {d:g} ms | {2 * d:g} | {r['avg']:.3f} | {r['avg'] - 2 * d:+.3f} | {r['mdev']:.3f} "
            f"| {late_mean:.3f} / {late_p99:.2f} / {late_max:.2f} |"
        )
    lab.clear()
    return rows


def section_loss(lab: Lab) -> list[str]:
    """1000 pings at several loss settings (client → server direction only)."""
    rows = table("loss set", "ping lost of 1000", "99 % binomial bounds", "nft counted")
    for pct in each_setting(lab, 0, "up", "loss_pct", (1.0, 5.0, 20.0)):
        r, counted = counting_drops(lab, lambda: ping(lab, count=1000, interval="0.005"))
        lo, hi = binomial_bounds(1000, pct / 100)
        rows.append(f"| {pct:g} % | {int(r['lost'])} | {lo}–{hi} | {counted} |")
    return rows


def iperf(lab: Lab, *args: str) -> float:
    """Receiver throughput (Mbit/s) of one iperf3 run client → server."""
    argv = ["iperf3", "-c", lab.server_ip, "-J", "-t", "4", "-O", "1", *args]
    return iperf3_mbps(lab.client.ns.run(argv, timeout=40).stdout)


def section_rate(lab: Lab) -> list[str]:
    """iperf3 against the tbf rate on r1's egress."""
    rows = table("tbf rate", "TCP goodput", "vs rate", "vs 1448/1514 of rate", "UDP (1472 B)")
    for rate in each_setting(lab, 1, "up", "rate_mbit", (5.0, 20.0, 100.0)):
        tcp = iperf(lab)
        udp = iperf(lab, "-u", "-b", f"{rate * 1.2:g}M", "-l", "1472")
        rows.append(
            f"| {rate:g} Mbit/s | {tcp:.2f} | {100 * (tcp / rate - 1):+.1f} % "
            f"| {100 * (tcp / (rate * 1448 / 1514) - 1):+.2f} % | {udp:.2f} |"
        )
    return rows


def section_delayer_load(lab: Lab) -> list[str]:
    """What the delayer sustains: TCP unshaped through it, and UDP at fixed rates."""
    rows = table("traffic through the delayer (1 ms each way)", "result",
                 "delayer late mean / p50 / p99 / max")  # fmt: skip
    lab.clear()
    direct = iperf(lab)
    rows.append(f"| TCP, no delayer (kernel forwarding only) | {direct:.0f} Mbit/s | — |")
    lab.set_link(0, "both", delay_ms=1)
    for label, args in (
        ("TCP, unshaped", ()),
        ("UDP 50 Mbit/s, 1400 B", ("-u", "-b", "50M", "-l", "1400", "-w", "4M")),
        ("UDP 100 Mbit/s, 1400 B", ("-u", "-b", "100M", "-l", "1400", "-w", "4M")),
    ):
        lab.delayers[1].stats(reset=True)
        argv = ["iperf3", "-c", lab.server_ip, "-J", "-t", "4", *args]
        doc = json.loads(lab.client.ns.run(argv, timeout=40).stdout)
        st = lab.delayers[1].stats()["tuns"]["dly-up"]
        if "-u" in args:
            s = doc["end"]["sum"]
            res = f"{s['bits_per_second'] / 1e6:.1f} Mbit/s, {s['lost_percent']:.2f} % lost"
        else:
            res = f"{doc['end']['sum_received']['bits_per_second'] / 1e6:.0f} Mbit/s"
        late = f"{st['late_mean_ms']:.3f} / {st['late_p50_ms']:.2f} / {st['late_p99_ms']:.2f}"
        rows.append(f"| {label} | {res} | {late} / {st['late_max_ms']:.2f} |")
    lab.clear()
    return rows


def main() -> int:
    """Run every section on one lab and print the tables."""
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 1
    started = time.monotonic()
    with Lab(routers=1) as lab:
        start_iperf3_server(lab)
        load = os.getloadavg()[0]
        print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f} at start\n")
        for title, fn in (
            ("Delay", section_delay),
            ("Loss", section_loss),
            ("Rate", section_rate),
            ("Delayer under load", section_delayer_load),
        ):
            print(f"### {title}\n")
            print("\n".join(fn(lab)), end="\n\n", flush=True)
    print(f"({time.monotonic() - started:.0f} s, load average {os.getloadavg()[0]:.2f} at end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
