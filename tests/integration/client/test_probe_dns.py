"""The dns probe against dnsmasq and tiny stubs on loopback (never the system's resolvers)."""

from __future__ import annotations

from waddleperf.probes.base import run_probe
from waddleperf.results.model import Status


def test_answer_udp_and_tcp(dnsmasq):
    for tcp in (False, True):
        r = run_probe(
            "dns",
            {"target": "www.lab.test", "resolvers": [f"127.0.0.1:{dnsmasq}"], "count": 2,
             "tcp": tcp},
        )  # fmt: skip
        assert r.status is Status.OK, r.error
        assert r.info["answers"] == "127.0.0.1"
        assert r.metrics["answer_count"] == 1 and r.metrics["noerror_count"] == 2
        assert r.metrics["query_avg_ms"] is not None and r.metrics["query_avg_ms"] > 0


def test_nxdomain(dnsmasq):
    r = run_probe("dns", {"target": "gone.nx.test", "resolvers": [f"127.0.0.1:{dnsmasq}"]})
    assert r.status is Status.FAILED
    assert r.metrics["nxdomain_count"] == 3
    assert r.metrics["query_avg_ms"] is not None  # the answer came, and was timed
    assert r.error and "NXDOMAIN (the name does not exist)" in r.error


def test_servfail(servfail_dns):
    r = run_probe("dns", {"target": "x.lab.test", "resolvers": [f"127.0.0.1:{servfail_dns}"]})
    assert r.status is Status.FAILED
    assert r.metrics["servfail_count"] == 3
    assert r.error and "SERVFAIL" in r.error


def test_timeout(silent_dns):
    r = run_probe(
        "dns",
        {"target": "x.lab.test", "resolvers": [f"127.0.0.1:{silent_dns}"], "count": 1,
         "timeout_s": 0.3},
    )  # fmt: skip
    assert r.status is Status.FAILED
    assert r.metrics["timeout_count"] == 1 and r.metrics["query_avg_ms"] is None
    assert r.error and "no answer within 0.3 s" in r.error


def test_degraded_when_one_resolver_fails(dnsmasq, silent_dns):
    r = run_probe(
        "dns",
        {"target": "www.lab.test", "count": 1, "timeout_s": 0.3,
         "resolvers": [f"127.0.0.1:{dnsmasq}", f"127.0.0.1:{silent_dns}"]},
    )  # fmt: skip
    assert r.status is Status.DEGRADED
    assert r.samples is not None and [s["outcome"] for s in r.samples] == ["NOERROR", "timeout"]
    assert r.info["resolver1"] == f"127.0.0.1:{dnsmasq}"
    assert r.metrics["resolver1_ok_count"] == 1 and r.metrics["resolver2_ok_count"] == 0
    assert r.metrics["resolver1_query_avg_ms"] is not None
    assert r.metrics["resolver2_query_avg_ms"] is None  # it never answered; error says so
