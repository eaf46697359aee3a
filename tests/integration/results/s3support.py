"""A real S3 endpoint on loopback (moto's ThreadedMotoServer) and a fault-injecting proxy.

Everything listens on 127.0.0.1 with free ports; boto3 only ever gets these endpoints and the
fake credentials of :data:`AWS_ENV` (IMDS disabled, no config files read).
"""

from __future__ import annotations

import http.client
import http.server
import threading
import time
from dataclasses import dataclass, field

import pytest
from moto.server import ThreadedMotoServer

from tests.support.net import free_port, wait_until

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}

#: Variables that could point boto3 at a real account or endpoint.
AWS_UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


def fake_aws(mp: pytest.MonkeyPatch) -> None:
    """Only the fake credentials of :data:`AWS_ENV` in the environment: nothing leaves loopback."""
    for key, value in AWS_ENV.items():
        mp.setenv(key, value)
    for key in AWS_UNSET:
        mp.delenv(key, raising=False)


class Moto:
    """A moto S3 server that can be stopped and started again on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._server: ThreadedMotoServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Moto:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stop()
        # stop() leaves the listening socket open (connections would hang, not be refused):
        # close it so the endpoint is really gone and the port can be bound again.
        inner = self._server._server
        if inner is not None:
            inner.server_close()
        self._server = None


@dataclass
class Fault:
    """What the proxy does to the next ``count`` matching requests."""

    count: int
    status: int | None = None  # answer this instead of forwarding
    delay_before_s: float = 0.0  # before forwarding: the request never reaches S3 in time
    delay_after_s: float = 0.0  # after S3 answered: the client times out on a done request
    methods: frozenset[str] = frozenset({"GET", "PUT", "HEAD", "POST", "DELETE"})


@dataclass
class ProxyLog:
    started: list[tuple[str, str]] = field(default_factory=list)  # method, path
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # + injected status


class FaultProxy:
    """An HTTP reverse proxy on 127.0.0.1 in front of moto that injects 5xx and delays."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.faults: list[Fault] = []
        self.log = ProxyLog()
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _any(self) -> None:
                proxy.handle(self)

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _any

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        assert wait_until(lambda: self.port > 0, 1)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def _take(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.count > 0 and method in fault.methods:
                    fault.count -= 1
                    return fault
        return None

    def handle(self, req: http.server.BaseHTTPRequestHandler) -> None:
        method = req.command
        self.log.started.append((method, req.path))
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        fault = self._take(method)
        req.close_connection = True
        try:
            if fault and fault.status:
                self._reply(req, fault.status, [("Content-Type", "application/xml")], _error_xml())
                return
            if fault and fault.delay_before_s:
                time.sleep(fault.delay_before_s)
            status, headers, payload = self._forward(req, method, body)
            if fault and fault.delay_after_s:
                time.sleep(fault.delay_after_s)
            self._reply(req, status, headers, payload, head=method == "HEAD")
        except OSError:
            pass  # the client gave up (timeout) or went away: exactly the fault we wanted
        finally:
            self.log.requests.append((method, req.path, (fault.status or 0) if fault else 0))

    def _forward(
        self, req: http.server.BaseHTTPRequestHandler, method: str, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in req.headers.items() if k.lower() != "connection"}
            conn.request(method, req.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            skip = {"connection", "transfer-encoding", "content-length"}
            kept = [(k, v) for k, v in resp.getheaders() if k.lower() not in skip]
            if method == "HEAD":
                kept.append(("Content-Length", resp.getheader("Content-Length") or "0"))
            return resp.status, kept, payload
        finally:
            conn.close()

    @staticmethod
    def _reply(
        req: http.server.BaseHTTPRequestHandler,
        status: int,
        headers: list[tuple[str, str]],
        payload: bytes,
        head: bool = False,
    ) -> None:
        req.send_response(status)
        for key, value in headers:
            req.send_header(key, value)
        if not head:
            req.send_header("Content-Length", str(len(payload)))
        req.send_header("Connection", "close")
        req.end_headers()
        if not head:
            req.wfile.write(payload)


def _error_xml() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
        b"<Message>injected by the test proxy</Message></Error>"
    )
