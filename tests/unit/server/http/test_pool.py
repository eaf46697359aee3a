"""The connection pool's policy with a fake clock: admission, fair shedding, deadlines."""

from __future__ import annotations

import random

import pytest

from waddleperf_server.http import pool as pool_mod
from waddleperf_server.http.pool import ConnectionPool, Phase, ReceiveRules, Slot, Verdict
from waddleperf_server.net.conncap import SourceCounter

RULES = ReceiveRules(
    max_wait_s=60.0, head_timeout_s=20.0, head_timeout_min_s=1.0, min_receive_bytes_per_s=500.0
)


def _pool(capacity: int, per_source: int = 96) -> ConnectionPool:
    return ConnectionPool(capacity, SourceCounter(per_source), RULES, jitter=lambda: 0.0)


def _admit(p: ConnectionPool, source: str, now: float = 0.0) -> Slot:
    verdict, slot, victim = p.admit(source, now, token=None)
    assert verdict is Verdict.ADMIT and slot is not None and victim is None
    return slot


def test_admits_until_the_source_cap_without_taking_a_slot_for_the_refused() -> None:
    p = _pool(10, per_source=2)
    _admit(p, "a")
    _admit(p, "a")
    assert p.admit("a", 0.0, None) == (Verdict.REFUSE_SOURCE, None, None)
    assert len(p) == 2 and p.sources.count("a") == 2
    _admit(p, "b")
    assert len(p) == 3 and p.occupancy == pytest.approx(0.3)


def test_full_pool_sheds_the_slowest_waiting_connection_of_the_biggest_source() -> None:
    p = _pool(6)
    trickling = [_admit(p, "attacker", now=t) for t in (0.0, 1.0, 2.0)]
    idle_old, idle_new = _admit(p, "attacker", 3.0), _admit(p, "attacker", 4.0)
    legit = _admit(p, "legit", 5.0)
    for i, slot in enumerate(trickling):
        p.waiting(slot, Phase.HEAD, now=float(i), received=50 - 10 * i)
    p.waiting(idle_old, Phase.IDLE, now=3.0)
    p.waiting(idle_new, Phase.IDLE, now=4.0)
    p.working(legit)
    order = []
    for n in range(5):
        verdict, new, victim = p.admit(f"new{n}", 10.0, None)
        assert verdict is Verdict.ADMIT and new is not None and victim is not None
        order.append(victim)
        if p.sources.count("attacker") < 2:
            break
    # idle first, oldest first; then the slowest trickle; never the working legit client
    assert order[:3] == [idle_old, idle_new, trickling[2]]
    assert all(not v.live for v in order) and legit.live
    assert p.shed == len(order) and len(p) == 6


def test_shedding_moves_toward_an_equal_share_and_never_churns_equals() -> None:
    p = _pool(4)
    for _ in range(2):
        _admit(p, "a")
        _admit(p, "b")
    # every source holds 2: a third source with 0 may take one (2 >= 0 + 2) ...
    verdict, _, victim = p.admit("c", 1.0, None)
    assert verdict is Verdict.ADMIT and victim is not None
    # ... but "c" (now 1) may not take another from a source with 2 (2 < 1 + 2)
    assert p.admit("c", 2.0, None) == (Verdict.REFUSE_FULL, None, None)
    # nor may "a" or "b" take each other's
    assert p.admit(victim.source, 2.0, None)[0] is Verdict.REFUSE_FULL
    assert p.refused_full == 2


def test_working_connections_are_never_shed() -> None:
    p = _pool(3)
    for slot in [_admit(p, "a") for _ in range(3)]:
        p.working(slot)
    assert p.admit("b", 1.0, None)[0] is Verdict.REFUSE_FULL
    assert list(p.overdue(1e9)) == []


def test_release_is_idempotent_and_frees_the_source() -> None:
    p = _pool(2)
    slot = _admit(p, "a")
    p.release(slot)
    p.release(slot)
    assert len(p) == 0 and p.sources.count("a") == 0 and len(p.sources) == 0
    p.waiting(slot, Phase.IDLE, 1.0)  # a late phase change of a released slot is harmless
    assert list(p.overdue(1e9)) == []


def test_head_deadline_grows_with_bytes_at_the_minimum_rate_up_to_the_ceiling() -> None:
    assert RULES.head_deadline(100.0, 0, 0.0) == 120.0
    assert RULES.head_deadline(100.0, 1000, 0.0) == 122.0  # 2 s more for 1000 B at 500 B/s
    assert RULES.head_deadline(100.0, 10**9, 0.0) == 160.0  # never past max_wait_s
    assert RULES.body_deadline(100.0, 10**6) == 100.0 + 20.0 + 2000.0  # no ceiling, only the rate
    tight = ReceiveRules(1.0, 20.0, 0.5, 500.0)
    assert tight.head_deadline(0.0, 0, 0.0) == 1.0  # request_timeout_s caps the head too


