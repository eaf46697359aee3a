"""Every threshold rule watches a metric its probe really emits (a renamed metric would
otherwise switch its threshold off without a word), and the fakes' healthy figures cover
exactly the watched metrics.

Each probe's own summary code runs on synthetic samples; no I/O.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.unit.autoperf.fakes import HEALTHY
from waddleperf.autoperf import policy
from waddleperf.autoperf.config import Tier1Thresholds, Tier2Thresholds
from waddleperf.probes import dns, http, iperf_json, speedtest, tcp
from waddleperf.probes.echo import EchoOutcome, Reply, summarize_session
from waddleperf.probes.targets import parse_url
from waddleperf.results.model import MetricValue

RULES = policy.TIER1_RULES + policy.TIER2_RULES
IPERF_DATA = Path(__file__).parents[1] / "client" / "probes" / "data"
Metrics = dict[str, MetricValue]


def _echo() -> Metrics:
    """icmp and udp both summarise their echo session with summarize_session."""
    replies = [Reply(seq, 0, (1 + seq) * 1_000_000) for seq in range(3)]
    return summarize_session(EchoOutcome(sent=4, replies=replies))[0]


def _tcp() -> Metrics:
    attempts = [tcp.Attempt("ok", 1_000_000), tcp.Attempt("refused", None, 111)]
    return tcp.summarize_attempts(attempts)[0]


def _http() -> Metrics:
    rep = http.Repetition(phases=dict.fromkeys(http.PHASES, 1_000_000), status=200)
    return http.summarize([rep, http.Repetition(error="refused")])[0]


def _dns() -> Metrics:
    return dns.summarize([dns.Query("127.0.0.1:53", "NOERROR", 2_000_000, ["192.0.2.1"])])[0]


def _iperf() -> Metrics:
    """Both protocols: the tier-2 floor watches the same figure of a TCP and a UDP run."""
    metrics: Metrics = {}
    for name in ("iperf3_tcp.json", "iperf3_udp.json"):
        report = iperf_json.parse_report(json.loads((IPERF_DATA / name).read_text()))
        assert report.error is None, name
        if metrics:  # keep only what both protocols emit
            metrics = {k: v for k, v in metrics.items() if k in report.metrics}
        else:
            metrics = dict(report.metrics)
    return metrics


class _Streams:
    """TransferStreams moving 1 MB per tick, without sockets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.total = 0

    def __enter__(self) -> _Streams:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def total_bytes(self) -> int:
        self.total += 1_000_000
        return self.total

    def all_stopped(self) -> bool:
        return False

    def errors(self) -> list[str]:
        return []

    def rejected(self) -> bool:
        return False


def _speedtest(monkeypatch: pytest.MonkeyPatch) -> Metrics:
    """The probe's own ``transfer`` on fake streams and a fake clock (no sleeping)."""
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    monkeypatch.setattr(speedtest, "TransferStreams", _Streams)
    monkeypatch.setattr(
        speedtest, "time", types.SimpleNamespace(sleep=sleep, monotonic=lambda: clock[0])
    )
    options = speedtest.SpeedtestOptions(target="http://192.0.2.1/", duration_s=1)
    out = speedtest.Outcome()
    speedtest.transfer(parse_url(options.target), "download", options, out, lambda *_: None)
    assert not out.failures, out.failures
    return out.metrics


EMITTERS: dict[str, Callable[[pytest.MonkeyPatch], Metrics]] = {
    "icmp": lambda _mp: _echo(),
    "udp": lambda _mp: _echo(),
    "tcp": lambda _mp: _tcp(),
    "http": lambda _mp: _http(),
    "dns": lambda _mp: _dns(),
    "iperf": lambda _mp: _iperf(),
    "speedtest": _speedtest,
}


def test_every_rule_probe_has_an_emitter_here() -> None:
    assert {r.probe for r in RULES} == set(EMITTERS)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.key}-{r.probe}-{r.metric}")
def test_rule_metric_is_emitted_by_its_probe(
    rule: policy.Rule, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics = EMITTERS[rule.probe](monkeypatch)
    assert rule.metric in metrics, sorted(metrics)
    value = metrics[rule.metric]
    # a number on healthy samples, so find_breaches can compare it with the threshold
    assert isinstance(value, int | float) and not isinstance(value, bool), value


def test_healthy_figures_cover_exactly_the_watched_metrics() -> None:
    watched = {(r.probe, r.metric) for r in RULES}
    assert {(p, m) for p, figures in HEALTHY.items() for m in figures} == watched


def test_healthy_figures_breach_no_default_threshold() -> None:
    obs = [policy.Observation("s", p, p, dict(figures)) for p, figures in HEALTHY.items()]
    for rules, thresholds in (
        (policy.TIER1_RULES, Tier1Thresholds()),
        (policy.TIER2_RULES, Tier2Thresholds(throughput_floor_mbps=100)),
    ):
        lim = policy.limits(rules, thresholds.model_dump())
        assert policy.find_breaches(obs, lim) == []
