"""The http probe against the real server's /echo and a self-signed HTTPS server on loopback."""

from __future__ import annotations

from tests.support.net import free_port
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Status


def test_server_echo_delay_shows_in_ttfb(shared_server):
    r = run_probe("http", {"target": f"{shared_server.base_url}/echo?delay_ms=200", "count": 2})
    assert r.status is Status.OK, r.error
    m = r.metrics
    assert m["ttfb_min_ms"] is not None and m["ttfb_min_ms"] >= 200
    assert m["http_status_code"] == 200 and m["redirect_count"] == 0
    assert m["dns_avg_ms"] is not None and m["connect_avg_ms"] is not None
    assert "tls_avg_ms" not in m  # plain http: not applicable, so absent
    assert m["total_min_ms"] is not None and m["total_min_ms"] >= m["ttfb_min_ms"]


def test_keep_alive_reuses_the_connection(shared_server):
    r = run_probe(
        "http",
        {"target": f"{shared_server.base_url}/echo?size=1000", "count": 3, "keep_alive": True},
    )
    assert r.status is Status.OK, r.error
    assert r.samples is not None
    assert [s["reused"] for s in r.samples] == [False, True, True]
    assert r.metrics["body_bytes"] == 1000


def test_https_with_self_signed_ca(https_server):
    r = run_probe(
        "http", {"target": https_server.url, "count": 2, "ca_file": str(https_server.ca_file)}
    )
    assert r.status is Status.OK, r.error
    assert r.metrics["tls_avg_ms"] is not None and r.metrics["tls_avg_ms"] > 0
    expiry = r.metrics["tls_cert_expiry_days"]
    assert expiry is not None and 29 < expiry <= 30
    assert str(r.info["tls_version"]).startswith("TLS")
    assert r.info["tls_cipher"]


def test_https_untrusted_certificate_fails_unless_insecure(https_server):
    r = run_probe("http", {"target": https_server.url, "count": 1})
    assert r.status is Status.FAILED
    assert r.error and "certificate" in r.error
    r = run_probe("http", {"target": https_server.url, "count": 1, "insecure": True})
    assert r.status is Status.OK, r.error
    assert r.metrics["tls_cert_expiry_days"] is not None


def test_redirect_hops_are_counted(https_server):
    r = run_probe(
        "http",
        {"target": https_server.url + "redirect", "count": 1, "ca_file": str(https_server.ca_file)},
    )
    assert r.status is Status.OK, r.error
    assert r.metrics["redirect_count"] == 1
    assert r.metrics["ttfb_min_ms"] is not None and r.metrics["ttfb_min_ms"] >= 100
    assert str(r.info["final_url"]).endswith("/slow")
    assert r.samples is not None and r.samples[0]["tls_ms"] is not None


def test_refused():
    r = run_probe("http", {"target": f"http://127.0.0.1:{free_port()}/", "count": 1})
    assert r.status is Status.FAILED and r.error and "refused" in r.error


def test_head_reads_no_body(shared_server):
    r = run_probe(
        "http", {"target": f"{shared_server.base_url}/echo?size=5000", "count": 1, "method": "HEAD"}
    )
    assert r.status is Status.OK, r.error
    assert r.metrics["body_bytes"] == 0 and r.metrics["http_status_code"] == 200
