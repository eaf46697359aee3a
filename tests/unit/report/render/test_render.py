"""``render``: the files it writes — the page, the Markdown, one real PNG per chart with the
chart's colours in it — what it returns, and what it refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.image
import numpy as np
import pytest

from tests.support.report_summary import empty_summary, hostile_summary, make_summary
from waddleperf.report.render import (
    HTML_NAME,
    MARKDOWN_NAME,
    RenderError,
    charts,
    png,
    render,
    sections,
)
from waddleperf.report.render.stencil import Stencils

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[Path]]:
    summary = make_summary()
    return summary, render(summary, tmp_path_factory.mktemp("report") / "out")


def _pixels(path: Path) -> np.ndarray:
    image = matplotlib.image.imread(path)
    return np.asarray(np.round(image[..., :3] * 255), dtype=np.int16)


def _has_colour(pixels: np.ndarray, colour: str, tolerance: int = 12, least: int = 30) -> bool:
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
    close = np.all(np.abs(pixels - rgb) <= tolerance, axis=-1)
    return int(close.sum()) >= least


def test_writes_page_markdown_and_a_png_per_chart(
    rendered: tuple[dict[str, Any], list[Path]],
) -> None:
    summary, paths = rendered
    out = paths[0].parent
    report = sections.build(summary)
    assert [p.name for p in paths] == [HTML_NAME, MARKDOWN_NAME, *(c.file for c in report.charts)]
    assert all(p.is_file() for p in paths)
    assert sorted(p.name for p in out.glob("chart-*.png")) == sorted(c.file for c in report.charts)
    assert not list(out.glob(".*"))  # no temp file left behind
    text = paths[0].read_text("utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert paths[1].read_text("utf-8").startswith("# WaddlePerf report\n")


def test_pngs_are_real_images_of_their_charts(rendered: tuple[dict[str, Any], list[Path]]) -> None:
    summary, paths = rendered
    by_name = {c.file: c for c in charts.build(summary)}
    for path in paths[2:]:
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        pixels = _pixels(path)
        width, height = (round(d * png.DPI) for d in png.SIZE_IN)
        assert pixels.shape[:2] == (height, width)
        white = np.all(pixels >= 250, axis=-1).mean()
        assert white < 0.95, f"{path.name} is almost blank"
        chart = by_name[path.name]
        if chart.kind == "latency":
            # buckets without loss (green), with some loss, and all lost (red on the axis)
            for colour in ("#26ff00", "#0059ff", "#dd00ff", "#ff0000"):
                assert _has_colour(pixels, colour), (path.name, colour)
        else:
            for series in chart.series:
                assert _has_colour(pixels, series.colour), (path.name, series.label)


def test_an_empty_summary_writes_no_png(tmp_path: Path) -> None:
    paths = render(empty_summary(), tmp_path)
    assert [p.name for p in paths] == [HTML_NAME, MARKDOWN_NAME]
    assert "none" in paths[1].read_text()


def test_a_rerun_keeps_one_png_per_chart(tmp_path: Path) -> None:
    render(make_summary(), tmp_path)
    (tmp_path / "notes.png").write_bytes(b"mine")
    (tmp_path / "chart-1-x.png").write_bytes(b"not our pattern")
    summary = make_summary(agents=("agent-berlin",), servers=("srv-a",))
    paths = render(summary, tmp_path)
    charts_now = sorted(p.name for p in tmp_path.glob("chart-??-*.png"))
    assert charts_now == sorted(p.name for p in paths[2:])
    assert (tmp_path / "notes.png").read_bytes() == b"mine"
    assert (tmp_path / "chart-1-x.png").exists()


def test_hostile_names_render(tmp_path: Path) -> None:
    paths = render(hostile_summary(), tmp_path)
    assert len(paths) == 2 + len(sections.build(hostile_summary()).charts)
    assert all(p.parent == tmp_path for p in paths)


def test_png_labels_are_literal() -> None:
    assert png.literal("srv $x^2$") == r"srv \$x^2\$"
    assert png.literal("plain") == "plain"


@pytest.mark.parametrize(
    ("summary", "message"),
    [
        (["not", "a", "summary"], "report summary: expected an object, got list"),
        ({"schema": "waddleperf.report.summary/2"}, "schema 'waddleperf.report.summary/2' is not"),
        ({}, "schema None is not 'waddleperf.report.summary/1'"),
    ],
)
def test_not_a_summary_is_one_clear_line(tmp_path: Path, summary: Any, message: str) -> None:
    out = tmp_path / "out"
    with pytest.raises(RenderError) as caught:
        render(summary, out)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert not out.exists()


def test_a_stencil_draws_the_same_pixels_whatever_was_drawn_before(tmp_path: Path) -> None:
    """A latency chart drawn on a stencil after other charts is pixel for pixel, byte for
    byte, the chart drawn on a stencil of its own; the stencil's shared parts are in it."""
    report = sections.build(make_summary())
    latency = [c for c in report.charts if c.kind == "latency"]
    assert len(latency) >= 2 and len({c.x_range for c in latency}) == 1
    stencils = Stencils()
    try:
        for n, chart in enumerate((latency[0], latency[1], latency[0])):
            with (tmp_path / f"shared-{n}.png").open("wb") as out:
                png.draw(chart, out, stencils)
        assert len(stencils.made) == 1
    finally:
        stencils.close()
    with (tmp_path / "alone.png").open("wb") as out:
        png.draw(latency[1], out)
    assert (tmp_path / "shared-1.png").read_bytes() == (tmp_path / "alone.png").read_bytes()
    assert (tmp_path / "shared-0.png").read_bytes() == (tmp_path / "shared-2.png").read_bytes()
    first, second = _pixels(tmp_path / "shared-0.png"), _pixels(tmp_path / "shared-1.png")
    assert not np.array_equal(first, second)  # their own parts differ
    # the legend (right of the axes) and the time axis (below) come from the stencil
    width = round(png.SIZE_IN[0] * png.DPI)
    assert np.array_equal(first[:, int(width * 0.87) :], second[:, int(width * 0.87) :])
    assert np.array_equal(first[-30:, 100:-200], second[-30:, 100:-200])


def test_two_processes_draw_the_same_pictures(tmp_path: Path) -> None:
    summary = make_summary(agents=("a1", "a2", "a3", "a4"), servers=("s1", "s2", "s3"))
    report = sections.build(summary)
    assert len(report.charts) >= png.PARALLEL_FROM
    both = [tmp_path / "two" / c.file for c in report.charts]
    one = [tmp_path / "one" / c.file for c in report.charts]
    for folder in ("two", "one"):
        (tmp_path / folder).mkdir()
    png.draw_all(report.charts, both, workers=2)
    png.draw_all(report.charts, one, workers=1)
    for a, b in zip(both, one, strict=True):
        assert np.array_equal(_pixels(a), _pixels(b)), a.name