@pytest.mark.parametrize(
    ("occupancy", "head", "idle"),
    [(0.0, 20.0, 60.0), (0.5, 20.0, 60.0), (0.75, 10.5, 30.5), (1.0, 1.0, 1.0), (1.2, 1.0, 1.0)],
)
def test_deadlines_shrink_as_the_pool_fills(occupancy: float, head: float, idle: float) -> None:
    assert RULES.head_deadline(0.0, 0, occupancy) == pytest.approx(head)
    assert RULES.idle_deadline(0.0, occupancy) == pytest.approx(idle)


def test_jitter_cuts_up_to_half_of_the_head_timeouts_never_of_request_timeout() -> None:
    assert RULES.head_deadline(0.0, 0, 0.0, jitter=0.5) == pytest.approx(15.0)
    assert RULES.head_deadline(0.0, 1000, 0.0, jitter=0.5) == pytest.approx(17.0)
    assert RULES.head_deadline(0.0, 0, 1.0, jitter=0.5) == pytest.approx(0.75)  # of the floor
    assert RULES.idle_deadline(0.0, 0.0, jitter=0.999) == pytest.approx(60.0)  # max_wait_s
    assert RULES.idle_deadline(0.0, 1.0, jitter=0.5) == pytest.approx(0.75)
    assert ReceiveRules(1.0, 20.0, 5.0, 500.0).head_deadline(0.0, 0, 0.0, 0.999) == 1.0
    draws = iter([0.25, 0.75])
    p = ConnectionPool(4, SourceCounter(4), RULES, jitter=lambda: next(draws))
    early, late = _admit(p, "a"), _admit(p, "a")
    assert (early.jitter, late.jitter) == (0.25, 0.75)
    assert list(p.overdue(16.0)) == [late]  # 20 s less 12.5 % vs less 37.5 %


def test_overdue_lists_waiting_slots_past_the_deadline_at_the_current_occupancy() -> None:
    p = _pool(4)
    slots = [_admit(p, "a", 0.0) for _ in range(2)]
    p.waiting(slots[0], Phase.IDLE, 0.0)
    assert list(p.overdue(10.0)) == []  # head of slots[1]: 20 s; idle: 60 s
    assert list(p.overdue(21.0)) == [slots[1]]
    assert set(p.overdue(61.0)) == set(slots)
    others = [_admit(p, "b", 0.0) for _ in range(2)]
    assert set(p.overdue(1.5)) == {*slots, *others}  # full pool: 1 s for everyone waiting


def test_pool_size_by_memory_and_by_file_descriptors() -> None:
    per = 65536 + pool_mod.CONNECTION_OVERHEAD_BYTES
    assert pool_mod.pool_size(1000 * per * 4, 0.25, 65536, 10**6, 100) == 1000
    assert pool_mod.pool_size(10**12, 0.25, 65536, 5000, 100) == 5000 - pool_mod.FD_RESERVE - 100
    assert pool_mod.pool_size(0, 0.25, 65536, 5000, 100) == 1


def test_random_operations_keep_the_index_exact() -> None:
    """Against a brute-force model: the shed victim comes from a source holding the most
    connections, is the slowest waiting one there, and the counts always add up."""
    rng = random.Random(7)
    p = _pool(30, per_source=8)
    live: list[Slot] = []
    for step in range(4000):
        now = step * 0.01
        op = rng.random()
        if op < 0.45:
            source = f"s{rng.randrange(8)}"
            counts = {s.source: p.sources.count(s.source) for s in live}
            waiting = [s for s in live if s.phase is not Phase.WORKING]
            verdict, slot, victim = p.admit(source, now, None)
            if counts.get(source, 0) >= 8:
                assert verdict is Verdict.REFUSE_SOURCE
                continue
            if len(live) < 30:
                assert verdict is Verdict.ADMIT and victim is None
            else:
                mine = counts.get(source, 0)
                allowed = [s for s in waiting if counts[s.source] >= mine + 2]
                if not allowed:
                    assert verdict is Verdict.REFUSE_FULL
                    continue
                assert victim is not None
                top = max(counts[s.source] for s in allowed)
                assert counts[victim.source] == top
                same = [s for s in waiting if s.source == victim.source]
                assert (victim.rate(now), victim.since) == min((s.rate(now), s.since) for s in same)
                live.remove(victim)
            assert slot is not None
            live.append(slot)
        elif op < 0.65 and live:
            slot = live.pop(rng.randrange(len(live)))
            p.release(slot)
        elif live:
            slot = rng.choice(live)
            kind = rng.choice([Phase.IDLE, Phase.HEAD, Phase.WORKING])
            if kind is Phase.WORKING:
                p.working(slot)
            else:
                p.waiting(slot, kind, now, received=rng.randrange(100))
        assert len(p) == len(live) == sum(p.sources.count(s) for s in {x.source for x in live})
