"""The HTTP server's own endpoints over real HTTP: /health, /echo, /ip, errors, responsiveness."""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.support.httphelp import connect, module_http_server, request_bytes
from waddleperf.localstack import LocalServer
from waddleperf_common import nq

CONFIG = """
http:
  max_echo_bytes: 110000000
  max_delay_ms: 2000
  max_upload_bytes: 1048576
  rpm_large_bytes: 50000000
  rpm_upload_max_bytes: 3000000
"""


srv = module_http_server("srv", CONFIG)
proxied = module_http_server("proxied", 'http:\n  trusted_proxies: ["127.0.0.0/8"]\n')


def test_health_reports_services_and_icmp(srv: LocalServer) -> None:
    r = requests.get(srv.base_url + "/health", timeout=5)
    assert r.status_code == 200
    doc = r.json()
    assert doc["version"] == "0.2.0"
    assert 0 < doc["uptime_s"] < 600
    assert doc["services"]["http"]["state"] == "running"
    assert doc["services"]["http"]["port"] == srv.http_port
    assert doc["services"]["tcp_echo"]["state"] == "disabled"
    expected_v4 = Path("/proc/sys/net/ipv4/icmp_echo_ignore_all").read_text().strip() == "0"
    assert doc["icmp"]["ipv4_echo"] is expected_v4
    assert doc["icmp"]["source"] == "/proc/sys/net/ipv4/icmp_echo_ignore_all"
    try:  # absent on kernels without the IPv6 switch: unknown (null), never "off"
        v6 = Path("/proc/sys/net/ipv6/icmp/echo_ignore_all").read_text().strip()
        expected_v6: bool | None = v6 == "0" if v6.isdigit() else None
    except OSError:
        expected_v6 = None
    assert doc["icmp"]["ipv6_echo"] is expected_v6


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_echo_describes_the_request(srv: LocalServer, method: str) -> None:
    body = b"z" * 12345 if method in ("POST", "PUT", "PATCH") else b""
    r = requests.request(
        method, srv.base_url + "/echo?a=1&a=2&b=x", data=body, headers={"X-Probe": "yes"}, timeout=5
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["method"] == method
    assert doc["path"] == "/echo"
    assert doc["query"] == {"a": ["1", "2"], "b": ["x"]}
    assert doc["headers"]["X-Probe"] == "yes"
    assert doc["client"] == "127.0.0.1"
    assert doc["body_bytes"] == len(body)


def test_echo_head_has_no_body(srv: LocalServer) -> None:
    r = requests.head(srv.base_url + "/echo?size=1000", timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Length"] == "1000"
    assert r.content == b""


def test_echo_size_streams_exact_bytes_without_growing_memory(srv: LocalServer) -> None:
    size = 100 * 1024 * 1024
    with requests.get(
        srv.base_url + f"/echo?size={size}",
        stream=True,
        timeout=30,
        headers={"Accept-Encoding": "gzip"},
    ) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "application/octet-stream"
        assert int(r.headers["Content-Length"]) == size
        assert "Content-Encoding" not in r.headers
        got = sum(len(c) for c in r.raw.stream(1 << 20, decode_content=False))
    assert got == size
    # Per process of the server's tree (the supervisor and its HTTP workers): the one that
    # streamed the reply would hold it.
    tree = [psutil.Process(srv.proc.pid), *psutil.Process(srv.proc.pid).children()]
    biggest = max(p.memory_info().rss for p in tree) / (1 << 20)
    assert biggest < 150, "a 100 MiB reply must not be held in memory"


def test_echo_delay_waits(srv: LocalServer) -> None:
    start = time.monotonic()
    r = requests.get(srv.base_url + "/echo?delay_ms=300", timeout=5)
    elapsed = time.monotonic() - start
    assert r.status_code == 200 and r.json()["delay_ms"] == 300
    assert 0.3 <= elapsed < 2.0


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("size=abc", "size"),
        ("size=-1", "size"),
        ("size=1.5", "size"),
        ("size=110000001", "size"),
        ("delay_ms=2001", "delay_ms"),
        ("delay_ms=", "delay_ms"),
        ("delay_ms=1e3", "delay_ms"),
    ],
)
def test_echo_bad_parameters_are_400_naming_the_parameter(
    srv: LocalServer, query: str, param: str
) -> None:
    r = requests.get(srv.base_url + "/echo?" + query, timeout=5)
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/json"
    doc = r.json()
    assert doc["param"] == param and param in doc["error"]


def test_echo_upload_over_limit_is_413_json(srv: LocalServer) -> None:
    r = requests.post(srv.base_url + "/echo", data=b"x" * (1048576 + 1), timeout=10)
    assert r.status_code == 413
    assert "1048576" in r.json()["error"]
    r = requests.post(srv.base_url + "/echo", data=b"x" * 1048576, timeout=10)
    assert r.status_code == 200 and r.json()["body_bytes"] == 1048576


