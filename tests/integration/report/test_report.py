"""``waddleperf report`` over real bundle files: figures against ground truth, the incremental
catalog, damaged inputs, --sql, filters and baselines."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import shutil
import statistics
from datetime import timedelta
from pathlib import Path

import pytest

from tests.integration.report.conftest import COUNT, SPEC, report, truth
from tests.support.builders import archive_bytes, filled_writer, members_of, pack
from tests.support.fleet import FleetSpec, write_fleet
from tests.support.summary_schema import validate_summary
from waddleperf.report.figures import LATENCY


def test_figures_match_the_bundles(fleet: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = report(fleet, "--catalog", tmp_path / "c.duckdb", "--out", out)
    assert run.code == 0, run.stderr
    doc = run.summary(out)
    validate_summary(doc)
    want = truth(fleet)
    assert doc["totals"]["bundles"] == want["bundles"] == COUNT
    assert doc["totals"]["events"] == want["events"] > 0
    assert doc["totals"]["load_runs"] == want["loads"] > 0
    assert doc["totals"]["agents"] == SPEC.agents and doc["totals"]["servers"] == SPEC.servers
    rows = {(r["agent"], r["server"], r["kind"]): r for r in doc["probes"]}
    assert set(rows) == set(want["groups"])
    for key, records in want["groups"].items():
        row = rows[key]
        assert row["count"] == len(records)
        assert row["failures"] == sum(r.status.value == "failed" for r in records)
        values = [r.metrics[LATENCY[key[2]]] for r in records if key[2] in LATENCY
                  and r.metrics.get(LATENCY[key[2]]) is not None]  # fmt: skip
        if values:
            assert row["rtt_ms"]["mean"] == pytest.approx(statistics.fmean(values), rel=1e-9)
            assert row["rtt_ms"]["p50"] == pytest.approx(statistics.median(values), rel=1e-9)
        else:
            assert row["rtt_ms"] is None
    # one SmokePing series per agent × server, icmp preferred, every one on the same axis
    series = doc["latency_series"]
    assert len(series) == SPEC.agents * SPEC.servers
    assert {s["kind"] for s in series} == {"probe.icmp"}
    axes = {tuple(p["t"] for p in s["points"]) for s in series}
    assert len(axes) == 1
    assert sum(p["count"] for s in series for p in s["points"]) == sum(
        len(v) for k, v in want["groups"].items() if k[2] == "probe.icmp")  # fmt: skip
    # geo: five countries cycle over the agents; counts add up
    assert sum(c["count"] for c in doc["geo"]["country"]) == doc["totals"]["results"]
    assert {a["asn"] for a in doc["geo"]["asn"]} == {64500, 64501, 64502, 64503}
    assert all(e["reason"] and e["to_tier"] != e["from_tier"] for e in doc["escalations"])
    steps = {(e["from_tier"], e["to_tier"]) for e in doc["escalations"]}
    assert steps == {(1, 2), (2, 3), (2, 1), (3, 1)}  # up through the tiers, and back down
    assert len(doc["escalations"]) == want["events"]
    assert {r["framework"] for r in doc["load"]} == {"django", "flask"}
    assert doc["comparison"]["a"] == "django" and doc["comparison"]["rows"]
    assert all(p["points"] and p["points"][0]["rss_bytes"] for p in doc["profiling"])
    assert doc["regressions"] is None and doc["data_quality"] == {"skipped": 0, "bundles": []}


def test_filters_narrow_every_table(fleet: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    since = (SPEC.start + timedelta(minutes=10)).isoformat()
    run = report(fleet, "--catalog", tmp_path / "c.duckdb", "--out", out, "--agent", "agent-01",
                 "--kind", "icmp", "--since", since, "--server", "server-1")  # fmt: skip
    assert run.code == 0, run.stderr
    doc = run.summary(out)
    assert {(r["agent"], r["server"], r["kind"]) for r in doc["probes"]} == {
        ("agent-01", "server-1", "probe.icmp")}  # fmt: skip
    assert doc["probes"][0]["count"] == 30 - 10  # one cycle a minute, from minute 10
    assert doc["filters"]["kind"] == ["probe.icmp"] and doc["window"]["first"] >= since[:16]
    only_nl = report(
        fleet,
        "--catalog",
        tmp_path / "c.duckdb",
        "--sql",
        "SELECT DISTINCT country FROM results",
        "--country",
        "nl",
        "--format",
        "csv",
    )
    assert only_nl.stdout.split() == ["country", "NL"]


def test_catalog_is_incremental(fleet: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(fleet, data)
    cat = tmp_path / "c.duckdb"
    assert f"{COUNT} new ingested" in report(data, "--catalog", cat, "--sql", "SELECT 1").stderr
    again = report(data, "--catalog", cat, "--sql", "SELECT count(*) FROM bundles", "--format",
                   "csv")  # fmt: skip
    assert "0 new ingested" in again.stderr and again.stdout.split()[-1] == str(COUNT)
    write_fleet(data, SPEC, 8, first=COUNT)
    more = report(data, "--catalog", cat, "--sql", "SELECT count(*) FROM bundles", "--format",
                  "csv")  # fmt: skip
    assert "8 new ingested" in more.stderr and more.stdout.split()[-1] == str(COUNT + 8)


def _damaged(directory: Path, fleet: Path) -> dict[str, str]:
    """Broken bundles beside good ones; name → the words its reason must hold."""
    directory.mkdir()
    good = sorted(fleet.rglob("*.tar.gz"))
    for path in good[:10]:
        shutil.copy(path, directory / path.name)
    data = good[0].read_bytes()
    (directory / "truncated.tar.gz").write_bytes(data[: len(data) // 2])
    (directory / "junk.tar.gz").write_bytes(b"this is not a bundle")
    (directory / "copy.tar.gz").write_bytes(data)  # same run id as good[0]
    newer = archive_bytes(filled_writer(None, run_id="future"))
    raw = gzip.decompress(newer).replace(b'"bundle_format": 1', b'"bundle_format": 7')
    (directory / "future.tar.gz").write_bytes(gzip.compress(raw))
    # a good bundle of another run: counted, not skipped
    (directory / "other.tar.gz").write_bytes(archive_bytes(filled_writer(None, run_id="other")))
    return {"truncated.tar.gz": "truncated", "junk.tar.gz": "corrupt",
            "copy.tar.gz": "duplicate", "future.tar.gz": "bundle_format 7"}  # fmt: skip


def test_damaged_inputs_are_skipped_counted_and_listed(fleet: Path, tmp_path: Path) -> None:
    data = tmp_path / "mixed"
    expect = _damaged(data, fleet)
    out, cat = tmp_path / "out", tmp_path / "c.duckdb"
    for attempt in range(2):  # the second run reads nothing and still lists them
        run = report(data, "--catalog", cat, "--out", out)
        assert run.code == 0, run.stderr
        doc = run.summary(out)
        validate_summary(doc)
        quality = doc["data_quality"]
        listed = {Path(b["source"]).name: b["reason"] for b in quality["bundles"]}
        assert quality["skipped"] == len(expect) == len(listed)
        for name, words in expect.items():
            assert words in listed[name], (name, listed[name])
        assert doc["totals"]["bundles"] == 11  # ten of the fleet and other.tar.gz
        if attempt:
            assert "0 new ingested" in run.stderr


def test_a_record_of_an_unknown_schema_version_skips_its_bundle(tmp_path: Path) -> None:
    members = members_of(archive_bytes(filled_writer(None, run_id="v9")))
    results = members[1][1].replace(b'"schema_version":"1.0"', b'"schema_version":"9.0"', 1)
    manifest = json.loads(members[0][1])
    manifest["members"][0].update(
        sha256=hashlib.sha256(results).hexdigest(), size_bytes=len(results)
    )
    (tmp_path / "d").mkdir()
    forged = [("manifest.json", json.dumps(manifest).encode()), ("results.ndjson", results)]
    pack(tmp_path / "d" / "v9.tar.gz", forged + members[2:])
    (tmp_path / "d" / "ok.tar.gz").write_bytes(archive_bytes(filled_writer(None, run_id="ok")))
    out = tmp_path / "out"
    run = report(tmp_path / "d", "--catalog", tmp_path / "c.duckdb", "--out", out)
    doc = run.summary(out)
    assert run.code == 0 and doc["totals"]["bundles"] == 1
    assert "unknown schema_version 9.0" in doc["data_quality"]["bundles"][0]["reason"]


def test_sql_formats(fleet: Path, tmp_path: Path) -> None:
    cat = tmp_path / "c.duckdb"
    query = "SELECT agent, count(*) AS n, min(started_at) AS first FROM results GROUP BY agent"
    as_json = json.loads(report(fleet, "--catalog", cat, "--sql", query, "--format", "json").stdout)
    as_csv = list(csv.DictReader(io.StringIO(
        report(fleet, "--catalog", cat, "--sql", query, "--format", "csv").stdout)))  # fmt: skip
    table = report(fleet, "--catalog", cat, "--sql", query).stdout
    assert len(as_json) == len(as_csv) == SPEC.agents
    assert sorted(r["n"] for r in as_json) == sorted(int(r["n"]) for r in as_csv)
    assert all(r["first"].endswith("Z") for r in as_json)
    assert table.splitlines()[0].split() == ["agent", "n", "first"]
    bad = report(fleet, "--catalog", cat, "--sql", "SELECT nope FROM results")
    assert bad.code == 2 and bad.stderr.strip().splitlines()[-1].startswith("waddleperf report:")


def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = report(tmp_path / "nothing", "--catalog", tmp_path / "c.duckdb")
    assert missing.code == 2 and "no such file or directory" in missing.stderr
    when = report(tmp_path, "--since", "yesterday", "--catalog", tmp_path / "c.duckdb")
    assert when.code == 2 and "--since: 'yesterday'" in when.stderr
    (tmp_path / "not-a-db").write_text("plain text")
    cat = report(tmp_path, "--catalog", tmp_path / "not-a-db")
    assert cat.code == 2 and "catalog" in cat.stderr and "Traceback" not in cat.stderr


def test_baseline_exit_codes(fleet: Path, tmp_path: Path) -> None:
    cat, out = tmp_path / "c.duckdb", tmp_path / "out"
    same = report(fleet, "--baseline", fleet, "--catalog", cat, "--out", out)
    assert same.code == 0, same.stdout + same.stderr
    verdict = same.summary(out)["regressions"]
    assert verdict["regressed"] is False and verdict["rows"]
    assert all(r["change_ratio"] in (None, 1.0) for r in verdict["rows"])
    slow = tmp_path / "slow"
    write_fleet(slow, FleetSpec(agents=4, servers=2, seed=99, latency_factor=1.5), 40)
    worse = report(slow, "--baseline", fleet, "--catalog", cat, "--out", out)
    assert worse.code == 1 and "REGRESSED" in worse.stdout
    rows = worse.summary(out)["regressions"]["rows"]
    mean = [r for r in rows if r["metric"] == "rtt_mean_ms" and r["kind"] == "probe.icmp"]
    assert mean and all(r["regressed"] and r["change_ratio"] > 1.3 for r in mean)
    loose = report(slow, "--baseline", fleet, "--catalog", cat, "--out", out, "--avg-ratio", "2",
                   "--p95-ratio", "2", "--error-rate-factor", "100")  # fmt: skip
    assert loose.code == 0, loose.stdout


def test_baseline_window_over_one_source(fleet: Path, tmp_path: Path) -> None:
    both = tmp_path / "both"
    shutil.copytree(fleet, both)
    later = SPEC.start + timedelta(days=1)
    write_fleet(both, FleetSpec(agents=4, servers=2, seed=7, start=later, latency_factor=1.6), 40)
    cut = later.isoformat()
    run = report(both, "--catalog", tmp_path / "c.duckdb", "--out", tmp_path / "o",
                 "--since", cut, "--baseline-until", cut)  # fmt: skip
    assert run.code == 1, run.stdout + run.stderr
    doc = run.summary(tmp_path / "o")
    assert doc["totals"]["bundles"] == 40 and doc["regressions"]["regressed"]


def test_a_bundle_that_changed_is_read_again(fleet: Path, tmp_path: Path) -> None:
    data, cat = tmp_path / "data", tmp_path / "c.duckdb"
    shutil.copytree(fleet, data)
    count = "SELECT count(*) FROM bundles"
    assert report(data, "--catalog", cat, "--sql", count, "--format", "csv").code == 0
    victim = sorted(data.rglob("*.tar.gz"))[3]
    victim.write_bytes(victim.read_bytes()[:200])  # cut short after it was catalogued
    again = report(data, "--catalog", cat, "--sql", count, "--format", "csv")
    assert "1 new ingested" not in again.stderr and "1 newly skipped" in again.stderr
    assert again.stdout.split()[-1] == str(COUNT - 1)
    skipped = report(data, "--catalog", cat, "--sql", "SELECT reason FROM store.skipped",
                     "--format", "json")  # fmt: skip
    # the local store's sidecar still holds the old checksum: that catches it first
    assert "differs from the store's" in json.loads(skipped.stdout)[0]["reason"]
