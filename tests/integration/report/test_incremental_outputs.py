"""An incremental run writes what a cold run writes: after new bundles, the outputs made from
the catalog (and the PNGs kept from the run before) equal a cold run's over the same bundles."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.integration.report.conftest import COUNT, SPEC, report
from tests.support.fleet import write_fleet

# When the report was made: the one thing two runs over the same bundles may differ in.
_MADE = (
    (re.compile(rb'"generated_at": "[^"]*"'), b'"generated_at": "-"'),
    (re.compile(rb"Generated: [^<\n]*"), b"Generated: -"),
)


def _outputs(out: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for path in sorted(out.iterdir()):
        data = path.read_bytes()
        for pattern, fixed in _MADE:
            data = pattern.sub(fixed, data)
        files[path.name] = data
    return files


def test_an_incremental_run_writes_what_a_cold_run_writes(fleet: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(fleet, data)
    out, catalog = tmp_path / "out", tmp_path / "c.duckdb"
    first = report(data, "--catalog", catalog, "--out", out)
    assert first.code == 0, first.stderr
    before = {p.name: p.stat().st_ino for p in out.glob("chart-*.png")}
    write_fleet(data, SPEC, 8, first=COUNT)  # two more cycles of every agent, no load run
    again = report(data, "--catalog", catalog, "--out", out)
    assert again.code == 0 and "8 new ingested" in again.stderr, again.stderr
    cold_out = tmp_path / "cold"
    cold = report(data, "--catalog", tmp_path / "cold.duckdb", "--out", cold_out)
    assert cold.code == 0 and f"{COUNT + 8} new ingested" in cold.stderr, cold.stderr

    incremental, fresh = _outputs(out), _outputs(cold_out)
    assert sorted(incremental) == sorted(fresh)
    pngs = [name for name in fresh if name.endswith(".png")]
    assert {"summary.json", "summary.md", "report.html"} <= set(fresh) and len(pngs) >= 10
    for name in fresh:
        assert incremental[name] == fresh[name], name
    # the latency charts (their time axis grew) were redrawn, the profiles kept as they were
    after = {p.name: p.stat().st_ino for p in out.glob("chart-*.png")}
    kept = {name for name in after if before.get(name) == after[name]}
    assert kept and all("-profile-" in name for name in kept)
    assert any("-latency-" in name and name not in kept for name in after)
