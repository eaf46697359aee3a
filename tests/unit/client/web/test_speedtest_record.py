"""The browser speed test's POSTed figures → a probe.speedtest record, checked on the way in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from waddleperf.results.model import Status
from waddleperf.web.speedtest_record import MAX_SAMPLES, BadSpeedtest, speedtest_result

SERVER = "http://127.0.0.1:8080/backend/"
NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def payload(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "server": SERVER,
        "duration_s": 40.5,
        "metrics": {
            "ping_ms": 0.4,
            "jitter_ms": 0.1,
            "ping_lost_count": 0,
            "download_throughput_mbps": 4200.0,
            "download_bytes": 4_000_000_000,
            "upload_throughput_mbps": 3100.5,
            "upload_measured_s": 15.0,
        },
        "info": {"client_ip": "127.0.0.1", "isp": "localhost IPv4 access", "extra": "dropped"},
        "samples": [
            {"phase": "ping", "seq": 0, "rtt_ms": 0.5, "junk": 1},
            {"phase": "download", "t_s": 0.2, "bytes": 10, "instant_goodput_mbps": None},
        ],
        "failures": [],
    }
    doc.update(over)
    return doc


def test_a_good_run_becomes_a_speedtest_record_like_the_cli_probe() -> None:
    r = speedtest_result(payload(), [SERVER], "agent-1", NOW)
    assert (r.kind, r.target, r.agent, r.status) == ("probe.speedtest", SERVER, "agent-1", "ok")
    assert r.metrics["download_throughput_mbps"] == 4200.0 and r.metrics["ping_ms"] == 0.4
    assert r.finished_at == NOW and (NOW - r.started_at).total_seconds() == 40.5
    assert r.info == {"client_ip": "127.0.0.1", "isp": "localhost IPv4 access",
                      "ip_processed": None, "client": "browser"}  # fmt: skip
    assert r.samples == [{"phase": "ping", "seq": 0, "rtt_ms": 0.5},
                         {"phase": "download", "t_s": 0.2, "bytes": 10}]  # fmt: skip
    assert r.error is None and r.params["client"] == "browser"


def test_failures_make_it_degraded_or_failed() -> None:
    part = payload(failures=["upload failed: cannot reach http://x/"])
    r = speedtest_result(part, [SERVER], "a", NOW)
    assert r.status == Status.DEGRADED and r.error == "upload failed: cannot reach http://x/."
    nothing = payload(metrics={"ping_ms": None}, failures=["ping failed: too few answers"])
    assert speedtest_result(nothing, [SERVER], "a", NOW).status == Status.FAILED


def test_samples_are_capped_and_counted() -> None:
    many = [{"phase": "ping", "seq": i, "rtt_ms": 1.0} for i in range(MAX_SAMPLES + 5)]
    r = speedtest_result(payload(samples=many), [SERVER], "a", NOW)
    assert r.samples is not None and len(r.samples) == MAX_SAMPLES and r.samples_dropped == 5


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"server": "http://10.9.9.9/backend/"}, "is not one of the configured servers"),
        ({"metrics": {}}, "metrics: missing"),
        ({"metrics": {"cpu_pct": 1}}, "metrics.cpu_pct: not a speed test metric"),
        ({"metrics": {"ping_ms": -1}}, "metrics.ping_ms = -1: outside"),
        ({"metrics": {"download_throughput_mbps": 5e9}}, "outside 0 … 1e+06"),
        ({"metrics": {"ping_ms": "fast"}}, "metrics.ping_ms: not a number"),
        ({"metrics": {"ping_ms": True}}, "metrics.ping_ms: not a number"),
        ({"samples": [{"phase": "evil"}]}, "samples[0].phase"),
        ({"samples": "x"}, "samples: not a list"),
        ({"info": {"isp": 5}}, "info.isp: not a string"),
        ({"duration_s": 1e9}, "duration_s"),
    ],
)
def test_implausible_or_foreign_figures_are_refused(over: dict[str, Any], message: str) -> None:
    with pytest.raises(BadSpeedtest, match=message.replace("[", r"\[").replace("+", r"\+")):
        speedtest_result(payload(**over), [SERVER], "a", NOW)


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(BadSpeedtest, match="not a JSON object"):
        speedtest_result([1, 2], [SERVER], "a", NOW)
