"""Fair sharing of a full connection table, with a fake clock: who is shed, who is refused."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from waddleperf_server.net.fairshare import FairShare, Slot


def _fill(
    share: FairShare[str], sources: list[str], each: int, now: float = 0.0
) -> list[Slot[str]]:
    slots = []
    for source in sources:
        for i in range(each):
            admission = share.admit(source, f"{source}#{i}", now)
            assert admission.slot is not None and admission.shed is None
            slots.append(admission.slot)
    return slots


def test_below_the_cap_everyone_is_admitted_up_to_their_own_cap() -> None:
    share: FairShare[str] = FairShare(capacity=10, per_source=3, idle_shed_s=5)
    _fill(share, ["a"], 3)
    refused = share.admit("a", "a#3", 0.0)
    assert refused.slot is None and refused.refused == "source"
    assert share.total == 3 and share.count("a") == 3 and len(share) == 1


def test_full_table_sheds_the_idlest_slot_of_the_greediest_source() -> None:
    share: FairShare[str] = FairShare(capacity=6, per_source=4, idle_shed_s=60)
    slots = _fill(share, ["a"], 4) + _fill(share, ["b"], 2)
    for i, slot in enumerate(slots):
        slot.touch(10.0 + i)  # a#0 is the idlest of a's
    admission = share.admit("new", "new#0", 20.0)
    assert admission.slot is not None
    assert admission.shed is slots[0] and not slots[0].held
    assert share.count("a") == 3 and share.count("new") == 1 and share.total == 6
    share.release(slots[0])  # the shed connection's own clean-up later: harmless
    assert share.total == 6


def test_sources_do_not_take_turns() -> None:
    # b holds 2, a holds 3: taking from a would leave a 2 and b 3, no fairer than before.
    share: FairShare[str] = FairShare(capacity=5, per_source=4, idle_shed_s=60)
    _fill(share, ["a"], 3)
    _fill(share, ["b"], 2)
    admission = share.admit("b", "b#2", 1.0)
    assert admission.slot is None and admission.refused == "full"


def test_even_full_table_sheds_only_a_connection_idle_long_enough() -> None:
    share: FairShare[str] = FairShare(capacity=3, per_source=2, idle_shed_s=5)
    slots = _fill(share, ["a", "b", "c"], 1)
    for slot in slots:
        slot.touch(10.0)
    slots[1].touch(8.0)
    assert share.admit("d", "d#0", 12.0).refused == "full"  # b idle 4 s: not yet
    admission = share.admit("d", "d#0", 13.5)
    assert admission.shed is slots[1] and admission.slot is not None


def test_oldest_goes_first_among_equally_idle() -> None:
    share: FairShare[str] = FairShare(capacity=4, per_source=4, idle_shed_s=60)
    slots = _fill(share, ["a"], 4, now=3.0)
    slots[2].accepted = 1.0
    assert share.admit("z", "z#0", 3.0).shed is slots[2]


@given(
    st.lists(st.tuples(st.sampled_from("abcdefgh"), st.booleans(), st.floats(0, 100)), max_size=200)
)
def test_bounds_hold_whatever_happens(events: list[tuple[str, bool, float]]) -> None:
    share: FairShare[int] = FairShare(capacity=8, per_source=3, idle_shed_s=5)
    held: list[Slot[int]] = []
    now = 0.0
    for n, (source, close, step) in enumerate(events):
        now += step
        if close and held:
            share.release(held.pop(0))
        else:
            admission = share.admit(source, n, now)
            if admission.shed is not None:
                held.remove(admission.shed)
            if admission.slot is not None:
                held.append(admission.slot)
        assert share.total == len(held) <= 8
        assert all(share.count(s) <= 3 for s in "abcdefgh")
        assert len(share) == len({slot.source for slot in held})
