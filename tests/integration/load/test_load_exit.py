"""``waddleperf load run`` exits 1 when every request failed (404s, refused connections) and
says so; a run that measured the target exits 0. Real Locust, real sockets on loopback."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.load.conftest import waddleperf
from tests.support.net import free_port

pytestmark = pytest.mark.slow

SHORT = ["--user", "endpoint", "--users", "2", "--spawn-rate", "2", "--duration", "2",
         "--no-plots"]  # fmt: skip


class _Handler(http.server.BaseHTTPRequestHandler):
    """200 with a small body on /ok, 404 on every other path."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        found = self.path == "/ok"
        body = b"ok" if found else b"not here"
        self.send_response(200 if found else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def stub() -> Iterator[str]:
    """Base URL of an HTTP server on loopback that knows only /ok."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def _run(host: str, path: str, tmp_path: Path) -> tuple[int, str, dict[str, object]]:
    out = tmp_path / "run"
    res = waddleperf(["load", "run", "--host", host, "--path", path, *SHORT, "--out", str(out)],
                     tmp_path)  # fmt: skip
    return res.returncode, res.stdout + res.stderr, json.loads((out / "result.json").read_text())


def test_every_request_404_exits_1_and_says_so(stub: str, tmp_path: Path) -> None:
    code, output, record = _run(stub, "/missing", tmp_path)
    assert code == 1, output[-3000:]
    metrics = record["metrics"]
    assert isinstance(metrics, dict) and metrics["requests_count"] > 0
    assert metrics["failures_count"] == metrics["requests_count"]
    assert record["status"] == "failed"
    error = str(record["error"])
    assert error.startswith(f"every one of the {metrics['requests_count']} requests to {stub}")
    assert "404" in error
    assert f"failed — {error}" in output  # the one line a person reads


def test_every_connection_refused_exits_1(tmp_path: Path) -> None:
    host = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    code, output, record = _run(host, "/", tmp_path)
    assert code == 1, output[-3000:]
    assert record["status"] == "failed"
    error = str(record["error"])
    # Locust counts each refused connection as a failed request
    assert error.startswith("every one of the") and f"requests to {host} failed" in error
    assert "Connection refused" in error


def test_a_run_that_measured_the_target_exits_0(stub: str, tmp_path: Path) -> None:
    code, output, record = _run(stub, "/ok", tmp_path)
    assert code == 0, output[-3000:]
    assert record["status"] == "ok"
    metrics = record["metrics"]
    assert isinstance(metrics, dict) and metrics["requests_count"] > 0
    assert metrics["failures_count"] == 0
