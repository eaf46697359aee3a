"""The tier policy, pure: (observations + thresholds + state) → decision with a reason.

No I/O, no clock, no randomness: the caller passes ``now`` and a uniform draw, so every rule
here is unit-tested exhaustively. The daemon turns probe records into :class:`Observation`\\ s
and hands :func:`cycle` a way to run a tier; :func:`cycle` fixes the order (tier 1 judged by
:func:`after_tier1`, tier 2 for servers above tier 1 judged by :func:`after_tier2`, tier 3) and
the daemon keeps each returned :class:`ServerState` for the next cycle.

Rules (docs/autoperf.md):

- A breach is a figure past its threshold (or a failed probe, where configured). Breaches that
  cross a *critical* threshold may go straight from tier 1 to tier 3; nothing else skips tier 2.
- Escalation needs ``breaches`` consecutive breaching cycles (``critical_breaches`` when
  critical), and happens at most once per ``cooldown_s`` for each tier.
- A server stays above tier 1 at most ``max_cycles`` cycles of that tier, and returns to tier 1
  as soon as tier 1 is clear.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

Direction = Literal["above", "below"]


@dataclass(frozen=True)
class Rule:
    """``probe``'s ``metric`` breaches when ``above``/``below`` the threshold named ``key``."""

    key: str
    probe: str
    metric: str
    direction: Direction = "above"
    critical: bool = False


#: What each tier-1 threshold key watches. Failed attempts count as loss for tcp/http.
TIER1_RULES: tuple[Rule, ...] = (
    Rule("rtt_ms", "icmp", "rtt_avg_ms"),
    Rule("rtt_ms", "udp", "rtt_avg_ms"),
    Rule("rtt_ms", "tcp", "connect_avg_ms"),
    Rule("loss_pct", "icmp", "loss_pct"),
    Rule("loss_pct", "udp", "loss_pct"),
    Rule("loss_pct", "tcp", "failure_pct"),
    Rule("loss_pct", "http", "failure_pct"),
    Rule("jitter_ms", "icmp", "jitter_ms"),
    Rule("jitter_ms", "udp", "jitter_ms"),
    Rule("http_total_ms", "http", "total_avg_ms"),
    Rule("dns_ms", "dns", "query_avg_ms"),
    Rule("critical_loss_pct", "icmp", "loss_pct", critical=True),
    Rule("critical_loss_pct", "udp", "loss_pct", critical=True),
    Rule("critical_rtt_ms", "icmp", "rtt_avg_ms", critical=True),
    Rule("critical_rtt_ms", "udp", "rtt_avg_ms", critical=True),
)
#: Tier-2 rules; a throughput floor is critical (the path cannot carry the load it should).
TIER2_RULES: tuple[Rule, ...] = (
    Rule("rtt_ms", "udp", "rtt_avg_ms"),
    Rule("loss_pct", "udp", "loss_pct"),
    Rule("jitter_ms", "udp", "jitter_ms"),
    Rule("throughput_floor_mbps", "iperf", "received_throughput_mbps", "below", critical=True),
    Rule("throughput_floor_mbps", "speedtest", "download_throughput_mbps", "below", critical=True),
)


@dataclass(frozen=True)
class Limits:
    """Threshold values by key (None: disabled) and whether a failed probe is a breach."""

    rules: tuple[Rule, ...]
    values: Mapping[str, float | None]
    failure: bool = False


def limits(rules: Sequence[Rule], thresholds: Mapping[str, object]) -> Limits:
    """Limits from a thresholds mapping (e.g. a config section dumped to a dict)."""
    values = {
        k: float(v) for k, v in thresholds.items() if isinstance(v, int | float) and k != "failure"
    }
    return Limits(tuple(rules), values, bool(thresholds.get("failure", False)))


@dataclass(frozen=True)
class Observation:
    """One probe's outcome as the policy sees it (``step`` is its label, ``probe`` its kind)."""

    server: str
    step: str
    probe: str
    metrics: Mapping[str, float | int | None] = field(default_factory=dict)
    failed: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Breach:
    """A figure past its limit: what, where, measured against which threshold."""

    server: str
    step: str
    key: str
    metric: str
    value: float | None
    threshold: float | None
    direction: Direction | Literal["failed"]
    critical: bool = False
    error: str | None = None

    @property
    def severity(self) -> float:
        """How far past the limit (ratio ≥ 1); failures and critical breaches rank first."""
        if self.value is None or not self.threshold:
            return float("inf")
        ratio = self.value / self.threshold if self.direction == "above" else 0.0
        if self.direction == "below":
            ratio = self.threshold / self.value if self.value > 0 else float("inf")
        return ratio

    def describe(self) -> str:
        """The breach as a sentence fragment: ``icmp rtt_avg_ms 150.2 > 100 (rtt_ms)``."""
        if self.direction == "failed":
            return f"{self.step} failed: {self.error or 'no reason given'}"
        op = ">" if self.direction == "above" else "<"
        tag = "critical " if self.critical else ""
        return (
            f"{self.step} {self.metric} {_num(self.value)} {op} {_num(self.threshold)} "
            f"({tag}{self.key})"
        )


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def find_breaches(observations: Iterable[Observation], lim: Limits) -> list[Breach]:
    """Every breach in ``observations`` under ``lim``, in observation order."""
    found: list[Breach] = []
    for obs in observations:
        if obs.failed:
            if lim.failure:
                found.append(
                    Breach(
                        obs.server,
                        obs.step,
                        "failure",
                        f"{obs.probe}.status",
                        None,
                        None,
                        "failed",
                        error=obs.error,
                    )
                )
            continue
        for rule in lim.rules:
            threshold = lim.values.get(rule.key)
            value = obs.metrics.get(rule.metric)
            if rule.probe != obs.probe or threshold is None or value is None:
                continue
            past = value > threshold if rule.direction == "above" else value < threshold
            if past:
                found.append(
                    Breach(
                        obs.server,
                        obs.step,
                        rule.key,
                        rule.metric,
                        float(value),
                        threshold,
                        rule.direction,
                        rule.critical,
                    )
                )
    return found


