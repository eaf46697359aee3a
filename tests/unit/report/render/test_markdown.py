"""``summary.md``: every section in every report, readable tables, "none" for an empty part,
names from the field kept as text."""

from __future__ import annotations

import re

import pytest

from tests.support.report_summary import (
    HOSTILE_REASON,
    SCRIPT_AGENT,
    empty_summary,
    hostile_summary,
    make_summary,
)
from waddleperf.report.render import markdown, sections

HEADINGS = [
    "Overview",
    "Probes: agent × server × probe",
    "Latency over time",
    "By country and network",
    "Escalation timeline",
    "Load",
    "Regressions",
    "Data quality",
]


def _md(summary: dict[str, object]) -> str:
    return markdown.write(sections.build(summary))


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _table_rows(block: str) -> list[list[str]]:
    rows = [line for line in block.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", r)[1:-1]] for r in rows]


def test_every_section_in_order() -> None:
    text = _md(make_summary())
    found = re.findall(r"^## (.+)$", text, flags=re.M)
    assert found == HEADINGS
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_probe_table_has_a_row_per_agent_server_kind_with_humanised_figures() -> None:
    summary = make_summary()
    rows = _table_rows(_section(_md(summary), HEADINGS[1]))
    header, body = rows[0], rows[1:]
    assert header[:5] == ["agent", "server", "probe", "count", "failures"]
    assert len(body) == len(summary["probes"])
    first = summary["probes"][0]
    got = dict(zip(header, body[0], strict=True))
    assert (got["agent"], got["server"], got["probe"]) == ("agent-berlin", "srv-a", "icmp")
    assert got["count"] == f"{first['count']:,}"
    assert got["p95"].endswith(" ms") and got["loss"].endswith(" %")
    http = dict(zip(header, body[2], strict=True))
    assert http["probe"] == "http" and http["throughput"].endswith("bit/s")
    assert http["loss"] == "—"  # no loss figure is not 0 % loss


def test_charts_linked_by_their_png_names() -> None:
    report = sections.build(make_summary())
    text = markdown.write(report)
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links == [c.file for c in report.charts]


def test_data_quality_lists_each_skipped_bundle_and_why() -> None:
    block = _section(_md(make_summary(skipped=3)), "Data quality")
    assert "Bundles skipped: 3" in block
    rows = _table_rows(block)[1:]
    assert [r[0] for r in rows] == [f"/var/lib/waddleperf/results/bad-{n}.tar.gz" for n in range(3)]
    assert rows[1][1] == "unknown schema version 9"


def test_data_quality_says_when_more_were_skipped_than_listed() -> None:
    summary = make_summary(skipped=2)
    summary["data_quality"]["skipped"] = 5000
    assert "Bundles skipped: 5,000 (2 listed)" in _section(_md(summary), "Data quality")


def test_data_quality_lists_a_bounded_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sections, "MAX_SKIPPED_LISTED", 3)
    summary = make_summary(skipped=5)
    block = _section(_md(summary), "Data quality")
    assert "Bundles skipped: 5 (3 listed; the rest in summary.json)" in block
    assert len(_table_rows(block)) == 1 + 3


def test_an_empty_report_says_none_everywhere() -> None:
    text = _md(empty_summary())
    assert re.findall(r"^## (.+)$", text, flags=re.M) == HEADINGS
    for title in HEADINGS[1:]:
        assert "none" in _section(text, title), title
    assert _section(text, "Data quality").strip().endswith("none")
    assert "![" not in text


def test_regressed_rows_stand_out() -> None:
    summary = make_summary(regressions=True)
    block = _section(_md(summary), "Regressions")
    assert "Regressed: 1 of 12 figures." in block
    assert "Thresholds: mean latency ×1.10, p95 latency ×1.20, error rate ×2.00" in block
    rows = _table_rows(block)[1:]
    assert rows[0][-1] == "**REGRESSED**" and rows[0][0] == "**agent-berlin**"
    assert all(r[-1] == "ok" for r in rows[1:])


def test_comparison_named_after_its_frameworks() -> None:
    block = _section(_md(make_summary()), "Load")
    assert "### Framework comparison: django vs flask" in block
    assert "| rps | 150 /s | 240 /s | ×1.60 |" in block


def test_names_from_the_field_stay_text() -> None:
    text = _md(hostile_summary())
    assert "<" not in text.replace("\\<", "")  # every < escaped: no HTML when rendered
    assert SCRIPT_AGENT not in text
    assert r"\<script\>window.__pwned = 1\</script\>" in text
    assert r"\[x\](javascript:alert(1))" in text  # no link
    # a pipe or a newline in a name cannot add a cell or end a row
    for line in text.splitlines():
        if line.startswith("| "):
            assert len(re.split(r"(?<!\\)\|", line)) == len(
                re.split(r"(?<!\\)\|", _header(text, line))
            )
    assert HOSTILE_REASON not in text


def _header(text: str, row: str) -> str:
    lines = text.splitlines()
    i = lines.index(row)
    while i > 0 and lines[i - 1].startswith("|"):
        i -= 1
    return lines[i]


def test_escape() -> None:
    assert markdown.escape("a|b") == r"a\|b"
    assert markdown.escape("x\n\ny") == "x y"
    assert markdown.escape("`code` [l](u) <b> \\") == r"\`code\` \[l\](u) \<b\> \\"
    assert markdown.escape("agent_01") == "agent_01"


def test_overview_names_sources_filters_and_window() -> None:
    summary = make_summary()
    summary["filters"] = {"agent": ["a1", "a2"], "kind": "icmp", "asn": None, "server": []}
    summary["sources"] = [f"/data/b{n}.tar.gz" for n in range(25)]
    block = _section(_md(summary), "Overview")
    assert "Filters: agent = a1, a2; kind = icmp\n" in block
    assert "/data/b19.tar.gz (and 5 more)" in block and "b20" not in block
    assert "Window: 2026-05-01 12:00:00 UTC to 2026-05-01 12:24:00 UTC" in block
    assert dict(r for r in _table_rows(block)[1:])["probe records"] == (
        f"{summary['totals']['results']:,}"
    )
