"""Escalation webhooks reach an HTTP server on loopback; a dead receiver is never fatal."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.agentconf import quick_tiers, server_entry, write_agent
from tests.support.net import free_port
from waddleperf.autoperf.config import WebhookConfig
from waddleperf.autoperf.notify import post_webhook
from waddleperf.localstack import LocalServer


class Receiver(ThreadingHTTPServer):
    """Collects POSTed JSON; answers ``fail_first`` requests with 503 first."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.hits = 0
        self.fail_first = fail_first
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.hits += 1
        if self.path == "/bad":
            self.send_response(400)
        elif self.server.hits <= self.server.fail_first:
            self.send_response(503)
        else:
            self.server.bodies.append(json.loads(body))
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver(fail_first=1)
    thread = threading.Thread(target=rx.serve_forever, daemon=True)
    thread.start()
    try:
        yield rx
    finally:
        rx.shutdown()
        rx.server_close()


TIGHT = {"tier1": {"thresholds": {"rtt_ms": 0.0001}}, "tier2": {"probes": []},
         "tier3": {"probes": [], "load": False}}  # fmt: skip


def test_escalation_event_is_posted_as_json(
    tmp_path: Path, server: LocalServer, receiver: Receiver
) -> None:
    hook = {"webhook": {"url": receiver.url, "timeout_s": 2, "retries": 2}}
    run = write_agent(tmp_path, {"servers": [server_entry(server)],
                                 "tiers": quick_tiers(**TIGHT), "notify": hook})  # fmt: skip
    proc = run.run("--once")
    assert proc.returncode == 0, proc.stderr
    assert receiver.hits == 2  # one 503, then the retry delivered it
    (event,) = receiver.bodies
    assert event["kind"] == "autoperf.event" and event["schema_version"] == "1.0"
    info = event["info"]
    assert (info["from_tier"], info["to_tier"], info["server"]) == (1, 2, "lo")
    assert info["threshold"] == 0.0001 and info["value"] > 0.0001 and info["reason"]


def test_unreachable_webhook_is_logged_not_fatal(tmp_path: Path, server: LocalServer) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"
    hook = {"webhook": {"url": dead, "timeout_s": 0.5, "retries": 1}}
    run = write_agent(tmp_path, {"servers": [server_entry(server)],
                                 "tiers": quick_tiers(**TIGHT), "notify": hook})  # fmt: skip
    proc = run.run("--once")
    assert proc.returncode == 0
    assert "webhook" in proc.stderr and "try 2/2 failed" in proc.stderr


def test_client_errors_are_not_retried(receiver: Receiver) -> None:
    cfg = WebhookConfig(url=receiver.url.replace("/hook", "/bad"), retries=3)
    assert not post_webhook(cfg, {"a": 1})
    assert receiver.hits == 1 and receiver.bodies == []