def worst(breaches: Sequence[Breach]) -> Breach | None:
    """The breach to name as the reason: critical first, then the furthest past its limit."""
    if not breaches:
        return None
    return max(breaches, key=lambda b: (b.critical, b.direction == "failed", b.severity))


@dataclass(frozen=True)
class PolicyConfig:
    """Hysteresis settings; ``max_cycles`` by tier (2 and 3).

    No defaults: the caller derives them from the configuration (``hysteresis`` and
    ``tiers.tierN.max_cycles`` in base.yml, their one source; ``daemon.policy_config``).
    """

    breaches: int
    critical_breaches: int
    cooldown_s: float
    max_cycles: Mapping[int, int]

    def once(self) -> PolicyConfig:
        """The settings for a single ``--once`` cycle: no history, so one breach is enough."""
        return replace(self, breaches=1, critical_breaches=1)


@dataclass(frozen=True)
class ServerState:
    """What the policy remembers of one server between cycles."""

    tier: int = 1
    streak: int = 0
    critical_streak: int = 0
    tier2_streak: int = 0
    tier2_critical_streak: int = 0
    cycles_at_tier: int = 0
    #: When the server last escalated to tier 2 and to tier 3 (the caller's clock, seconds).
    escalated_at: Mapping[int, float] = field(default_factory=dict)

    def may_escalate(self, tier: int, now: float, cfg: PolicyConfig) -> bool:
        """True unless ``tier`` was entered less than ``cooldown_s`` ago."""
        last = self.escalated_at.get(tier)
        return last is None or now - last >= cfg.cooldown_s


@dataclass(frozen=True)
class Transition:
    """A change of tier and why (becomes an ``autoperf.event`` record)."""

    server: str
    from_tier: int
    to_tier: int
    reason: str
    cause: Breach | None = None

    @property
    def escalation(self) -> bool:
        """True when climbing, False when returning to a lower tier."""
        return self.to_tier > self.from_tier


@dataclass(frozen=True)
class Decision:
    """The state to keep, the tier to run now, transitions made, and a note for people."""

    state: ServerState
    transitions: tuple[Transition, ...] = ()
    note: str = ""

    @property
    def tier(self) -> int:
        """The highest tier to run for this server in this cycle."""
        return self.state.tier


def _escalate(
    st: ServerState, server: str, to: int, now: float, causes: Sequence[Breach], why: str
) -> Decision:
    """Climb to tier ``to`` now, naming the worst of ``causes`` (never empty) as the reason."""
    cause = worst(causes)
    assert cause is not None
    stamps = {**st.escalated_at, to: now}
    new = replace(st, tier=to, cycles_at_tier=1, escalated_at=stamps)
    tr = Transition(server, st.tier, to, f"{why}: {cause.describe()}", cause)
    return Decision(new, (tr,), tr.reason)


def _deescalate(st: ServerState, server: str, why: str) -> Decision:
    """Return to tier 1 now, forgetting the tier-2 streaks."""
    new = replace(st, tier=1, cycles_at_tier=0, tier2_streak=0, tier2_critical_streak=0)
    tr = Transition(server, st.tier, 1, why)
    return Decision(new, (tr,), tr.reason)


def _streaks(label: str, count: int, needed: int) -> str:
    return f"{label} {count}/{needed} consecutive"


def after_tier1(
    state: ServerState, server: str, breaches: Sequence[Breach], now: float, cfg: PolicyConfig
) -> Decision:
    """Decide from this cycle's tier-1 breaches which tier the server runs now."""
    crit = [b for b in breaches if b.critical]
    st = replace(
        state,
        streak=state.streak + 1 if breaches else 0,
        critical_streak=state.critical_streak + 1 if crit else 0,
    )
    if not breaches:
        if st.tier > 1:
            return _deescalate(st, server, "cleared: every tier-1 figure within thresholds")
        return Decision(st, (), "clear")
    if st.tier > 1:
        limit = cfg.max_cycles.get(st.tier, 1)
        if st.cycles_at_tier >= limit:
            return _deescalate(
                st, server, f"held tier {state.tier} for {limit} cycle(s), the maximum"
            )
        st = replace(st, cycles_at_tier=st.cycles_at_tier + 1)
        critical_due = bool(crit) and st.critical_streak >= cfg.critical_breaches
        if st.tier == 2 and critical_due and st.may_escalate(3, now, cfg):
            return _escalate(st, server, 3, now, crit, "critical tier-1 condition")
        return Decision(st, (), f"holding tier {st.tier} (cycle {st.cycles_at_tier}/{limit})")
    return _climb_from_1(st, server, breaches, crit, now, cfg)


