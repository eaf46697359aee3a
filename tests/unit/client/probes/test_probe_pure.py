"""The pure parts of the tcp, http, dns, udp and ssh probes (no network)."""

from __future__ import annotations

import datetime as dt
import errno

import paramiko
import pytest

from waddleperf.probes import dns as dns_probe
from waddleperf.probes import http as http_probe
from waddleperf.probes import ssh as ssh_probe
from waddleperf.probes import tcp as tcp_probe
from waddleperf.probes.echo import Reply
from waddleperf.probes.http_timing import cert_expiry_days
from waddleperf.probes.netio import classify_errno, describe_errno
from waddleperf.probes.targets import parse_endpoint
from waddleperf.probes.udp import forward_jitter_ms
from waddleperf.results.model import Status


def test_classify_errno():
    assert classify_errno(errno.ECONNREFUSED) == "refused"
    assert classify_errno(errno.ETIMEDOUT) == "timeout"
    assert classify_errno(errno.EHOSTUNREACH) == "unreachable"
    assert classify_errno(errno.ENETUNREACH) == "unreachable"
    assert classify_errno(errno.EACCES) == "error"
    assert "ECONNREFUSED" in describe_errno(errno.ECONNREFUSED)


def test_tcp_summary_and_sentence():
    attempts = [
        tcp_probe.Attempt("ok", 2_000_000),
        tcp_probe.Attempt("ok", 4_000_000),
        tcp_probe.Attempt("refused", None, errno.ECONNREFUSED),
        tcp_probe.Attempt("timeout", None, errno.ETIMEDOUT),
    ]
    metrics, samples = tcp_probe.summarize_attempts(attempts)
    assert metrics["connect_avg_ms"] == 3.0 and metrics["connect_mdev_ms"] == 1.0
    assert (metrics["ok_count"], metrics["refused_count"], metrics["timeout_count"]) == (2, 1, 1)
    assert metrics["failure_pct"] == 50.0
    assert samples[2] == {"attempt": 2, "outcome": "refused", "connect_ms": None,
                          "errno": "ECONNREFUSED"}  # fmt: skip
    sentence = tcp_probe.failure_sentence(attempts, 1.5)
    assert sentence is not None
    assert sentence.startswith("2 of 4 connects failed: 1 refused (")
    assert "1 timeout (no answer within 1.5 s)" in sentence
    assert tcp_probe.failure_sentence(attempts[:2], 1.0) is None


def _rep(ttfb_ms, total_ms, status=200, error=None, dns=1.0):
    rep = http_probe.Repetition(status=status, body_bytes=10, error=error, url="http://x/")
    rep.add("dns", int(dns * 1e6) if dns is not None else None)
    rep.add("ttfb", int(ttfb_ms * 1e6))
    rep.add("transfer", 1_000_000)
    rep.phases["total"] = int(total_ms * 1e6)
    return rep


def test_http_summary_absent_vs_null():
    metrics, samples = http_probe.summarize([_rep(10, 12), _rep(20, 22)])
    assert metrics["ttfb_avg_ms"] == 15.0 and metrics["ttfb_p50_ms"] == 10.0
    assert metrics["dns_avg_ms"] == 1.0
    assert "tls_avg_ms" not in metrics and "connect_avg_ms" not in metrics
    assert metrics["http_status_code"] == 200 and metrics["ok_count"] == 2
    assert samples[0]["tls_ms"] is None and samples[0]["ttfb_ms"] == 10.0


def test_http_judge():
    assert http_probe.judge([_rep(1, 2)]) == (Status.OK, None)
    status, error = http_probe.judge([_rep(1, 2), _rep(1, 2, error="Connection refused")])
    assert status is Status.DEGRADED and error == "1 of 2 requests failed: Connection refused."
    status, error = http_probe.judge([_rep(1, 2, status=503)])
    assert status is Status.DEGRADED and error and "HTTP 503" in error


def test_cert_expiry_days_from_der():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=10))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    der = cert.public_bytes(serialization.Encoding.DER)
    assert cert_expiry_days(der, now) == pytest.approx(10.0)
    assert cert_expiry_days(der, now + dt.timedelta(days=11)) == pytest.approx(-1.0)
    assert cert_expiry_days(None) is None


def test_dns_summary_and_sentence():
    queries = [
        dns_probe.Query("127.0.0.1:53", "NOERROR", 2_000_000, ["1.2.3.4"]),
        dns_probe.Query("127.0.0.1:53", "NXDOMAIN", 4_000_000),
        dns_probe.Query("[::1]:53", "timeout", None, detail="no answer within 1 s"),
    ]
    metrics, samples = dns_probe.summarize(queries)
    assert metrics["query_avg_ms"] == 3.0  # NXDOMAIN answers are timed too
    assert (metrics["noerror_count"], metrics["nxdomain_count"], metrics["timeout_count"]) == (
        1, 1, 1,
    )  # fmt: skip
    assert metrics["answer_count"] == 1
    assert samples[2]["query_ms"] is None
    sentence = dns_probe.failure_sentence(queries, "x.test", "A")
    assert sentence == (
        "2 of 3 queries for x.test A failed: 1 NXDOMAIN (the name does not exist) at "
        "127.0.0.1:53; 1 timeout (no answer within 1 s) at [::1]:53."
    )


def test_forward_jitter_needs_server_stamps():
    replies = [
        Reply(0, 0, 10, {"server_rx_ns": 1_000_000}),
        Reply(1, 0, 10, {"server_rx_ns": 3_000_000}),
    ]
    # transits 1 ms and 3 ms: D = 2 ms → J = 2/16
    assert forward_jitter_ms(replies) == pytest.approx(2 / 16)
    assert (
        forward_jitter_ms(
            [Reply(0, 0, 1, {"server_rx_ns": 0}), Reply(1, 0, 1, {"server_rx_ns": 0})]
        )
        is None
    )


def test_ssh_known_hosts_naming_and_check(tmp_path):
    assert ssh_probe.known_hosts_name(parse_endpoint("127.0.0.1:22")) == "127.0.0.1"
    assert ssh_probe.known_hosts_name(parse_endpoint("[::1]:2222")) == "[::1]:2222"
    host_key = paramiko.ECDSAKey.generate()
    other = paramiko.ECDSAKey.generate()
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:2222 {host_key.get_name()} {host_key.get_base64()}\n")
    ep = parse_endpoint("127.0.0.1:2222")
    assert ssh_probe.check_host_key(host_key, ep, kh) is None
    mismatch = ssh_probe.check_host_key(other, ep, kh)
    assert mismatch and "MISMATCH" in mismatch
    unknown = ssh_probe.check_host_key(host_key, parse_endpoint("127.0.0.2:2222"), kh)
    assert unknown and "--insecure-accept-host-key" in unknown
    assert ssh_probe.fingerprint(host_key).startswith("SHA256:")
