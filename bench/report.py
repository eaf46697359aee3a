"""``waddleperf report`` at fleet scale, beside a plain-Python baseline, in one run.

Synthetic bundles come from the project's own bundle writer (:mod:`tests.support.fleet`:
20 agents, 4 servers — ``--servers`` — the default configuration's cycles: tier 1's five
probes per server, tier-2/3 episodes with their escalation and de-escalation events, load runs
and profiling points, geo tags; ≈ 20 result rows a bundle, the goals' ≈ 2 million per 100 000
bundles), cached under ``--data`` between runs (a directory per size and fleet, named by a
digest of the spec and the generator's code). For each size:

* **ours, cold**: ``waddleperf report DIR --catalog NEW --out OUT`` (ingest into an empty
  catalog, summary, every output: summary.json, report.html, summary.md, the PNGs) as a child
  process: wall seconds and its peak RSS;
* **ours, incremental**: 1 000 more bundles, the same command on the same catalog and output
  directory;
* **baseline**: ``bench.report_baseline`` (tarfile + json + pandas, the same figures) as a
  child process: wall seconds and peak RSS; the ratio baseline / ours.

Children run with a bytecode cache (``PYTHONPYCACHEPREFIX`` under ``--data``, warmed by an
untimed run first), as a normal installation has one; this machine sets
``PYTHONDONTWRITEBYTECODE=1``, which makes every run compile its ~500 modules again (about a
second of CPU) — ``--no-bytecode-cache`` measures that way.

``--staging`` also times both bulk-load paths (NDJSON through DuckDB's reader, Arrow through
pyarrow's) at the first size. Goals: 100 000 bundles in ≤ 60 s cold, +1 000 in
≤ 5 s, peak RSS ≤ 2 GB. Run: ``python -m bench.report [--sizes 1000,10000,100000]``.
Not a test: figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support import fleet
from tests.support.fleet import FleetSpec, write_fleet

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")
SERVERS = 4
INCREMENT = 1000
#: The children's environment (main sets the bytecode cache in it).
CHILD_ENV: dict[str, str] = dict(os.environ)


def timed(argv: list[str]) -> tuple[float, float, float]:
    """Run ``argv``; wall seconds, peak RSS of the process in MiB, CPU seconds (user + system,
    with its worker processes)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=CHILD_ENV)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
    if proc.returncode not in (0,):
        raise RuntimeError(f"{argv[:3]} exited {proc.returncode}: {lines[-3:]}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def fleet_digest(spec: FleetSpec) -> str:
    """Names a cached fleet: its spec and the generator's code (a changed generator makes a
    new fleet, never reuses an old one)."""
    h = hashlib.sha256(repr(dataclasses.astuple(spec)).encode())
    h.update(Path(fleet.__file__).read_bytes())
    return h.hexdigest()[:12]


def dataset(data: Path, spec: FleetSpec, count: int) -> Path:
    """A directory of ``count`` fleet bundles (made once, then reused)."""
    target = data / f"fleet-{count}-{fleet_digest(spec)}"
    marker = target / ".complete"
    if marker.exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    start = time.perf_counter()
    write_fleet(target, spec, count, workers=os.cpu_count() or 1)
    marker.write_text(str(count))
    print(f"  generated {count} bundles in {time.perf_counter() - start:.0f} s", flush=True)
    return target


def ours(
    source: Path, catalog: Path, out: Path, staging: str = "ndjson"
) -> tuple[float, float, float]:
    argv = [
        WADDLEPERF,
        "report",
        str(source),
        "--catalog",
        str(catalog),
        "--out",
        str(out),
        "--staging",
        staging,
    ]
    return timed(argv)


def baseline(source: Path, out: Path) -> tuple[float, float, float]:
    return timed([sys.executable, "-m", "bench.report_baseline", str(source), str(out)])


def warm(data: Path, spec: FleetSpec) -> None:
    """One untimed run of ours and the baseline, so that the bytecode cache holds every module
    the timed runs import."""
    source = dataset(data, spec, INCREMENT)
    with tempfile.TemporaryDirectory(prefix="wp-bench-warm-") as tmp:
        ours(source, Path(tmp) / "c.duckdb", Path(tmp) / "out")
        baseline(source, Path(tmp) / "base.json")


def bench_size(data: Path, spec: FleetSpec, count: int, with_baseline: bool) -> dict[str, float]:
    source = dataset(data, spec, count)
    work = Path(tempfile.mkdtemp(prefix="wp-bench-report-"))
    try:
        extra = work / "fleet"
        shutil.copytree(source, extra, symlinks=True)
        cold, cold_rss, cold_cpu = ours(extra, work / "c.duckdb", work / "out")
        write_fleet(extra, spec, INCREMENT, first=count)
        inc, inc_rss, inc_cpu = ours(extra, work / "c.duckdb", work / "out")
        figures = {
            "bundles": count,
            "cold_s": cold,
            "cold_rss_mb": cold_rss,
            "cold_cpu_s": cold_cpu,
            "incremental_s": inc,
            "incremental_rss_mb": inc_rss,
            "incremental_cpu_s": inc_cpu,
            "catalog_mb": (work / "c.duckdb").stat().st_size / 2**20,
        }
        summary = json.loads((work / "out" / "summary.json").read_text())
        figures["results"] = summary["totals"]["results"]
        if with_baseline:
            base, base_rss, base_cpu = baseline(source, work / "base.json")
            figures.update(
                baseline_s=base,
                baseline_rss_mb=base_rss,
                baseline_cpu_s=base_cpu,
                ratio=base / cold,
            )
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_staging(data: Path, spec: FleetSpec, count: int) -> dict[str, float]:
    source = dataset(data, spec, count)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="wp-bench-staging-") as tmp:
        for how in ("ndjson", "arrow"):
            wall, _, cpu = ours(source, Path(tmp) / f"{how}.duckdb", Path(tmp) / how, how)
            out[how], out[how + "_cpu"] = wall, cpu
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="bundle counts, comma-separated")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "wp-bench")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--staging", type=int, default=0, help="also compare staging at N")
    parser.add_argument("--servers", type=int, default=SERVERS, help="servers of the fleet")
    parser.add_argument("--no-bytecode-cache", action="store_true", help="run children as set")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    spec = FleetSpec(agents=20, servers=args.servers)
    if not args.no_bytecode_cache:
        CHILD_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(args.data / "pycache")
        warm(args.data, spec)
    if args.staging:
        st = bench_staging(args.data, spec, args.staging)
        print(
            f"staging at {args.staging} bundles (whole command, wall / CPU): "
            f"ndjson {st['ndjson']:.1f} s / {st['ndjson_cpu']:.1f} s, "
            f"arrow {st['arrow']:.1f} s / {st['arrow_cpu']:.1f} s "
            f"(arrow / ndjson {st['arrow'] / st['ndjson']:.2f})"
        )
    head = (
        f"{'bundles':>8} {'rows':>9} {'ours cold s':>11} {'cpu s':>6} {'RSS MiB':>8} "
        f"{'+1000 s':>8} {'baseline s':>10} {'cpu s':>6} {'RSS MiB':>8} {'ratio':>6}"
    )
    print(head)
    for size in (int(s) for s in args.sizes.split(",")):
        f = bench_size(args.data, spec, size, not args.no_baseline)
        base = (
            f"{f['baseline_s']:>10.1f} {f['baseline_cpu_s']:>6.1f} "
            f"{f['baseline_rss_mb']:>8.0f} {f['ratio']:>5.1f}x"
            if "baseline_s" in f
            else f"{'-':>10} {'-':>6} {'-':>8} {'-':>6}"
        )
        print(
            f"{size:>8} {int(f['results']):>9} {f['cold_s']:>11.1f} {f['cold_cpu_s']:>6.1f} "
            f"{f['cold_rss_mb']:>8.0f} {f['incremental_s']:>8.2f} {base}",
            flush=True,
        )
        print(
            f"         +1000: {f['incremental_cpu_s']:.1f} s CPU, "
            f"{f['incremental_rss_mb']:.0f} MiB; catalog {f['catalog_mb']:.0f} MiB",
            flush=True,
        )


if __name__ == "__main__":
    main()
