"""Load-generator benchmark: ``waddleperf load`` vs plain Locust (FastHttpUser) vs wrk.

All three hammer the same endpoint of the same gunicorn-served Flask target on loopback, one
after the other in one run, with the same number of connections/users and no think time.
The figure compared is requests per second per core of the *generator*: requests divided by
the CPU seconds (user + system) the generator's whole process tree used, read from the
kernel's accounting of waited-for children (``RUSAGE_CHILDREN``), so nothing is sampled.

Our overhead over plain Locust must stay within 10%:  1 - ours / plain <= 0.10.

Run: ``.venv/bin/python -m bench.load [--seconds 10] [--users 10] [--path /]``.
Not a test: it prints figures and ratios (and ``--json FILE`` writes them).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.support.targets import start_target

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")
MAX_OVERHEAD = 0.10

PLAIN_LOCUSTFILE = """
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser


class PlainUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def hit(self):
        self.client.get("{path}")
"""


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measure(argv: Sequence[str], cwd: Path, timeout_s: float) -> tuple[float, float, str]:
    """Run ``argv`` to completion: (CPU seconds of its tree, wall seconds, stdout+stderr)."""
    cpu0, t0 = _children_cpu_s(), time.monotonic()
    res = subprocess.run(
        list(argv),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
    )
    wall, cpu = time.monotonic() - t0, _children_cpu_s() - cpu0
    if res.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({res.returncode}): {res.stderr[-2000:]}")
    return cpu, wall, res.stdout + res.stderr


def run_ours(url: str, path: str, users: int, seconds: float, tmp: Path) -> dict[str, Any]:
    """``waddleperf load run`` with the endpoint user (HDR recording, profiler on, no plots)."""
    out = tmp / "ours"
    cpu, wall, _ = _measure(
        [
            WADDLEPERF,
            "load",
            "run",
            "--host",
            url,
            "--user",
            "endpoint",
            "--path",
            path,
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--duration",
            str(seconds),
            "--no-plots",
            "--out",
            str(out),
        ],
        tmp,
        seconds + 120,
    )
    record = json.loads((out / "result.json").read_text())
    m = record["metrics"]
    # Two figures: the Locust processes alone (per-request cost, what the 10% budget is about)
    # and the whole command, whose fixed start-up (imports, record, profiler) a short run feels.
    return {
        "requests": m["requests_count"],
        "run_s": m["run_s"],
        "cpu_s": m["generator_cpu_s"],
        "cli_cpu_s": cpu,
        "wall_s": wall,
        "failures": m["failures_count"],
    }


def run_plain(url: str, path: str, users: int, seconds: float, tmp: Path) -> dict[str, Any]:
    """Plain Locust: a FastHttpUser with one task, headless, ``--run-time``."""
    locustfile = tmp / "plain_locustfile.py"
    locustfile.write_text(PLAIN_LOCUSTFILE.format(path=path))
    stats_file = tmp / "plain-stats"
    cpu, wall, _ = _measure(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(locustfile),
            "--headless",
            "--only-summary",
            "--host",
            url,
            "-u",
            str(users),
            "-r",
            str(users),
            "--run-time",
            f"{int(seconds)}s",
            "--json-file",
            str(stats_file),
        ],
        tmp,
        seconds + 120,
    )
    # Locust's own final stats (its CSV is written before the last requests are counted)
    entries = json.loads(stats_file.with_suffix(".json").read_text())
    requests = sum(int(e["num_requests"]) for e in entries)
    run_s = max(e["last_request_timestamp"] for e in entries) - min(
        e["start_time"] for e in entries
    )
    return {
        "requests": requests,
        "run_s": run_s,
        "cpu_s": cpu,
        "wall_s": wall,
        "failures": sum(int(e["num_failures"]) for e in entries),
    }


def run_wrk(url: str, path: str, users: int, seconds: float, tmp: Path) -> dict[str, Any] | None:
    """wrk with one thread and ``users`` connections (None when wrk is not installed)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    cpu, wall, out = _measure(
        [wrk, "-t1", f"-c{users}", f"-d{int(seconds)}s", url + path], tmp, seconds + 60
    )
    match = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if match is None:
        raise RuntimeError(f"cannot read wrk's output: {out[-500:]}")
    run_s = float(match.group(2)) * (1e-3 if match.group(3) == "ms" else 1.0)
    return {
        "requests": int(match.group(1)),
        "run_s": run_s,
        "cpu_s": cpu,
        "wall_s": wall,
        "failures": 0,
    }