def test_unknown_path_and_wrong_method_are_json(srv: LocalServer) -> None:
    r = requests.get(srv.base_url + "/no/such/thing", timeout=5)
    assert r.status_code == 404
    assert r.json()["error"] == "no such endpoint: /no/such/thing"
    r = requests.delete(srv.base_url + "/health", timeout=5)
    assert r.status_code == 405
    assert "DELETE" in r.json()["error"]
    assert "GET" in r.headers["Allow"]


def test_ip_without_trusted_proxies_ignores_forwarded_for(srv: LocalServer) -> None:
    r = requests.get(srv.base_url + "/ip", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=5)
    assert r.json() == {"ip": "127.0.0.1", "version": 4, "peer": "127.0.0.1", "forwarded": False}


def test_ip_behind_trusted_proxy_uses_forwarded_for(proxied: LocalServer) -> None:
    url = proxied.base_url + "/ip"
    r = requests.get(url, headers={"X-Forwarded-For": "203.0.113.7"}, timeout=5)
    assert r.json()["ip"] == "203.0.113.7" and r.json()["forwarded"] is True
    # the right-most untrusted hop wins; a client cannot forge past it
    r = requests.get(
        url, headers={"X-Forwarded-For": "1.1.1.1, 198.51.100.2, 127.0.0.5"}, timeout=5
    )
    assert r.json()["ip"] == "198.51.100.2"
    r = requests.get(
        proxied.base_url + "/getIP.php", headers={"X-Forwarded-For": "10.2.3.4"}, timeout=5
    )
    assert r.json()["processedString"] == "10.2.3.4 - private IPv4 access"


def test_nq_config_parses_and_its_urls_work(srv: LocalServer) -> None:
    r = requests.get(srv.base_url + nq.NQ_PATH, timeout=5)
    assert r.status_code == 200
    cfg = nq.parse(r.content)
    assert cfg.small_download_url == f"{srv.base_url}/rpm/small"
    small = requests.get(cfg.small_download_url, timeout=5)
    assert small.status_code == 200 and len(small.content) == 1
    with requests.get(cfg.large_download_url, stream=True, timeout=10) as large:
        assert int(large.headers["Content-Length"]) == 50_000_000
        assert "Content-Encoding" not in large.headers
        first = large.raw.read(1 << 20)
        assert len(first) == 1 << 20
    # closing early above must leave the server healthy (and logging no traceback)
    up = requests.post(cfg.upload_url, data=b"u" * 2_500_000, timeout=10)
    assert up.status_code == 200 and up.json() == {"bytes": 2_500_000}
    assert requests.post(cfg.upload_url, data=b"u" * 3_000_001, timeout=10).status_code == 413


def test_nq_urls_follow_the_host_header(srv: LocalServer) -> None:
    r = requests.get(srv.base_url + nq.NQ_PATH, headers={"Host": "[::1]:9999"}, timeout=5)
    assert nq.parse(r.content).upload_url == "http://[::1]:9999/rpm/upload"
    r = requests.get(srv.base_url + nq.NQ_PATH, headers={"Host": "bad host/x"}, timeout=5)
    assert r.status_code == 400 and "Host" in r.json()["error"]


def test_rpm_upload_chunked_is_counted(srv: LocalServer) -> None:
    def gen() -> Iterator[bytes]:
        for _ in range(10):
            yield b"c" * 100_000

    r = requests.post(srv.base_url + "/rpm/upload", data=gen(), timeout=10)
    assert r.status_code == 200 and json.loads(r.content) == {"bytes": 1_000_000}


def test_small_replies_are_not_delayed_by_nagle(srv: LocalServer) -> None:
    """Head and body go out in separate writes; without TCP_NODELAY each small JSON reply
    would wait for the client's delayed ACK (~40 ms), which would skew every latency probe."""
    with requests.Session() as s:
        s.get(srv.base_url + "/health", timeout=5)
        start = time.perf_counter()
        for _ in range(20):
            assert s.get(srv.base_url + "/rpm/small", timeout=5).status_code == 200
            assert s.get(srv.base_url + "/ip", timeout=5).status_code == 200
        mean_ms = (time.perf_counter() - start) / 40 * 1000
    assert mean_ms < 25, f"{mean_ms:.1f} ms per small request (Nagle would cost ~40)"


def test_client_abandoning_uploads_and_downloads_leaves_server_clean(srv: LocalServer) -> None:
    """RPM clients cut their load streams mid-body; the server must shrug (the module's
    teardown asserts no traceback reached the log)."""
    # declared sizes within each endpoint's limit, so the server is mid-drain when cut
    for path, declared in (
        ("/rpm/upload", 2_900_000),
        ("/empty.php", 1_000_000),
        ("/echo", 900_000),
    ):
        sock = connect(srv)
        head = request_bytes("POST", path, {"Content-Length": str(declared)})
        sock.sendall(head + b"x" * 300_000)
        time.sleep(0.05)
        sock.close()
    for path in ("/rpm/large", "/garbage.php?ckSize=64", "/echo?size=100000000"):
        sock = connect(srv)
        sock.sendall(request_bytes("GET", path))
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # with unread data: the server sees a reset mid-write
    assert requests.get(srv.base_url + "/health", timeout=5).status_code == 200
