"""Pure parts of the HTTP side: parameters, client address, getIP wording, bodies, ICMP, nq."""

from __future__ import annotations

import io
import ipaddress
import json
import zlib
from pathlib import Path

import pytest

from waddleperf_common import nq
from waddleperf_server.host import icmp
from waddleperf_server.host.geo import ipinfo_record, isp_summary
from waddleperf_server.http import bodies, params
from waddleperf_server.http.endpoints.librespeed import processed_ip
from waddleperf_server.http.endpoints.responsiveness import nq_document, valid_host
from waddleperf_server.net import clientaddr

# --- query parameters -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, 4),
        ("1", 1),
        ("20", 20),
        ("0", 4),
        ("000", 4),
        ("-1", 4),
        ("abc", 4),
        ("2.5", 4),
        ("1e3", 4),
        ("", 4),
        (" 7 ", 7),
        ("1024", 100),
        ("99999", 100),
        ("9" * 5000, 100),
        ("0007", 7),
    ],
)
def test_garbage_chunks_falls_back_or_caps(raw: str | None, expected: int) -> None:
    assert params.garbage_chunks(raw, default=4, cap=100) == expected


def test_bounded_int_accepts_range_and_default() -> None:
    assert params.bounded_int({}, "size", 0, 10, -1) == -1
    assert params.bounded_int({"size": "0"}, "size", 0, 10, -1) == 0
    assert params.bounded_int({"size": "10"}, "size", 0, 10, -1) == 10


@pytest.mark.parametrize("raw", ["11", "-1", "1.5", "x", "", "1e2", "9" * 40, "0x10"])
def test_bounded_int_rejects_and_names_the_parameter(raw: str) -> None:
    with pytest.raises(params.ParamError) as err:
        params.bounded_int({"delay_ms": raw}, "delay_ms", 0, 10, 0)
    assert err.value.param == "delay_ms"
    assert "delay_ms" in err.value.message


def test_flag_is_presence_like_php_isset() -> None:
    assert params.flag({"cors": ""}, "cors")
    assert params.flag({"cors": "false"}, "cors")
    assert not params.flag({"x": "1"}, "cors")


# --- client address ---------------------------------------------------------------------

TRUSTED = clientaddr.parse_networks(["127.0.0.0/8", "10.0.0.0/8"])


def test_untrusted_peer_ignores_forwarded_for() -> None:
    assert clientaddr.client_address("192.0.2.9", ["203.0.113.5"], TRUSTED) == ("192.0.2.9", False)
    assert clientaddr.client_address("127.0.0.1", ["203.0.113.5"], ()) == ("127.0.0.1", False)


def test_trusted_peer_walks_chain_right_to_left() -> None:
    # client, untrusted middle hop, trusted proxy, then the peer (trusted)
    chain = ["198.51.100.7, 203.0.113.5", "10.1.2.3"]
    assert clientaddr.client_address("127.0.0.1", chain, TRUSTED) == ("203.0.113.5", True)


def test_all_trusted_chain_gives_leftmost_and_bad_hop_stops_walk() -> None:
    assert clientaddr.client_address("127.0.0.1", ["10.0.0.1, 10.0.0.2"], TRUSTED) == (
        "10.0.0.1",
        True,
    )
    assert clientaddr.client_address("127.0.0.1", ["1.2.3.4, junk, 10.0.0.2"], TRUSTED) == (
        "10.0.0.2",
        True,
    )
    assert clientaddr.client_address("127.0.0.1", [], TRUSTED) == ("127.0.0.1", False)


def test_peer_and_hops_in_normal_form() -> None:
    # a dual-stack listener reports an IPv4 proxy as ::ffff:…; it is still the trusted proxy
    peer, hop = "::ffff:127.0.0.1", "[::ffff:203.0.113.5]"
    assert clientaddr.client_address(peer, [hop], TRUSTED) == ("203.0.113.5", True)
    assert clientaddr.client_address(peer, [], ()) == ("127.0.0.1", False)
    assert clientaddr.client_address("not-an-ip", ["203.0.113.5"], TRUSTED) == ("not-an-ip", False)


