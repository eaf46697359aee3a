"""The UI's browser speed test against a reference, in Debian's headless Chromium, on loopback.

Ours: the page's own client (``static/js/speedtest/engine.js`` of the UI app) loaded from a
page of another origin (a static site on its own port, as the UI serves it) against a real
``waddleperf server``. The reference is LibreSpeed's official web client when it can be had;
it is published on none of the package registries this machine reaches (npm has neither
``librespeed`` nor ``@librespeed/speedtest``; PyPI's ``librespeed`` is a Python library, not
the web client; Debian does not package it), so by default the reference is the CLI's
speedtest probe (same protocol, same arithmetic) against the same server. ``--official DIR``
names a directory holding LibreSpeed's ``speedtest_worker.js`` fetched by hand (never
committed): the worker is then driven in the same browser and reported as well.

Each figure is the median of ``--rounds`` rounds, ours and the reference alternating. Not a
test: it prints figures and ratios, which go into docs/performance.md. Run with
``.venv/bin/python -m bench.ui_speedtest``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from tests.support.chromium import launch
from tests.support.server import start_server
from tests.support.speedtest_harness import write_site
from tests.support.static_site import serve_directory
from waddleperf.probes.speedtest import SpeedtestOptions, SpeedtestProbe

FIGURES = ("download_throughput_mbps", "upload_throughput_mbps", "ping_ms", "jitter_ms")


def _ours(page: Page, base: str, seconds: float, extra: dict[str, Any]) -> dict[str, Any]:
    options = {"durationS": seconds, "pingCount": 20, **extra}
    result: dict[str, Any] = page.evaluate("([b, o]) => window.runOurs(b, o)", [base, options])
    if result["failures"]:
        print(f"  ours: {result['failures']}", file=sys.stderr)
    return {k: result["metrics"].get(k) for k in FIGURES}


def _official(page: Page, base: str, seconds: float) -> dict[str, Any]:
    s: dict[str, Any] = page.evaluate("([b, t]) => window.runOfficial(b, t)", [base, seconds])

    def num(key: str) -> float | None:
        try:
            return float(s.get(key, ""))
        except ValueError:
            return None

    keys = ("dlStatus", "ulStatus", "pingStatus", "jitterStatus")
    return dict(zip(FIGURES, map(num, keys), strict=True))


def _cli(base: str, seconds: float) -> dict[str, Any]:
    options = SpeedtestOptions(target=base, duration_s=seconds, ping_count=20)
    result = SpeedtestProbe().run(options)
    return {k: result.metrics.get(k) for k in FIGURES}


def _median(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
    return statistics.median(values) if values else None


def _ratio(ours: float | None, ref: float | None, lower_is_better: bool) -> str:
    if not ours or not ref:
        return "—"
    return f"{(ref / ours) if lower_is_better else (ours / ref):.2f}"


def report(results: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The table: one row per figure, each client's median, and ours ÷ each reference (for
    ping and jitter, reference ÷ ours: lower is better, so ≥ 1 means ours reads as well)."""
    names = list(results)
    lines = ["figure".ljust(26) + "".join(n.rjust(12) for n in names)
             + "".join(f"ratio/{n}".rjust(16) for n in names[1:])]  # fmt: skip
    for key in FIGURES:
        medians = [_median(results[n], key) for n in names]
        cells = "".join(("—" if m is None else f"{m:.2f}").rjust(12) for m in medians)
        low = key in ("ping_ms", "jitter_ms")
        ratios = "".join(_ratio(medians[0], m, low).rjust(16) for m in medians[1:])
        lines.append(key.ljust(26) + cells + ratios)
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print the table (JSON of every round with --json)."""
    parser = argparse.ArgumentParser(prog="bench.ui_speedtest", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured s per direction")
    parser.add_argument("--official", type=Path, help="dir with LibreSpeed's speedtest_worker.js")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI probe reference")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--ours", type=json.loads, default={}, help="engine options (JSON)")
    args = parser.parse_args(argv)
    if args.official is not None and not (args.official / "speedtest_worker.js").is_file():
        print(f"bench.ui_speedtest: no speedtest_worker.js in {args.official}", file=sys.stderr)
        return 2
    results: dict[str, list[dict[str, Any]]] = {"ours": []}
    if args.official is not None:
        results["official"] = []
    if not args.no_cli:
        results["cli"] = []
    with tempfile.TemporaryDirectory(prefix="wp-ui-speed-") as tmp:
        root = Path(tmp)
        (root / "site").mkdir()
        write_site(root / "site", args.official)
        server = start_server(root, services=("http",))
        base = server.base_url + "/backend/"
        try:
            with serve_directory(root / "site") as site, launch() as browser:
                page = browser.new_page()
                page.goto(site + "harness.html")
                page.wait_for_function("window.harnessReady === true")
                page.set_default_timeout(10 * args.seconds * 1000 + 60_000)
                for n in range(args.rounds):
                    started = time.monotonic()
                    results["ours"].append(_ours(page, base, args.seconds, args.ours))
                    if "official" in results:
                        results["official"].append(_official(page, base, args.seconds))
                    if "cli" in results:
                        results["cli"].append(_cli(base, args.seconds))
                    took = time.monotonic() - started
                    last = json.dumps({k: v[-1] for k, v in results.items()})
                    print(f"round {n + 1}/{args.rounds} ({took:.0f} s): {last}", file=sys.stderr)
        finally:
            server.stop()
    if args.json:
        print(json.dumps(results, indent=1))
    print("\n".join(report(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
