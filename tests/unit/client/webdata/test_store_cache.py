"""The answer cache of the UI's catalog: bounded by entries and by the bytes of its texts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from waddleperf.webdata import store
from waddleperf.webdata.store import Catalog


@pytest.fixture
def cat() -> Iterator[Catalog]:
    catalog = Catalog(None, threads=1)
    try:
        yield catalog
    finally:
        catalog.close()


def test_texts_are_evicted_by_bytes_oldest_first(
    cat: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "CACHE_BYTES", 10_000)
    calls: list[int] = []

    def text(n: int) -> str:
        calls.append(n)
        return str(n) * 4_000

    for n in range(4):
        cat.cached(("t", n), lambda n=n: text(n))  # type: ignore[misc]
    assert calls == [0, 1, 2, 3]
    # 4 × 4 000 bytes > 10 000: only the two newest stay
    assert cat.cached(("t", 3), lambda: text(99)) == "3" * 4_000
    assert cat.cached(("t", 2), lambda: text(99)) == "2" * 4_000
    assert calls == [0, 1, 2, 3]
    cat.cached(("t", 0), lambda: text(0))
    assert calls == [0, 1, 2, 3, 0]
    cat.ingest([])  # a new generation: nothing cached, nothing counted
    cat.cached(("t", 0), lambda: text(0))
    assert calls[-1] == 0 and len(calls) == 6


def test_other_answers_count_a_fixed_weight(cat: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "CACHE_ENTRIES", 3)
    made = [cat.cached(("d", n), lambda n=n: {"n": n}) for n in range(5)]  # type: ignore[misc]
    assert [m["n"] for m in made] == list(range(5))
    assert cat.cached(("d", 4), lambda: {"n": -1}) is made[4]
    assert cat.cached(("d", 0), lambda: {"n": -1}) == {"n": -1}  # evicted by count