def _rates(row: dict[str, Any]) -> dict[str, Any]:
    row["rps"] = round(row["requests"] / row["run_s"], 1)
    row["rps_per_core"] = round(row["requests"] / row["cpu_s"], 1) if row["cpu_s"] else None
    if "cli_cpu_s" in row:
        row["rps_per_core_whole_cli"] = round(row["requests"] / row["cli_cpu_s"], 1)
        row["cli_cpu_s"] = round(row["cli_cpu_s"], 2)
    row["cpu_s"] = round(row["cpu_s"], 2)
    row["wall_s"] = round(row["wall_s"], 2)
    return row


def _median_row(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median req/s per core (machines are noisy; one run proves little)."""
    ordered = sorted(rounds, key=lambda r: r["rps_per_core"] or 0.0)
    row = dict(ordered[len(ordered) // 2])
    row["rps_per_core_rounds"] = [r["rps_per_core"] for r in rounds]
    return row


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; median kept")
    parser.add_argument("--path", default="/")
    parser.add_argument("--target-workers", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    generators = (
        ("waddleperf load", run_ours),
        ("locust FastHttpUser", run_plain),
        ("wrk", run_wrk),
    )
    rounds: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in generators}
    with tempfile.TemporaryDirectory(prefix="wp-bench-load-") as name:
        tmp = Path(name)
        target = start_target(tmp, "flask", workers=args.target_workers)
        try:
            # interleaved, so a neighbour's burst of CPU hits every generator alike
            for _ in range(max(1, args.rounds)):
                for label, fn in generators:
                    row = fn(target.url, args.path, args.users, args.seconds, tmp)
                    if row is not None:
                        rounds[label].append(_rates(row))
        finally:
            target.stop()
    rows = {label: _median_row(r) for label, r in rounds.items() if r}
    print(
        f"target: flask on gunicorn ({args.target_workers} worker), GET {args.path}, "
        f"{args.users} users/connections, {args.seconds:.0f} s each, {args.rounds} rounds "
        f"(median), loopback, {os.cpu_count()} cores"
    )
    print(f"{'generator':<22}{'req/s':>10}{'CPU s':>9}{'req/s per core':>16}{'failures':>10}")
    for label, row in rows.items():
        print(
            f"{label:<22}{row['rps']:>10}{row['cpu_s']:>9}{row['rps_per_core']:>16}"
            f"{row['failures']:>10}   rounds: {row['rps_per_core_rounds']}"
        )
    ours = rows["waddleperf load"]["rps_per_core"]
    plain = rows["locust FastHttpUser"]["rps_per_core"]
    overhead = 1 - ours / plain
    verdict = "within" if overhead <= MAX_OVERHEAD else "OVER"
    print(
        f"overhead of waddleperf load over plain Locust: {overhead:+.1%} per core "
        f"({verdict} the {MAX_OVERHEAD:.0%} budget)"
    )
    whole = rows["waddleperf load"]["rps_per_core_whole_cli"]
    print(
        f"waddleperf load counting the whole command (start-up, profiler, record): "
        f"{whole} req/s per core ({1 - whole / plain:+.1%} vs plain Locust)"
    )
    if "wrk" in rows:
        print(f"wrk / waddleperf load per core: {rows['wrk']['rps_per_core'] / ours:.1f}x")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "overhead_vs_locust": overhead}, indent=2))
    return 0 if overhead <= MAX_OVERHEAD else 1


if __name__ == "__main__":
    sys.exit(main())
