"""Plain-text tables for a terminal: box-drawn, optionally styled with ANSI, nothing cut.

Pure (strings in, lines out). ``waddleperf probe`` prints its record with these instead of
rich: rich costs ~0.1 s of CPU to import, a third of the command's start-up budget, for a
table of three columns. The look follows rich's default (heavy head, light body).

No cell is ever truncated: when a table is wider than the width it is given, only columns
marked ``fold`` wrap (down to ``min_width``); a table that still does not fit is printed
wider than the terminal, which wraps the line, rather than lose an address's last digits.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

#: Style words (the names rich uses) → SGR codes.
_SGR = {
    "bold": "1", "dim": "2", "italic": "3", "red": "31", "green": "32", "yellow": "33",
    "blue": "34", "magenta": "35", "cyan": "36",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its header, alignment, and whether its cells may wrap."""

    header: str
    justify: Literal["left", "right"] = "left"
    fold: bool = False  # its cells may wrap, down to min_width
    min_width: int = 8
    fold_header: bool = False  # its header may wrap at spaces (a number column's label)


def styled(text: str, style: str, color: bool) -> str:
    """``text`` in ``style`` ("bold green") when ``color``, else as it is."""
    codes = [_SGR[word] for word in style.split() if word in _SGR]
    if not color or not codes or not text:
        return text
    return f"\x1b[{';'.join(codes)}m{text}\x1b[0m"


def cell_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: wide East Asian characters 2, combining 0."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _pad(text: str, width: int, justify: str) -> str:
    gap = " " * max(0, width - cell_width(text))
    return gap + text if justify == "right" else text + gap


def fold(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns, broken at spaces where possible."""
    lines: list[str] = []
    for word in text.split(" "):
        while cell_width(word) > width:  # a word longer than the line: break inside it
            head = ""
            for char in word:
                if cell_width(head + char) > width:
                    break
                head += char
            if lines and cell_width(lines[-1]) + 1 + cell_width(head) <= width:
                lines[-1] += " " + head
            else:
                lines.append(head)
            word = word[len(head) :]
        if lines and cell_width(lines[-1]) + 1 + cell_width(word) <= width:
            lines[-1] += " " + word
        elif word or not lines:
            lines.append(word)
    return lines or [""]


def _floor(column: Column, cells: list[str], natural: int) -> int:
    """The narrowest a column may become: its cells whole and its header's longest word
    (fold_header), ``min_width`` (fold), else its natural width."""
    longest_word = max((cell_width(w) for w in column.header.split()), default=0)
    if column.fold_header:
        return max([longest_word, *(cell_width(c) for c in cells)])
    if column.fold:
        return min(natural, max(column.min_width, longest_word))
    return natural


def column_widths(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int
) -> list[int]:
    """Each column's width: its widest cell or header, folding columns narrowed to fit."""
    widths = [
        max([cell_width(c.header), *(cell_width(row[i]) for row in rows)])
        for i, c in enumerate(columns)
    ]
    excess = sum(widths) + 3 * len(widths) + 1 - width
    floors = [_floor(c, [row[i] for row in rows], widths[i]) for i, c in enumerate(columns)]
    # Headers wrap first, all of them alike (numbers stay whole), then folding columns
    # narrow, left to right, only as far as needed.
    if excess > 0:
        for i, column in enumerate(columns):
            if column.fold_header:
                excess -= widths[i] - floors[i]
                widths[i] = floors[i]
    for i, column in enumerate(columns):
        if excess > 0 and column.fold:
            narrower = max(floors[i], widths[i] - excess)
            excess -= widths[i] - narrower
            widths[i] = narrower
    return widths


def render_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    width: int = 80,
    color: bool = False,
) -> list[str]:
    """A box-drawn table as lines (no newline): title, heavy header, light body."""
    widths = column_widths(columns, rows, width)

    def rule(left: str, mid: str, right: str, fill: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def line(cells: Sequence[str], bar: str, style: str = "") -> list[str]:
        wrapped = [
            fold(cell, w) if cell_width(cell) > w else [cell]
            for cell, w in zip(cells, widths, strict=True)
        ]
        out = []
        for n in range(max(len(parts) for parts in wrapped)):
            parts = [
                styled(_pad(part[n] if n < len(part) else "", w, c.justify), style, color)
                for part, c, w in zip(wrapped, columns, widths, strict=True)
            ]
            out.append(bar + bar.join(f" {p} " for p in parts) + bar)
        return out

    lines = [styled(title, "italic", color)] if title else []
    lines.append(rule("┏", "┳", "┓", "━"))
    lines += line([c.header for c in columns], "┃", "bold")
    lines.append(rule("┡", "╇", "┩", "━"))
    for row in rows:
        lines += line(row, "│")
    lines.append(rule("└", "┴", "┘", "─"))
    return lines


def render_pairs(pairs: Sequence[tuple[str, str]], *, color: bool = False) -> list[str]:
    """``key  value`` lines, keys dim and aligned (no box): the facts under a table."""
    if not pairs:
        return []
    key_width = max(cell_width(key) for key, _ in pairs)
    return [
        f" {styled(_pad(key, key_width, 'left'), 'dim', color)}  {value}" for key, value in pairs
    ]
