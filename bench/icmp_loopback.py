"""The icmp probe's loopback RTT beside iputils ping's, alternating, in one run.

Each round runs our probe (``count`` echo requests ``interval`` apart, in this process, as
``waddleperf probe icmp`` does) and then ``ping -c COUNT -i INTERVAL HOST``, and takes both
averages (ms). The figure that matters is the difference of the means over all rounds (the
issue's bound: within 20 µs); single rounds scatter by tens of µs on a shared machine, which
is why the rounds alternate and every one is printed.

Run: ``.venv/bin/python -m bench.icmp_loopback [--rounds 8] [--host 127.0.0.1]`` (root for
raw sockets, like ping's default). Not a test: timed tests are banned from the suite.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess

from waddleperf.probes.base import run_probe

BOUND_US = 20.0


def ours_ms(host: str, count: int, interval_s: float) -> float:
    """Our probe's average RTT (ms) over ``count`` requests ``interval_s`` apart."""
    record = run_probe("icmp", {"target": host, "count": count, "interval_s": interval_s})
    avg = record.metrics.get("rtt_avg_ms")
    if not isinstance(avg, float) or record.metrics.get("lost_count"):
        raise SystemExit(f"our probe failed: {record.status.value} {record.error}")
    return avg


def ping_ms(host: str, count: int, interval_s: float) -> float:
    """iputils ping's average RTT (ms), from its summary line."""
    argv = ["ping", "-n", "-q", "-c", str(count), "-i", f"{interval_s:g}", host]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True).stdout
    match = re.search(r"= [\d.]+/([\d.]+)/", out)
    if match is None:
        raise SystemExit(f"no summary in ping's output: {out!r}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    ours: list[float] = []
    theirs: list[float] = []
    print(f"{'round':>5} {'ours ms':>9} {'ping ms':>9} {'ours-ping µs':>13}")
    for i in range(args.rounds):
        ours.append(ours_ms(args.host, args.count, args.interval))
        theirs.append(ping_ms(args.host, args.count, args.interval))
        diff_us = (ours[-1] - theirs[-1]) * 1e3
        print(f"{i + 1:>5} {ours[-1]:>9.4f} {theirs[-1]:>9.4f} {diff_us:>+13.1f}")
    a, b = statistics.fmean(ours), statistics.fmean(theirs)
    diff_us = (a - b) * 1e3
    print(
        f"mean over {args.rounds} rounds of {args.count} at {args.interval:g} s, {args.host}: "
        f"ours {a:.4f} ms, ping {b:.4f} ms, difference {diff_us:+.1f} µs, ratio {a / b:.2f} "
        f"({'within' if abs(diff_us) <= BOUND_US else 'OUTSIDE'} ±{BOUND_US:g} µs)"
    )


if __name__ == "__main__":
    main()
