"""Every relative link of README.md and docs/*.md names a file or directory that exists.

Links with a scheme (``https:``, ``mailto:``) and bare ``#anchors`` are not checked; a link's
own ``#fragment`` is dropped before the path is resolved against the page's directory. Code
(fenced blocks, inline spans) holds no links.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]
PAGES = [CHECKOUT / "README.md", *sorted((CHECKOUT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
_INLINE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def relative_links(markdown: str) -> list[str]:
    """The link targets of ``markdown`` that are paths (no scheme, not a bare anchor)."""
    text = _CODE_SPAN.sub("", _FENCE.sub("", markdown))
    targets = _INLINE.findall(text) + _REFERENCE.findall(text)
    return [t for t in targets if not _SCHEME.match(t) and not t.startswith("#")]


def broken_links(page: Path) -> list[str]:
    """The relative links of ``page`` whose file does not exist."""
    missing = []
    for target in relative_links(page.read_text(encoding="utf-8")):
        path = target.partition("#")[0].partition("?")[0]
        if not (page.parent / path).exists():
            missing.append(target)
    return missing


def test_the_link_finder_sees_links_and_skips_code_and_urls() -> None:
    text = (
        'See [a](a.md), [b](sub/b.md#part "x") and ![img](pic.png).\n'
        "[ref]: ref.md\n"
        "Not these: [web](https://example.org/x.md), [top](#top), `[c](c.md)`,\n"
        "```\n[d](d.md)\n```\n"
    )
    assert relative_links(text) == ["a.md", "sub/b.md#part", "pic.png", "ref.md"]


def test_a_missing_target_is_reported(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("x", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text("[ok](there.md#a) [gone](gone.md) [up](../nowhere/x.md)", encoding="utf-8")
    assert broken_links(page) == ["gone.md", "../nowhere/x.md"]


def test_the_pages_are_found() -> None:
    names = {p.name for p in PAGES}
    assert {"README.md", "security.md", "operations.md", "runbook.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_relative_link_points_to_a_file(page: Path) -> None:
    assert broken_links(page) == [], f"{page.relative_to(CHECKOUT)}: broken links"