@pytest.mark.parametrize(
    ("ip", "kind"),
    [
        ("127.0.0.1", "localhost IPv4 access"),
        ("127.255.0.9", "localhost IPv4 access"),
        ("10.9.8.7", "private IPv4 access"),
        ("172.16.0.1", "private IPv4 access"),
        ("172.31.255.255", "private IPv4 access"),
        ("172.32.0.1", None),
        ("192.168.1.1", "private IPv4 access"),
        ("169.254.3.4", "link-local IPv4 access"),
        ("100.64.0.1", "CGNAT IPv4 access"),
        ("100.127.255.254", "CGNAT IPv4 access"),
        ("100.128.0.1", None),
        ("::1", "localhost IPv6 access"),
        ("fe80::abcd", "link-local IPv6 access"),
        ("fd12:3456::1", "ULA IPv6 access"),
        ("fc00::1", "ULA IPv6 access"),
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
    ],
)
def test_classify_matches_librespeed_wording(ip: str, kind: str | None) -> None:
    assert clientaddr.classify(ipaddress.ip_address(ip)) == kind


def test_processed_string_forms() -> None:
    assert processed_ip("192.168.0.5", None) == ("192.168.0.5 - private IPv4 access", "")
    assert processed_ip("8.8.8.8", None) == ("8.8.8.8", "")
    info = {"ip": "8.8.8.8", "org": "AS15169 Google LLC", "country": "US"}
    assert processed_ip("8.8.8.8", info) == ("8.8.8.8 - Google LLC, US", info)


def test_ipinfo_record_from_raw_maxmind_records() -> None:
    city = {
        "city": {"names": {"en": "Mountain View"}},
        "country": {"iso_code": "US"},
        "subdivisions": [{"names": {"en": "California"}}],
        "location": {"latitude": 37.386, "longitude": -122.0838, "time_zone": "America/LA"},
        "postal": {"code": "94035"},
    }
    asn = {"autonomous_system_number": 15169, "autonomous_system_organization": "Google LLC"}
    rec = ipinfo_record("8.8.8.8", city, asn)
    assert rec == {
        "ip": "8.8.8.8",
        "city": "Mountain View",
        "region": "California",
        "country": "US",
        "postal": "94035",
        "timezone": "America/LA",
        "loc": "37.3860,-122.0838",
        "org": "AS15169 Google LLC",
    }
    assert isp_summary(rec) == "Google LLC, US"
    assert isp_summary({"ip": "1.1.1.1"}) == "Unknown ISP"
    assert ipinfo_record("1.1.1.1", None, None) == {"ip": "1.1.1.1"}


# --- bodies -----------------------------------------------------------------------------


class _Trickle(io.RawIOBase):
    """An endless body: every read returns the requested size."""

    def __init__(self) -> None:
        self.reads = 0

    def read(self, size: int = -1, /) -> bytes:
        self.reads += 1
        return b"x" * size


def test_drain_counts_and_flags_over_limit() -> None:
    r = bodies.drain(io.BytesIO(b"a" * 1000), limit=1000, chunk=64)
    assert r == bodies.DrainResult(1000, complete=True, over_limit=False)
    r = bodies.drain(io.BytesIO(b"a" * 1001), limit=1000, chunk=64)
    assert r == bodies.DrainResult(1001, complete=True, over_limit=True)


def test_drain_stops_an_endless_body_after_the_budget() -> None:
    src = _Trickle()
    r = bodies.drain(src, limit=100, budget=1000, chunk=10)
    assert not r.complete and r.over_limit
    assert r.received_bytes == 1110
    assert src.reads == 111


