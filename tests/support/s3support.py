"""A real S3 endpoint on loopback (moto's ThreadedMotoServer), a fault-injecting proxy, and
what tests do with them: fake credentials, buckets, a plain client to look inside.

Everything listens on 127.0.0.1 with free ports; boto3 only ever gets these endpoints and the
fake credentials of :data:`AWS_ENV` (IMDS disabled, no config files read).
"""

from __future__ import annotations

import http.client
import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from tests.support.net import free_port, wait_until
from waddleperf.results.stores.s3 import S3Config, S3Store

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}
#: Variables that would point boto3 at a real account or endpoint: never set in a test.
AWS_UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")
REGION = "us-east-1"


def fake_aws(mp: pytest.MonkeyPatch) -> None:
    """Only fake credentials in this process's environment (and its children's), no IMDS, no
    config files, no profile or endpoint from outside: nothing can leave loopback."""
    for key, value in AWS_ENV.items():
        mp.setenv(key, value)
    for key in AWS_UNSET:
        mp.delenv(key, raising=False)


def admin_client(endpoint: str) -> Any:
    """A plain client for test set-up and inspection (not the code under test)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 3}),
    )


def store_for(endpoint: str, bucket: str, **kw: Any) -> S3Store:
    """The store under test on ``endpoint`` (prefix ``waddle``, short timeouts unless given)."""
    config = S3Config(
        bucket=bucket,
        endpoint_url=endpoint,
        region=REGION,
        addressing_style="path",
        **{"prefix": "waddle", "connect_timeout_s": 1.0, "read_timeout_s": 5.0, **kw},
    )
    return S3Store(config)


def stored_keys(endpoint: str, bucket: str) -> list[str]:
    """Every object key in the bucket (independent of the store's own list())."""
    pages = admin_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def versioned_bucket(endpoint: str, name: str) -> str:
    """Create bucket ``name`` with versioning on: a second PUT of a key leaves a second
    version to count. Returns the name."""
    s3 = admin_client(endpoint)
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def object_versions(endpoint: str, bucket: str) -> dict[str, list[str]]:
    """Key → version ids of every object version in a versioned bucket."""
    found: dict[str, list[str]] = {}
    for v in admin_client(endpoint).list_object_versions(Bucket=bucket).get("Versions", []):
        found.setdefault(v["Key"], []).append(v["VersionId"])
    return found


def agent_store(endpoint: str, bucket: str, prefix: str, read_timeout_s: float) -> dict[str, Any]:
    """The agent's ``storage.store`` section for an S3 store on ``endpoint``."""
    s3 = {"bucket": bucket, "prefix": prefix, "endpoint_url": endpoint, "region": REGION,
          "addressing_style": "path", "connect_timeout_s": 2,
          "read_timeout_s": read_timeout_s}  # fmt: skip
    return {"kind": "s3", "s3": s3}


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

    def __enter__(self) -> Moto:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

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


P = TypeVar("P", bound=FaultProxy)


@dataclass
class ProxiedBucket(Generic[P]):
    """A versioned bucket on a moto server, and a fault proxy in front of that server."""

    moto: Moto
    proxy: P
    bucket: str

    def keys(self) -> list[str]:
        """Every object key in the bucket, asked of moto directly."""
        return stored_keys(self.moto.url, self.bucket)

    def versions(self) -> dict[str, list[str]]:
        """Key → version ids, asked of moto directly."""
        return object_versions(self.moto.url, self.bucket)

    def agent_store(self, prefix: str, read_timeout_s: float) -> dict[str, Any]:
        """The agent's ``storage.store`` section for this bucket, through the proxy."""
        return agent_store(self.proxy.url, self.bucket, prefix, read_timeout_s)


@contextmanager
def proxied_bucket(
    mp: pytest.MonkeyPatch, bucket: str, proxy: type[P]
) -> Iterator[ProxiedBucket[P]]:
    """Fake credentials (:func:`fake_aws`), a moto server, versioned ``bucket`` and a
    ``proxy`` in front of moto; the proxy and then the server are stopped on exit."""
    fake_aws(mp)
    with Moto().start() as moto:
        name = versioned_bucket(moto.url, bucket)
        front = proxy(moto.port)
        front.start()
        try:
            yield ProxiedBucket(moto, front, name)
        finally:
            front.stop()