def _climb_from_1(
    st: ServerState,
    server: str,
    breaches: Sequence[Breach],
    crit: Sequence[Breach],
    now: float,
    cfg: PolicyConfig,
) -> Decision:
    critical_due = bool(crit) and st.critical_streak >= cfg.critical_breaches
    if critical_due and st.may_escalate(3, now, cfg):
        return _escalate(st, server, 3, now, crit, "critical tier-1 condition")
    if (critical_due or st.streak >= cfg.breaches) and st.may_escalate(2, now, cfg):
        why = "tier-1 breach" if cfg.breaches == 1 else f"{st.streak} breaching cycles"
        return _escalate(st, server, 2, now, breaches, why)
    if st.streak >= cfg.breaches or critical_due:
        return Decision(st, (), "breach, but escalation is in its cooldown window")
    return Decision(st, (), "breach " + _streaks("cycle", st.streak, cfg.breaches))


def after_tier2(
    state: ServerState, server: str, breaches: Sequence[Breach], now: float, cfg: PolicyConfig
) -> Decision:
    """Decide from this cycle's tier-2 breaches whether the server goes on to tier 3."""
    crit = [b for b in breaches if b.critical]
    st = replace(
        state,
        tier2_streak=state.tier2_streak + 1 if breaches else 0,
        tier2_critical_streak=state.tier2_critical_streak + 1 if crit else 0,
    )
    if st.tier != 2 or not breaches:
        return Decision(st, (), "tier 2 clear" if not breaches else "")
    due = st.tier2_streak >= cfg.breaches or (
        bool(crit) and st.tier2_critical_streak >= cfg.critical_breaches
    )
    if not due:
        return Decision(st, (), "tier-2 breach " + _streaks("cycle", st.tier2_streak, cfg.breaches))
    if not st.may_escalate(3, now, cfg):
        return Decision(st, (), "tier-2 breach, but tier 3 is in its cooldown window")
    return _escalate(st, server, 3, now, crit or breaches, "tier-2 breach")


#: Runs ``tier`` for ``servers``; each server's breaches, or None when stopped during the run.
TierRunner = Callable[[int, list[str]], Mapping[str, Sequence[Breach]] | None]


def cycle(
    states: Mapping[str, ServerState],
    run: TierRunner,
    now: Callable[[], float],
    cfg: PolicyConfig,
    decided: Callable[[str, Decision], None],
) -> dict[str, ServerState]:
    """One cycle's order, the only copy of it; returns the states to keep.

    Tier 1 runs for every server in ``states`` and each is judged (``decided`` hears every
    decision before the next tier runs); tier 2 runs for the servers then above tier 1 and is
    judged; tier 3 runs for those then at tier 3. ``now`` is read after each judged run. A run
    that answers None (the agent was stopped) ends the cycle with nothing more decided.
    """
    current = dict(states)
    judges = ((1, after_tier1, lambda s: True), (2, after_tier2, lambda s: s.tier >= 2))
    for tier, judge, due in judges:
        servers = [label for label, st in current.items() if due(st)]
        found = run(tier, servers) if servers else None
        if found is None:
            return current
        at = now()
        for label in servers:
            decision = judge(current[label], label, found.get(label, ()), at, cfg)
            current[label] = decision.state
            decided(label, decision)
    top = [label for label, st in current.items() if st.tier == 3]
    if top:
        run(3, top)
    return current


def forced(state: ServerState, server: str, tier: int) -> Decision:
    """``--force-tier N``: run tier N now, whatever the thresholds say (recorded as such)."""
    if tier == state.tier:
        return Decision(state, (), f"forced tier {tier}")
    st = replace(state, tier=tier, cycles_at_tier=1)
    return Decision(st, (Transition(server, state.tier, tier, "forced by --force-tier"),), "forced")


def start_offset(interval_s: float, jitter_pct: float, draw: float) -> float:
    """Seconds before a daemon's first cycle: up to the jitter spread (``draw`` in [0, 1))."""
    return interval_s * jitter_pct / 100.0 * draw


def next_delay(interval_s: float, jitter_pct: float, draw: float, elapsed_s: float = 0.0) -> float:
    """Seconds to wait before the next cycle: the interval ±jitter, less the time already spent.

    ``draw`` is uniform in [0, 1); 0.5 gives the bare interval. Never negative.
    """
    spread = interval_s * jitter_pct / 100.0
    return max(0.0, interval_s + (2.0 * draw - 1.0) * spread - elapsed_s)
