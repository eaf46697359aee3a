"""The plain-text table renderer: widths, folding, styles."""

from __future__ import annotations

import pytest

from waddleperf.tables import Column, cell_width, fold, render_pairs, render_table, styled


def test_cell_width_counts_terminal_columns():
    assert cell_width("abc") == 3
    assert cell_width("µs —") == 4
    assert cell_width("日本") == 4  # wide characters take two columns
    assert cell_width("e\u0301") == 1  # a combining accent takes none


@pytest.mark.parametrize(
    ("text", "width", "want"),
    [
        ("router.example.net", 8, ["router.e", "xample.n", "et"]),
        ("rtt worst (ms)", 5, ["rtt", "worst", "(ms)"]),
        ("a b c", 3, ["a b", "c"]),
        ("", 4, [""]),
    ],
)
def test_fold_loses_nothing(text, width, want):
    assert fold(text, width) == want
    assert all(cell_width(line) <= width for line in want)


def test_table_layout_and_alignment():
    lines = render_table(
        [Column("metric"), Column("value", justify="right")],
        [["rtt avg", "0.031"], ["sent", "5"]],
        title="probe.icmp  127.0.0.1",
    )
    assert lines == [
        "probe.icmp  127.0.0.1",
        "┏━━━━━━━━━┳━━━━━━━┓",
        "┃ metric  ┃ value ┃",
        "┡━━━━━━━━━╇━━━━━━━┩",
        "│ rtt avg │ 0.031 │",
        "│ sent    │     5 │",
        "└─────────┴───────┘",
    ]


def test_only_folding_columns_narrow_and_never_below_their_minimum():
    columns = [Column("address"), Column("name", fold=True, min_width=6)]
    rows = [["2001:db8::1", "a-long-router-name.example"]]
    lines = render_table(columns, rows, width=20)
    assert any("2001:db8::1" in line for line in lines)
    assert all(cell_width(line) == cell_width(lines[0]) for line in lines)
    name_width = len(lines[0].split("┳")[1].rstrip("┓")) - 2
    assert name_width == 6
    names = "".join(line.split("│")[2].strip() for line in lines if line.startswith("│"))
    assert names == "a-long-router-name.example"


def test_styles_only_with_colour():
    assert styled("ok", "bold green", False) == "ok"
    assert styled("ok", "bold green", True) == "\x1b[1;32mok\x1b[0m"
    assert styled("ok", "unknown", True) == "ok"
    assert render_pairs([("address", "::1"), ("tls version", "TLSv1.3")]) == [
        " address      ::1",
        " tls version  TLSv1.3",
    ]