@pytest.mark.parametrize("total", [0, 1, 99, 100, 101, 1234])
def test_repeat_stream_exact_length_and_cyclic(total: int) -> None:
    buf = bytes(range(100))
    out = b"".join(bytes(v) for v in bodies.repeat_stream(buf, total, chunk=33))
    assert len(out) == total
    assert out == (buf * 13)[:total]


def test_random_buffer_views_are_incompressible() -> None:
    import os

    buf = os.urandom(1 << 20)
    data = b"".join(bytes(v) for v in bodies.repeat_stream(buf, 3 << 20))
    assert len(zlib.compress(data, 6)) / len(data) > 0.99


# --- ICMP and responsiveness ------------------------------------------------------------


def test_icmp_state_reads_sysctls(tmp_path: Path) -> None:
    (tmp_path / "net/ipv4").mkdir(parents=True)
    (tmp_path / icmp.IPV4_KEY).write_text("0\n")
    state = icmp.echo_state(tmp_path)
    assert state["ipv4_echo"] is True and state["ipv6_echo"] is None
    assert state["source"] == "/proc/sys/net/ipv4/icmp_echo_ignore_all"
    (tmp_path / "net/ipv6/icmp").mkdir(parents=True)
    (tmp_path / icmp.IPV6_KEY).write_text("1\n")
    (tmp_path / icmp.IPV4_KEY).write_text("1\n")
    state = icmp.echo_state(tmp_path)
    assert state["ipv4_echo"] is False and state["ipv6_echo"] is False
    assert icmp.parse_ignore_all("garbage") is None


def test_icmp_state_unreadable_is_unknown_not_off(tmp_path: Path) -> None:
    """A sysctl that is missing, unreadable or not a number is null (unknown), never false."""
    assert icmp.echo_state(tmp_path)["ipv4_echo"] is None  # missing
    (tmp_path / "net/ipv4").mkdir(parents=True)
    (tmp_path / icmp.IPV4_KEY).write_text("garbage\n")
    assert icmp.echo_state(tmp_path)["ipv4_echo"] is None
    (tmp_path / icmp.IPV4_KEY).unlink()
    (tmp_path / icmp.IPV4_KEY).mkdir()  # reading a directory fails with an OSError
    state = icmp.echo_state(tmp_path)
    assert state["ipv4_echo"] is None and state["ipv6_echo"] is None


def test_nq_document_parses_and_keeps_brackets() -> None:
    doc = nq.parse(json.dumps(nq_document("http", "[::1]:8080")))
    assert doc.small_download_url == "http://[::1]:8080/rpm/small"
    assert doc.large_download_url == "http://[::1]:8080/rpm/large"
    assert doc.upload_url == "http://[::1]:8080/rpm/upload"


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("example.org", True),
        ("127.0.0.1:80", True),
        ("[::1]:8080", True),
        ("[fe80::1%25eth0]", True),
        ("", False),
        ("a b", False),
        ("evil.com/path", False),
        ("x@y", False),
        ("::1", False),
    ],
)
def test_valid_host(host: str, ok: bool) -> None:
    assert valid_host(host) is ok


# --- stats helpers ----------------------------------------------------------------------


def test_read_pid_file(tmp_path: Path) -> None:
    from waddleperf_server.host.stats import TargetNotFound, read_pid_file

    good = tmp_path / "a.pid"
    good.write_text(" 4242 \nextra\n")
    assert read_pid_file(good) == 4242
    bad = tmp_path / "b.pid"
    bad.write_text("nope\n")
    with pytest.raises(TargetNotFound, match="holds no pid"):
        read_pid_file(bad)
    with pytest.raises(TargetNotFound, match="cannot read pid file"):
        read_pid_file(tmp_path / "missing.pid")


def test_rfc3339_now_is_utc_with_z() -> None:
    from datetime import datetime

    from waddleperf_server.host.stats import rfc3339_now

    text = rfc3339_now()
    assert text.endswith("Z") and "T" in text
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    offset = parsed.utcoffset()
    assert offset is not None and offset.total_seconds() == 0
