"""The report's shape, shared by the HTML and the Markdown writers: sections of blocks, a
block being a heading with text lines, a table and/or charts.

Every cell is already text (formatted by :mod:`waddleperf.report.render.fmt`) and still raw:
each writer escapes it for its own format. A block with nothing in it is written as "none",
so an empty part of the report says so instead of vanishing.
"""

from __future__ import annotations

from dataclasses import dataclass

from waddleperf.report.render.charts import Chart

NOTHING = "none"


@dataclass(frozen=True)
class Row:
    """One table row; ``highlight`` marks a row that needs attention (a regression)."""

    cells: tuple[str, ...]
    highlight: bool = False


@dataclass(frozen=True)
class Table:
    """Column headings and rows; ``numeric`` flags the columns to align right."""

    headers: tuple[str, ...]
    rows: tuple[Row, ...]
    numeric: tuple[bool, ...] = ()

    def is_numeric(self, column: int) -> bool:
        """Whether column ``column`` holds figures (right-aligned)."""
        return column < len(self.numeric) and self.numeric[column]


@dataclass(frozen=True)
class Block:
    """A part of a section: an optional heading, lines of text, a table, charts."""

    heading: str = ""
    lines: tuple[str, ...] = ()
    table: Table | None = None
    charts: tuple[Chart, ...] = ()

    def is_empty(self) -> bool:
        """True when the block shows nothing (it is then written as "none")."""
        has_rows = self.table is not None and bool(self.table.rows)
        return not (self.lines or has_rows or self.charts)


@dataclass(frozen=True)
class Section:
    """A top-level part of the report; ``key`` is its anchor (ours, never from the data)."""

    key: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Report:
    """The whole report: a title, the sections, every chart in page order."""

    title: str
    sections: tuple[Section, ...]
    charts: tuple[Chart, ...]
