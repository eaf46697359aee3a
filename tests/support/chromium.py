"""Debian's Chromium driven by Playwright for the UI's browser tests and benchmarks.

:func:`launch` starts ``/usr/bin/chromium`` headless with the flags that keep it quiet and
off the network (no sync, no component updates, no background fetches); never a browser
Playwright downloaded. :func:`keep_screenshot` keeps a PNG under
``.suite/artifacts/<folder>/`` (``$WPL_SUITE_DIR/artifacts`` when set), as the report's
browser tests do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, sync_playwright

from tests.support.report_browser import CHROMIUM, keep_screenshot
from tests.support.require import require_tool

__all__ = ["CHROMIUM", "FLAGS", "keep_screenshot", "launch"]

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@contextmanager
def launch() -> Iterator[Browser]:
    """Debian's Chromium with :data:`FLAGS` (skipped where it is missing, failed under CI),
    closed on exit."""
    require_tool(CHROMIUM, "chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(FLAGS))
        try:
            yield browser
        finally:
            browser.close()
