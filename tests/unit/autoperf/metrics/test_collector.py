"""The collector's exposition: one whole cycle per scrape, totals kept, the spool's figures;
its own registry (the process-wide default registry stays untouched)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.builders import make_result
from waddleperf.autoperf.metrics.collector import METRICS, AgentCollector, SinkFigures
from waddleperf.autoperf.metrics.samples import cycle_metrics
from waddleperf.autoperf.metrics.state import ExporterState
from waddleperf.results.model import Result

FIGURES = SinkFigures(3, 4096, 1, 512, 0, 7, 2, 1_800_000_000.0)


def _scrape(
    state: ExporterState, figures: SinkFigures | None = FIGURES
) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(state, "a1", "9.9", lambda: figures))
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            key = tuple(sorted(s.labels.items()))
            out.setdefault(s.name, {})[key] = s.value
    return out


def _icmp(avg_ms: float, samples: list[float]) -> Result:
    return make_result(info={"server": "lo", "step": "icmp"}, metrics={"rtt_avg_ms": avg_ms},
                       samples=[{"rtt_ms": v} for v in samples])  # fmt: skip


def test_the_last_cycle_replaces_the_one_before_and_totals_add_up() -> None:
    state = ExporterState()
    state.commit(cycle_metrics([_icmp(10.0, [0.04, 10.0])], {"lo": 2}, 1.0), 100.0)
    state.commit(cycle_metrics([_icmp(20.0, [20.0])], {"lo": 1}, 2.0), 200.0)
    got = _scrape(state)
    labels = (("agent", "a1"), ("probe", "icmp"), ("server", "lo"), ("stat", "avg"),
              ("step", "icmp"), ("tier", "1"))  # fmt: skip
    assert got["waddleperf_rtt_seconds"] == {labels: 0.02}
    assert got["waddleperf_tier"] == {(("agent", "a1"), ("server", "lo")): 1.0}
    assert got["waddleperf_cycles_total"] == {(("agent", "a1"),): 2.0}
    assert got["waddleperf_last_cycle_timestamp_seconds"] == {(("agent", "a1"),): 200.0}
    step = tuple(x for x in labels if x[0] != "stat")
    assert got["waddleperf_response_duration_seconds_count"][step] == 3
    assert got["waddleperf_response_duration_seconds_sum"][step] == 0.03004
    buckets = got["waddleperf_response_duration_seconds_bucket"]
    assert buckets[(*step[:1], ("le", "5e-05"), *step[1:])] == 1  # 40 µs
    assert buckets[(*step[:1], ("le", "+Inf"), *step[1:])] == 3


def test_spool_figures_and_build_info() -> None:
    got = _scrape(ExporterState())
    agent = (("agent", "a1"),)
    assert got["waddleperf_spool_bundles"][agent] == 3
    assert got["waddleperf_spool_bytes"][agent] == 4096
    assert got["waddleperf_pending_bundles"][agent] == 1
    assert got["waddleperf_upload_failures_total"][agent] == 2
    assert got["waddleperf_uploads_total"][agent] == 7
    assert got["waddleperf_last_upload_success_timestamp_seconds"][agent] == 1.8e9
    assert got["waddleperf_build_info"] == {(("agent", "a1"), ("version", "9.9")): 1.0}
    assert "waddleperf_last_cycle_timestamp_seconds" not in got  # no cycle yet


def test_without_a_spool_its_families_are_left_out() -> None:
    got = _scrape(ExporterState(), None)
    assert "waddleperf_spool_bundles" not in got and "waddleperf_build_info" in got


def test_every_emitted_family_is_listed_and_nothing_goes_to_the_default_registry() -> None:
    before = set(REGISTRY._names_to_collectors)
    state = ExporterState()
    records = [_icmp(1.0, [1.0]), make_result(kind="autoperf.event", metrics={}, info={
        "event": "escalation", "server": "lo", "to_tier": 2, "metric": None})]  # fmt: skip
    state.commit(cycle_metrics(records, {"lo": 2}, 1.0), 1.0)
    names = set()
    for name in _scrape(state):
        for suffix in ("_bucket", "_count", "_sum"):
            name = name.removesuffix(suffix) if name.startswith("waddleperf_response") else name
        names.add(name)
    assert names <= set(METRICS)
    assert set(REGISTRY._names_to_collectors) == before
