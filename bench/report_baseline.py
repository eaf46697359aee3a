"""The reference for ``bench.report``: the same summary in plain Python (tarfile + json + pandas).

What a newcomer would write: open each bundle with tarfile, ``json.loads`` every line, keep one
row per probe record with the same typed figures (latency, loss, jitter, throughput from the
same per-kind metric table), then pandas: per agent × server × kind count, failures, mean and
p50/p95/p99 latency, mean loss/jitter/throughput; per country and ASN; the latency series
per agent × server in shared time buckets (p10…p90, loss). No checksum checks.

Run: ``python -m bench.report_baseline DIR OUT.json`` (prints nothing; writes the figures).
"""

from __future__ import annotations

import json
import sys
import tarfile
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from waddleperf.report.buckets import bucket_width
from waddleperf.report.figures import LATENCY, LOSS_PCT, THROUGHPUT_MBPS

QUANTILES = np.array([0.1, 0.25, 0.5, 0.75, 0.9])


def rows_of(path: Path) -> list[dict[str, Any]]:
    """One row per probe record of the bundle at ``path``."""
    out: list[dict[str, Any]] = []
    with tarfile.open(path, "r:gz") as tar:
        files = {}
        for info in tar:
            src = tar.extractfile(info)
            if src is not None and info.name in ("manifest.json", "results.ndjson"):
                files[info.name] = src.read()
    geo = json.loads(files["manifest.json"]).get("geo", {})
    for line in files["results.ndjson"].splitlines():
        rec = json.loads(line)
        kind = rec["kind"]
        if not kind.startswith("probe."):
            continue
        m = rec["metrics"]
        loss = m.get(LOSS_PCT.get(kind, ""))
        tput = m.get(THROUGHPUT_MBPS.get(kind, ""))
        failed = rec["status"] == "failed"
        out.append(
            {
                "agent": rec["agent"],
                "server": rec["info"].get("server") or rec["target"],
                "kind": kind,
                "t": rec["started_at"],
                "failed": failed,
                "latency": m.get(LATENCY.get(kind, "")),
                "loss": loss / 100
                if loss is not None
                else (1.0 if failed and kind in LOSS_PCT else None),
                "jitter": m.get("jitter_ms"),
                "tput": tput * 1e6 if tput is not None else None,
                "country": geo.get("country"),
                "asn": geo.get("asn"),
            }
        )
    return out


def _figures(frame: pd.DataFrame, keys: list[str]) -> list[dict[str, Any]]:
    g = frame.groupby(keys, dropna=False)
    table = g.agg(
        count=("kind", "size"),
        failures=("failed", "sum"),
        mean=("latency", "mean"),
        loss=("loss", "mean"),
        jitter=("jitter", "mean"),
        tput=("tput", "mean"),
    )
    q = g["latency"].quantile(np.array([0.5, 0.95, 0.99])).unstack()
    joined = table.join(q)
    return [{str(k): v for k, v in row.items()} for row in joined.reset_index().to_dict("records")]


def summary(directory: Path) -> dict[str, Any]:
    """The figures of every bundle under ``directory``."""
    rows: list[dict[str, Any]] = []
    for path in sorted(directory.rglob("*.tar.gz")):
        rows.extend(rows_of(path))
    frame = pd.DataFrame(rows)
    frame["t"] = pd.to_datetime(frame["t"], utc=True)
    first, last = frame["t"].min().to_pydatetime(), frame["t"].max().to_pydatetime()
    width = bucket_width(first, last)
    icmp = frame[frame["kind"] == "probe.icmp"].copy()
    icmp["bucket"] = (icmp["t"].astype("int64") // 10**9 // width) * width
    series = icmp.groupby(["agent", "server", "bucket"])
    bands = series["latency"].quantile(QUANTILES).unstack()
    bands = bands.join(series.agg(count=("kind", "size"), loss=("loss", "mean")))
    return {
        "bundles": len(list(directory.rglob("*.tar.gz"))),
        "results": len(frame),
        "window": [first.isoformat(), last.isoformat()] if isinstance(first, datetime) else None,
        "probes": _figures(frame, ["agent", "server", "kind"]),
        "country": _figures(frame, ["country"]),
        "asn": _figures(frame, ["asn"]),
        "series_points": len(bands),
    }


def main() -> None:
    directory, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.write_text(json.dumps(summary(directory), default=str))


if __name__ == "__main__":
    main()
