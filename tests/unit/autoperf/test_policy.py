"""The tier policy: breaches, hysteresis, cooldown, max cycles, forced tiers (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from hypothesis import example, given, settings, target
from hypothesis import strategies as st

from waddleperf.autoperf import policy
from waddleperf.autoperf.policy import (
    Breach,
    Observation,
    PolicyConfig,
    ServerState,
    after_tier1,
    after_tier2,
    find_breaches,
)

T1 = policy.limits(
    policy.TIER1_RULES,
    {"rtt_ms": 100, "loss_pct": 2, "jitter_ms": 30, "http_total_ms": 1000, "dns_ms": 500,
     "failure": True, "critical_loss_pct": 10, "critical_rtt_ms": None},
)  # fmt: skip
T2 = policy.limits(
    policy.TIER2_RULES,
    {"rtt_ms": None, "loss_pct": 2, "jitter_ms": 30, "throughput_floor_mbps": 100},
)
CFG = PolicyConfig(breaches=2, critical_breaches=1, cooldown_s=100.0, max_cycles={2: 3, 3: 1})


def icmp(rtt: float = 10.0, loss: float = 0.0, jitter: float = 1.0) -> Observation:
    return Observation("s", "icmp", "icmp", {"rtt_avg_ms": rtt, "loss_pct": loss,
                                             "jitter_ms": jitter})  # fmt: skip


def slow() -> list[Breach]:
    return find_breaches([icmp(rtt=150)], T1)


def critical() -> list[Breach]:
    return find_breaches([icmp(loss=25)], T1)


# -- breaches ---------------------------------------------------------------------------


def test_clear_observations_have_no_breach() -> None:
    assert find_breaches([icmp()], T1) == []


def test_breach_names_metric_value_threshold_and_server() -> None:
    (b,) = slow()
    assert (b.server, b.step, b.key, b.metric, b.value, b.threshold) == (
        "s", "icmp", "rtt_ms", "rtt_avg_ms", 150.0, 100.0
    )  # fmt: skip
    assert not b.critical
    assert b.describe() == "icmp rtt_avg_ms 150 > 100 (rtt_ms)"


def test_loss_past_the_critical_threshold_is_two_breaches_one_critical() -> None:
    found = critical()
    assert {(b.key, b.critical) for b in found} == {("loss_pct", False),
                                                     ("critical_loss_pct", True)}  # fmt: skip
    worst = policy.worst(found)
    assert worst is not None and worst.critical


@pytest.mark.parametrize(
    ("probe", "metrics", "key"),
    [
        ("udp", {"loss_pct": 3.0}, "loss_pct"),
        ("udp", {"jitter_ms": 31.0}, "jitter_ms"),
        ("tcp", {"connect_avg_ms": 101.0}, "rtt_ms"),
        ("tcp", {"failure_pct": 50.0}, "loss_pct"),
        ("http", {"total_avg_ms": 1001.0}, "http_total_ms"),
        ("dns", {"query_avg_ms": 501.0}, "dns_ms"),
    ],
)
def test_each_tier1_threshold(probe: str, metrics: dict[str, float], key: str) -> None:
    (b,) = find_breaches([Observation("s", probe, probe, metrics)], T1)
    assert b.key == key


def test_failure_is_a_breach_only_where_configured() -> None:
    failed = Observation("s", "tcp", "tcp", {}, failed=True, error="connection refused")
    (b,) = find_breaches([failed], T1)
    assert b.direction == "failed" and "connection refused" in b.describe()
    assert find_breaches([failed], T2) == []


def test_null_metric_and_disabled_threshold_never_breach() -> None:
    assert find_breaches([Observation("s", "icmp", "icmp", {"rtt_avg_ms": None})], T1) == []
    off = policy.limits(policy.TIER1_RULES, {"rtt_ms": None})
    assert find_breaches([icmp(rtt=10_000)], off) == []


def test_throughput_floor_is_a_critical_tier2_breach_below() -> None:
    obs = Observation("s", "iperf", "iperf", {"received_throughput_mbps": 40.0})
    (b,) = find_breaches([obs], T2)
    assert b.direction == "below" and b.critical
    assert "40 < 100" in b.describe()


# -- hysteresis ----------------------------------------------------------------------------


def test_one_breach_is_not_enough_two_escalate() -> None:
    d1 = after_tier1(ServerState(), "s", slow(), 0.0, CFG)
    assert d1.tier == 1 and d1.transitions == () and "1/2" in d1.note
    d2 = after_tier1(d1.state, "s", slow(), 60.0, CFG)
    assert d2.tier == 2
    (tr,) = d2.transitions
    assert (tr.from_tier, tr.to_tier, tr.server) == (1, 2, "s")
    assert "rtt_avg_ms 150 > 100" in tr.reason and tr.cause is not None


def test_a_clear_cycle_resets_the_streak() -> None:
    d = after_tier1(ServerState(), "s", slow(), 0.0, CFG)
    d = after_tier1(d.state, "s", [], 60.0, CFG)
    d = after_tier1(d.state, "s", slow(), 120.0, CFG)
    assert d.tier == 1


def test_critical_goes_straight_to_tier3() -> None:
    d = after_tier1(ServerState(), "s", critical(), 0.0, CFG)
    assert d.tier == 3
    assert d.transitions[0].from_tier == 1 and "critical" in d.transitions[0].reason


def test_tier2_breaches_escalate_to_3_after_k() -> None:
    st = ServerState(tier=2, cycles_at_tier=1)
    t2 = find_breaches([Observation("s", "udp_long", "udp", {"loss_pct": 5.0})], T2)
    d = after_tier2(st, "s", t2, 0.0, CFG)
    assert d.tier == 2
    d = after_tier2(d.state, "s", t2, 60.0, CFG)
    assert d.tier == 3 and d.transitions[0].reason.startswith("tier-2 breach")


def test_tier2_critical_escalates_at_once() -> None:
    st = ServerState(tier=2, cycles_at_tier=1)
    t2 = find_breaches([Observation("s", "iperf", "iperf", {"received_throughput_mbps": 1})], T2)
    assert after_tier2(st, "s", t2, 0.0, CFG).tier == 3


def test_clear_returns_to_tier1_with_an_event() -> None:
    d = after_tier1(ServerState(tier=3, cycles_at_tier=1), "s", [], 0.0, CFG)
    assert d.tier == 1
    (tr,) = d.transitions
    assert (tr.from_tier, tr.to_tier) == (3, 1) and tr.reason.startswith("cleared")


def test_max_cycles_at_a_tier_then_back_to_1() -> None:
    st = ServerState()
    tiers = []
    for cycle in range(6):
        st = after_tier1(st, "s", slow(), cycle * 60.0, CFG).state
        tiers.append(st.tier)
    # two breaches to climb, three cycles at tier 2, back to 1, cooldown (100 s) passed: climb
    assert tiers == [1, 2, 2, 2, 1, 2]


def test_cooldown_blocks_a_second_escalation() -> None:
    cfg = PolicyConfig(breaches=1, critical_breaches=1, cooldown_s=1000.0, max_cycles={2: 1, 3: 1})
    st = after_tier1(ServerState(), "s", slow(), 0.0, cfg).state
    assert st.tier == 2
    st = after_tier1(st, "s", slow(), 60.0, cfg).state  # max cycles reached: back to 1
    assert st.tier == 1
    d = after_tier1(st, "s", slow(), 120.0, cfg)
    assert d.tier == 1 and "cooldown" in d.note
    assert after_tier1(d.state, "s", slow(), 1000.0, cfg).tier == 2


def test_once_config_escalates_on_a_single_breach() -> None:
    assert after_tier1(ServerState(), "s", slow(), 0.0, CFG.once()).tier == 2


def test_forced_tier_records_a_transition() -> None:
    d = policy.forced(ServerState(), "s", 3)
    assert d.tier == 3 and d.transitions[0].reason == "forced by --force-tier"
    assert policy.forced(ServerState(), "s", 1).transitions == ()


@pytest.mark.parametrize(("draw", "expected"), [(0.0, 54.0), (0.5, 60.0), (0.999999, 66.0)])
def test_next_delay_jitter_bounds(draw: float, expected: float) -> None:
    assert policy.next_delay(60, 10, draw) == pytest.approx(expected, abs=1e-3)


def test_start_offset_spreads_within_the_jitter() -> None:
    assert policy.start_offset(60, 10, 0.0) == 0
    assert policy.start_offset(60, 10, 0.5) == pytest.approx(3.0)
    assert policy.start_offset(60, 0, 0.9) == 0


def test_next_delay_subtracts_elapsed_and_never_goes_negative() -> None:
    assert policy.next_delay(60, 0, 0.5, elapsed_s=20) == 40
    assert policy.next_delay(60, 0, 0.5, elapsed_s=600) == 0


# -- invariants (hypothesis) ---------------------------------------------------------------

CYCLE = st.tuples(
    st.sampled_from(["clear", "slow", "critical"]),
    st.sampled_from(["clear", "slow", "floor"]),
    st.floats(min_value=1.0, max_value=400.0),
)
CONFIGS = st.builds(
    PolicyConfig,
    breaches=st.integers(1, 4),
    critical_breaches=st.integers(1, 3),
    cooldown_s=st.floats(0, 2000),
    max_cycles=st.fixed_dictionaries({2: st.integers(1, 4), 3: st.integers(1, 3)}),
)
TIER2 = {
    "clear": [],
    "slow": find_breaches([Observation("s", "udp_long", "udp", {"jitter_ms": 99.0})], T2),
    "floor": find_breaches(
        [Observation("s", "iperf", "iperf", {"received_throughput_mbps": 1.0})], T2
    ),
}


Cycles = list[tuple[str, str, float]]
TIER1 = {"clear": [], "slow": slow(), "critical": critical()}


def _simulate(
    cfg: PolicyConfig, cycles: Sequence[tuple[str, str, float]]
) -> list[tuple[str, ServerState, ServerState, list[policy.Transition], float]]:
    """The daemon's own cycle order (policy.cycle) on one server whose tiers answer as scripted;
    one entry per cycle: (t1 kind, before, after, transitions, now)."""
    state, now, out = ServerState(), 0.0, []
    for t1, t2, gap in cycles:
        now += gap
        script = {1: TIER1[t1], 2: TIER2[t2], 3: []}
        trs: list[policy.Transition] = []

        def run(
            tier: int, servers: list[str], script: dict[int, list[Breach]] = script
        ) -> Mapping[str, Sequence[Breach]]:
            return dict.fromkeys(servers, script[tier])

        def decided(_label: str, d: policy.Decision, trs: list[policy.Transition] = trs) -> None:
            trs.extend(d.transitions)

        def clock(now: float = now) -> float:
            return now

        before = state
        state = policy.cycle({"s": state}, run, clock, cfg, decided)["s"]
        out.append((t1, before, state, trs, now))
    return out


def _checked_skips(cfg: PolicyConfig, cycles: Cycles) -> int:
    """Assert every 1 → 3 transition had a critical tier-1 cause; how many there were."""
    checked = 0
    for t1, _before, _after, trs, _now in _simulate(cfg, cycles):
        for tr in trs:
            if tr.from_tier == 1 and tr.to_tier == 3:
                assert t1 == "critical" and tr.cause is not None and tr.cause.critical
                checked += 1
    return checked


def _checked_repeats(cfg: PolicyConfig, cycles: Cycles) -> int:
    """Assert a second escalation to a tier waits the cooldown; how many second ones there were."""
    last: dict[int, float] = {}
    checked = 0
    for _t1, _before, _after, trs, now in _simulate(cfg, cycles):
        for tr in trs:
            if tr.escalation:
                if tr.to_tier in last:
                    assert now - last[tr.to_tier] >= cfg.cooldown_s
                    checked += 1
                last[tr.to_tier] = now
    return checked


QUICK = PolicyConfig(breaches=1, critical_breaches=1, cooldown_s=100.0, max_cycles={2: 1, 3: 1})
#: A 1 → 3 skip: one slow cycle, then a critical one.
SKIP: tuple[PolicyConfig, Cycles] = (CFG, [("slow", "clear", 1.0), ("critical", "clear", 1.0)])
#: A second climb to tier 2 (after a blocked one in the cooldown) and a second one to tier 3.
REPEAT_2: tuple[PolicyConfig, Cycles] = (
    QUICK,
    [("slow", "clear", 1.0), ("slow", "clear", 1.0), ("slow", "clear", 50.0),
     ("slow", "clear", 200.0)],
)  # fmt: skip
REPEAT_3: tuple[PolicyConfig, Cycles] = (
    QUICK,
    [("critical", "clear", 1.0), ("critical", "clear", 1.0), ("critical", "clear", 150.0)],
)


CLEAR = ("clear", "clear", 1.0)


def test_the_examples_reach_the_branches_the_properties_check() -> None:
    # a clear cycle at tier 3 (test_clear_tier1_always_means_tier1 appends one to each case)
    assert _simulate(REPEAT_3[0], [*REPEAT_3[1], CLEAR])[-1][1].tier == 3
    assert _checked_skips(*SKIP) == 1
    assert _checked_repeats(*REPEAT_2) == 1
    assert _checked_repeats(*REPEAT_3) == 1
    # 1 → 2 → 3 within one cycle is two steps, not a skip
    assert _checked_skips(QUICK, [("slow", "floor", 1.0)]) == 0


@settings(max_examples=300, deadline=None)
@given(CONFIGS, st.lists(CYCLE, min_size=1, max_size=30))
@example(*SKIP)
@example(QUICK, [("slow", "floor", 1.0)])
def test_never_skips_1_to_3_without_a_critical_condition(cfg: PolicyConfig, cycles: Cycles) -> None:
    target(float(_checked_skips(cfg, cycles)))


@settings(max_examples=300, deadline=None)
@given(CONFIGS, st.lists(CYCLE, min_size=1, max_size=30))
@example(*REPEAT_2)
@example(*REPEAT_3)
def test_escalations_to_a_tier_respect_the_cooldown(cfg: PolicyConfig, cycles: Cycles) -> None:
    target(float(_checked_repeats(cfg, cycles)))


@settings(max_examples=300, deadline=None)
@given(CONFIGS, st.lists(CYCLE, min_size=1, max_size=30))
@example(*REPEAT_3)
def test_clear_tier1_always_means_tier1(cfg: PolicyConfig, cycles: Cycles) -> None:
    for t1, before, after, trs, _now in _simulate(cfg, [*cycles, CLEAR]):
        if t1 == "clear":
            assert after.tier == 1
            assert [(t.from_tier, t.to_tier) for t in trs] == (
                [(before.tier, 1)] if before.tier > 1 else []
            )


@settings(max_examples=300, deadline=None)
@given(CONFIGS, st.lists(CYCLE, min_size=1, max_size=30))
@example(*REPEAT_2)
@example(*REPEAT_3)
def test_state_stays_consistent(cfg: PolicyConfig, cycles: Cycles) -> None:
    for _t1, before, after, trs, _now in _simulate(cfg, cycles):
        assert after.tier in (1, 2, 3)
        if after.tier > 1:
            assert 1 <= after.cycles_at_tier <= cfg.max_cycles[after.tier]
        # transitions chain from the old tier to the new one, each with a reason
        tier = before.tier
        for tr in trs:
            assert tr.from_tier == tier != tr.to_tier and tr.reason
            tier = tr.to_tier
        assert tier == after.tier


# -- the cycle's order (policy.cycle) ----------------------------------------------------------


def _order(
    states: dict[str, ServerState], answers: dict[int, dict[str, list[Breach]] | None]
) -> tuple[list[tuple[object, ...]], dict[str, ServerState]]:
    log: list[tuple[object, ...]] = []

    def run(tier: int, servers: list[str]) -> Mapping[str, Sequence[Breach]] | None:
        log.append(("run", tier, servers))
        return answers.get(tier, {})

    def decided(label: str, d: policy.Decision) -> None:
        log.append(("decided", label, d.tier))

    return log, policy.cycle(states, run, lambda: 0.0, CFG.once(), decided)


def test_cycle_judges_every_server_on_tier1_then_runs_tier2_only_above_tier1() -> None:
    states = {"a": ServerState(), "b": ServerState(), "c": ServerState()}
    log, after = _order(states, {1: {"b": slow(), "c": critical()}})
    assert log == [
        ("run", 1, ["a", "b", "c"]),
        ("decided", "a", 1), ("decided", "b", 2), ("decided", "c", 3),
        ("run", 2, ["b", "c"]),
        ("decided", "b", 2), ("decided", "c", 3),
        ("run", 3, ["c"]),
    ]  # fmt: skip
    assert [after[k].tier for k in "abc"] == [1, 2, 3]


def test_cycle_stops_where_a_run_was_stopped() -> None:
    log, after = _order({"a": ServerState()}, {1: None})
    assert log == [("run", 1, ["a"])] and after == {"a": ServerState()}
    log, after = _order({"a": ServerState()}, {1: {"a": slow()}, 2: None})
    assert log == [("run", 1, ["a"]), ("decided", "a", 2), ("run", 2, ["a"])]
    assert after["a"].tier == 2


def test_cycle_without_a_server_above_tier1_runs_tier1_only() -> None:
    log, _ = _order({"a": ServerState()}, {})
    assert log == [("run", 1, ["a"]), ("decided", "a", 1)]
