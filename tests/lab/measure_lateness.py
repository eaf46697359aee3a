"""The lab's own error on the 3-router path, run after run; prints Markdown for docs/lab.md.

    python -m tests.lab.measure_lateness [--runs 20] [--halt-poll-ns N]   (root)

Each run is 200 pings (10 ms apart) through the delayers of r1 and r3 (5 + 7 + 3 + 10 ms, as
``test_selfcheck_delay``); per delayer device it prints the lateness the kernel saw (hold −
injected: wake-up to read the packet plus lateness of the write, ``delaytruth``) and ping
against the truth of its own packets. ``WPL_SCHED``/``WPL_SPIN_S``/``WPL_TRUTH`` reach the
delayers, so alternatives can be compared in one sitting; ``--halt-poll-ns`` sets the guest's
haltpoll window for the run (restored after).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Literal

from tests.lab.accuracy import hold_ms, lateness, path_ms, reset_holds
from tests.lab.netlab import Lab
from tests.lab.netlab.refstats import parse_ping

HALT_POLL = Path("/sys/module/haltpoll/parameters/guest_halt_poll_ns")
LINKS: tuple[tuple[int, Literal["up", "down"], float], ...] = (
    (0, "up", 5.0),
    (1, "down", 7.0),
    (3, "up", 3.0),
    (3, "down", 10.0),
)


def ping_avg(lab: Lab) -> float:
    """iputils ping's average RTT (ms), 200 pings 10 ms apart, client → server."""
    out = lab.client.ns.run(["ping", "-n", "-q", "-c", "200", "-i", "0.01", lab.server_ip])
    avg = parse_ping(out.stdout).rtt_avg_ms
    assert avg is not None, out.stdout
    return avg


def steal_ms() -> float:
    """CPU time (ms, all CPUs) the hypervisor has given to others while this guest wanted it."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return int(fields[8]) * 1000 / os.sysconf("SC_CLK_TCK")


def measure(runs: int) -> list[str]:
    """The table: one row per run, then the figures over all runs."""
    rows = ["| run | ping − truth | steal ms | " + " | ".join(f"{d} late mean / p50 / p99 / max"
            for d in ("r1/dly-up", "r3/dly-up", "r3/dly-dn", "r1/dly-dn")) + " |"]  # fmt: skip
    rows.append("|---|---|---|" + "---|" * 4)
    per_dev: dict[str, list[dict[str, float]]] = {}
    errors: list[float] = []
    with Lab(routers=3) as lab:
        lab.start_delayer(1)
        lab.start_delayer(3)
        reset_holds(lab)
        base = path_ms(ping_avg(lab), hold_ms(lab))
        for link, direction, delay in LINKS:
            lab.set_link(link, direction, delay_ms=delay)
        for run in range(1, runs + 1):
            reset_holds(lab)
            stolen = steal_ms()
            avg = ping_avg(lab)
            stolen = steal_ms() - stolen
            errors.append(avg - (base + hold_ms(lab)))
            table = lateness(lab)
            cells = []
            for dev in ("r1/dly-up", "r3/dly-up", "r3/dly-dn", "r1/dly-dn"):
                st = table[dev]
                per_dev.setdefault(dev, []).append(st)
                cells.append(
                    f"{st['mean']:.3f} / {st['p50']:.2f} / {st['p99']:.2f} / {st['max']:.2f}"
                )
            rows.append(f"| {run} | {errors[-1]:+.3f} | {stolen:.0f} | " + " | ".join(cells) + " |")
    summary = []
    for dev in ("r1/dly-up", "r3/dly-up", "r3/dly-dn", "r1/dly-dn"):
        seen = per_dev[dev]
        summary.append(
            f"{statistics.mean(s['mean'] for s in seen):.3f} / "
            f"{statistics.median(s['p50'] for s in seen):.2f} / "
            f"{max(s['p99'] for s in seen):.2f} / {max(s['max'] for s in seen):.2f}"
        )
    rows.append(
        f"| all {runs} (mean of means / median p50 / worst p99 / worst max) | "
        f"{min(errors):+.3f} … {max(errors):+.3f} | | " + " | ".join(summary) + " |"
    )
    sums = [sum(s["mean"] for s in (per_dev[d][i] for d in per_dev)) for i in range(runs)]
    writes = [sum(s["write_mean"] for s in (per_dev[d][i] for d in per_dev)) for i in range(runs)]
    rows.append(f"\nSum of the four means per run (the RTT's share): "
                f"median {statistics.median(sums):.3f} ms, worst {max(sums):.3f} ms; of which the "
                f"writes' lateness: median {statistics.median(writes):.3f} ms, the rest the "
                f"wake-up to read")  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    """Measure and print; restore the haltpoll window if it was changed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--halt-poll-ns", type=int, default=None)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 1
    before = HALT_POLL.read_text().strip() if HALT_POLL.exists() else None
    if args.halt_poll_ns is not None and before is not None:
        HALT_POLL.write_text(str(args.halt_poll_ns))
    started = time.monotonic()
    try:
        settings = {
            k: os.environ[k] for k in ("WPL_SCHED", "WPL_SPIN_S", "WPL_TRUTH") if k in os.environ
        }
        window = HALT_POLL.read_text().strip() if before is not None else "n/a"
        load = os.getloadavg()[0]
        print(
            f"machine: {os.cpu_count()} CPUs, load {load:.2f}, haltpoll {window} ns, {settings}\n"
        )
        print("\n".join(measure(args.runs)))
    finally:
        if before is not None:
            HALT_POLL.write_text(before)
    print(f"\n({time.monotonic() - started:.0f} s, load {os.getloadavg()[0]:.2f} at end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
