"""Redrawing only what changed: each PNG carries its chart's digest; a re-run keeps the PNGs
whose chart is the same and redraws the missing, damaged and changed ones."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.support.report_summary import make_summary
from waddleperf.report.render import charts, png, pngcache, render, sections


def _charts() -> list[charts.Chart]:
    summary = make_summary(agents=("a1", "a2"), servers=("s1", "s2"))
    return list(sections.build(summary).charts)


def _draw(tmp_path: Path, drawn: list[charts.Chart]) -> tuple[list[Path], int]:
    paths = [tmp_path / c.file for c in drawn]
    return paths, png.draw_all(drawn, paths, workers=1)


def test_a_rerun_over_the_same_charts_draws_nothing(tmp_path: Path) -> None:
    drawn = _charts()
    paths, count = _draw(tmp_path, drawn)
    assert count == len(drawn) >= 5
    before = {p: (p.stat().st_ino, p.read_bytes()) for p in paths}
    digests = [pngcache.chart_digest(c) for c in drawn]
    assert [pngcache.stored_digest(p) for p in paths] == digests
    assert _draw(tmp_path, drawn)[1] == 0
    assert {p: (p.stat().st_ino, p.read_bytes()) for p in paths} == before


def test_changed_missing_and_damaged_pngs_are_redrawn(tmp_path: Path) -> None:
    drawn = _charts()
    paths, _ = _draw(tmp_path, drawn)
    kept = paths[3].read_bytes()
    paths[0].unlink()
    paths[1].write_bytes(b"not a png")
    paths[2].write_bytes(paths[2].read_bytes()[:40])  # cut before its image data
    drawn[4] = replace(drawn[4], title=drawn[4].title + " (again)")
    assert pngcache.stale(drawn, paths) == [0, 1, 2, 4]
    assert _draw(tmp_path, drawn)[1] == 4
    assert pngcache.stale(drawn, paths) == []
    assert paths[3].read_bytes() == kept
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    again, _ = _draw(fresh, drawn)
    # a redrawn chart is the chart drawn afresh, byte for byte
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]


def test_the_digest_follows_the_data() -> None:
    chart = _charts()[0]
    assert pngcache.chart_digest(chart) == pngcache.chart_digest(replace(chart))
    bumped = replace(chart, x=(*chart.x[:-1], chart.x[-1] + 1.0))
    assert pngcache.chart_digest(bumped) != pngcache.chart_digest(chart)
    renamed = replace(chart, file="chart-99-other.png")
    assert pngcache.chart_digest(renamed) != pngcache.chart_digest(chart)


def test_no_digest_outside_our_pngs(tmp_path: Path) -> None:
    assert pngcache.stored_digest(tmp_path / "missing.png") is None
    (tmp_path / "empty.png").write_bytes(b"")
    assert pngcache.stored_digest(tmp_path / "empty.png") is None
    (tmp_path / "plain.png").write_bytes(pngcache.PNG_SIGNATURE + b"\0\0\0\0IEND\xaeB`\x82")
    assert pngcache.stored_digest(tmp_path / "plain.png") is None


def test_render_twice_keeps_the_pngs(tmp_path: Path) -> None:
    summary = make_summary()
    first = render(summary, tmp_path)
    stamps = {p.name: p.stat().st_mtime_ns for p in first[2:]}
    second = render(summary, tmp_path)
    assert [p.name for p in second] == [p.name for p in first]
    assert {p.name: p.stat().st_mtime_ns for p in second[2:]} == stamps
