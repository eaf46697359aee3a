"""Path MTU search logic and its echo requests, without a network."""

from __future__ import annotations

from waddleperf.probes import icmp_wire
from waddleperf.probes.mtu import (
    FITS,
    LOCAL,
    TIMEOUT,
    TOO_BIG,
    Answer,
    echo_request,
    search,
)


def path(mtu: int, report: bool = True, local: int = 9000):
    def try_size(size: int) -> Answer:
        if size > local:
            return Answer(LOCAL)
        if size <= mtu:
            return Answer(FITS)
        return Answer(TOO_BIG, reported_mtu=mtu) if report else Answer(TIMEOUT)

    return try_size


def test_reported_mtu_is_tried_at_once():
    best, tried = search(576, 1500, path(1400))
    assert best == 1400
    assert [s for s, _ in tried] == [576, 1500, 1400, 1401]


def test_black_hole_binary_search_finds_exact_value():
    best, tried = search(576, 9000, path(1337, report=False))
    assert best == 1337 and len(tried) <= 16


def test_whole_range_fits():
    assert search(576, 65_535, path(70_000, local=70_000)) == (
        65_535, [(576, Answer(FITS)), (65_535, Answer(FITS))]
    )  # fmt: skip


def test_minimum_not_passing_is_none():
    best, tried = search(576, 1500, path(500, report=False))
    assert best is None and len(tried) == 1


def test_bogus_report_outside_the_interval_is_ignored():
    def liar(size: int) -> Answer:
        return Answer(FITS) if size <= 1200 else Answer(TOO_BIG, reported_mtu=68)

    assert search(576, 1500, liar)[0] == 1200


def test_echo_request_has_the_asked_size_and_a_valid_checksum():
    for size in (576, 1500, 65_535):
        pkt = echo_request(4, 1, 2, 3, size)
        assert len(pkt) + 20 == size
        assert icmp_wire.checksum(pkt) == 0
    assert len(echo_request(6, 1, 2, 3, 1280)) + 40 == 1280
