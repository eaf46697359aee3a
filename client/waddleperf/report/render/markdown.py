"""``summary.md``: the report as Markdown — headings, pipe tables, and the PNG charts linked
by their file names (they sit beside it).

Text from the data is escaped so that it stays text: a ``|`` cannot split a table cell, and
``<``, ``[`` or a backtick cannot become HTML, a link or code when the file is rendered.
"""

from __future__ import annotations

import re

from waddleperf.report.render.model import NOTHING, Block, Report, Section, Table

# CommonMark lets any ASCII punctuation be escaped with a backslash; these are the ones that
# can make text inside a table cell into HTML, a link, code or a new cell (emphasis from a
# stray * or _ only changes the look, and escaping it would make names like agent_01 harder
# to read in the plain file).
_SPECIAL = re.compile(r"([\\`\[\]<>|])")


def escape(value: str) -> str:
    """``value`` as literal Markdown text on one line."""
    return _SPECIAL.sub(r"\\\1", " ".join(value.split()))


def _table(table: Table) -> list[str]:
    head = "| " + " | ".join(escape(h) for h in table.headers) + " |"
    rule = "|" + "|".join(
        "---:" if table.is_numeric(i) else "---" for i in range(len(table.headers))
    )
    lines = [head, rule + "|"]
    for row in table.rows:
        cells = [escape(c) for c in row.cells]
        if row.highlight:
            cells = [f"**{c}**" if c else c for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _block(block: Block) -> list[str]:
    out: list[str] = []
    if block.heading:
        out += [f"### {escape(block.heading)}", ""]
    if block.is_empty():
        return [*out, NOTHING, ""]
    for line in block.lines:
        out += [escape(line), ""]
    for chart in block.charts:
        out += [f"![{escape(chart.title)}]({chart.file})", ""]
    if block.table is not None:
        out += [*_table(block.table), ""] if block.table.rows else [NOTHING, ""]
    return out


def _section(section: Section) -> list[str]:
    out = [f"## {escape(section.title)}", ""]
    for block in section.blocks:
        out += _block(block)
    return out


def write(report: Report) -> str:
    """The Markdown text of ``report`` (UTF-8, ``\\n`` line ends, one trailing newline)."""
    out = [f"# {escape(report.title)}", ""]
    for section in report.sections:
        out += _section(section)
    return "\n".join(out).rstrip("\n") + "\n"
