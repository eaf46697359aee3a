"""The UI's speed test client in Debian's Chromium against a real server on loopback, loaded
from a page of another origin (CORS as in the UI): every figure non-zero and plausible."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.chromium import launch
from tests.support.net import free_port
from tests.support.server import LocalServer
from tests.support.speedtest_harness import write_site
from tests.support.static_site import serve_directory

pytestmark = pytest.mark.slow

SHORT = {"durationS": 1, "downloadGraceS": 0.4, "uploadGraceS": 0.4, "streamDelayMs": 50,
         "chunkMiB": 8, "uploadBlobMiB": 4, "pingCount": 5}  # fmt: skip


def _run(tmp_path: Path, base: str, options: dict[str, Any]) -> dict[str, Any]:
    site = tmp_path / "site"
    site.mkdir()
    write_site(site)
    with serve_directory(site) as url, launch() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "harness.html")
        page.wait_for_function("window.harnessReady === true")
        result: dict[str, Any] = page.evaluate("([b, o]) => window.runOurs(b, o)", [base, options])
        assert errors == []
        return result


def test_the_client_measures_every_figure_across_origins(
    tmp_path: Path, server_factory: Any
) -> None:
    server: LocalServer = server_factory(services=("http",))
    result = _run(tmp_path, server.base_url + "/backend/", SHORT)
    m = result["metrics"]
    assert result["failures"] == []
    assert 1 < m["download_throughput_mbps"] < 1e6 and 1 < m["upload_throughput_mbps"] < 1e6
    assert m["download_bytes"] > 0 and m["upload_bytes"] > 0
    assert 0 < m["ping_ms"] < 100 and m["jitter_ms"] >= 0 and m["ping_lost_count"] == 0
    assert result["info"]["client_ip"] == "127.0.0.1"
    assert {s["phase"] for s in result["samples"]} == {"ping", "download", "upload"}


def test_a_server_that_is_not_there_fails_each_test_with_a_reason(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{free_port('127.0.0.1')}/backend/"
    result = _run(tmp_path, base, {**SHORT, "timeoutS": 2})
    assert result["metrics"]["ping_ms"] is None
    assert result["metrics"]["download_throughput_mbps"] is None
    assert any(f.startswith("download failed: cannot reach") for f in result["failures"])
