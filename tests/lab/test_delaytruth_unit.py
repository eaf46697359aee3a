"""The delayer's truth (``delaytruth``), pure: pairing kernel copies, holds and the lab's error."""

from __future__ import annotations

import random
import struct

import pytest

from tests.lab.netlab.delaysched import Schedule, Stage, Tun, restore_hop
from tests.lab.netlab.delaytruth import MAX_RECENT, Histogram, Truth, packet_key
from tests.support.packets import ipv4_header


def icmp_packet(seq: int, ttl: int = 63) -> bytes:
    hdr = ipv4_header(ttl, random.Random(seq))
    return bytes(hdr) + struct.pack("!BBHHH", 8, 0, 0, 77, seq) + bytes(56)


def test_key_ignores_what_forwarding_and_the_delayer_change():
    pkt = icmp_packet(1, ttl=63)
    restored = bytearray(pkt)
    restore_hop(restored)  # TTL + 1 and a new checksum: the same packet
    assert packet_key(pkt) == packet_key(bytes(restored))
    assert packet_key(pkt) != packet_key(icmp_packet(2))
    v6 = bytearray(bytes([0x60]) + bytes(6) + bytes([64]) + bytes(32) + b"payload")
    other_hop = bytearray(v6)
    other_hop[7] = 12
    assert packet_key(bytes(v6)) == packet_key(bytes(other_hop))
    assert len(packet_key(pkt + bytes(500))) == 96


def test_hold_and_lateness_are_release_minus_arrival_against_what_was_scheduled():
    truth = Truth()
    for seq in range(10):
        pkt = icmp_packet(seq)
        arrival = 100.0 + seq
        truth.sniffed(pkt, arrival, arriving=True)
        # The delayer read it 0.2 ms late and wrote it 0.1 ms after its 20 ms release time.
        written = bytearray(pkt)
        restore_hop(written)
        truth.wrote(bytes(written), 0.020)
        truth.sniffed(bytes(written), arrival + 0.0203, arriving=False)
    st = truth.stats()
    assert st["truth_count"] == 10 and st["truth_unmatched"] == 0
    assert st["hold_mean_ms"] == pytest.approx(20.3, abs=1e-6)
    assert st["injected_mean_ms"] == pytest.approx(20.0)
    assert st["late_mean_ms"] == pytest.approx(0.3, abs=1e-6)
    assert st["late_p50_ms"] == pytest.approx(0.31, abs=0.011)  # upper edge of its 10 µs bucket
    assert st["late_max_ms"] == pytest.approx(0.3, abs=1e-6)


def test_pairs_by_packet_not_by_order_and_counts_duplicates_and_strays():
    truth = Truth()
    a, b = icmp_packet(1), icmp_packet(2)
    truth.sniffed(a, 1.0, arriving=True)
    truth.sniffed(b, 1.001, arriving=True)
    for pkt in (b, a, a):  # b overtakes a (reordered); a is duplicated
        truth.wrote(pkt, 0.005)
    truth.sniffed(b, 1.007, arriving=False)
    truth.sniffed(a, 1.0055, arriving=False)
    truth.sniffed(a, 1.0060, arriving=False)  # the copy pairs with a's arrival too
    truth.sniffed(icmp_packet(3), 2.0, arriving=False)  # never seen arriving, never written
    st = truth.stats()
    assert st["truth_count"] == 3 and st["truth_unmatched"] == 1
    assert st["hold_mean_ms"] == pytest.approx((6.0 + 5.5 + 6.0) / 3, abs=1e-6)


def test_reset_keeps_packets_in_flight():
    truth = Truth()
    truth.sniffed(icmp_packet(1), 5.0, arriving=True)
    truth.reset()
    truth.wrote(icmp_packet(1), 0.010)
    truth.sniffed(icmp_packet(1), 5.0102, arriving=False)
    assert truth.stats()["truth_count"] == 1
    assert truth.stats()["late_mean_ms"] == pytest.approx(0.2, abs=1e-6)


def test_memory_is_bounded():
    truth = Truth()
    for seq in range(MAX_RECENT + 10):
        truth.sniffed(icmp_packet(seq % 60000, ttl=seq // 60000 + 1), float(seq), arriving=True)
    assert len(truth.recent) == MAX_RECENT


def test_histogram_edges():
    h = Histogram()
    assert (h.mean_ms(), h.percentile_ms(0.5)) == (0.0, 0.0)
    for late in (-0.00001, 0.00005, 0.5):
        h.add(late)
    assert h.low == -0.00001 and h.high == 0.5 and h.count == 3
    assert h.percentile_ms(1.0) == pytest.approx(100.0)  # the last bucket holds all from 100 ms


def test_stages_report_what_they_scheduled():
    tun = Tun("t", -1, [Stage(delay_ms=5), Stage(delay_ms=7)])
    sched = Schedule(1)
    for i in range(4):
        sched.add(tun, icmp_packet(i), 10.0 + i)
    held = [entry[4] for entry in sched.heap]
    assert held == pytest.approx([0.012] * 4)
    st = tun.stats()
    assert [s["held"] for s in st["stages"]] == [4, 4]
    assert [s["injected_mean_ms"] for s in st["stages"]] == pytest.approx([5.0, 7.0])
    tun.reset()
    assert tun.stats()["stages"][0]["held"] == 0


def test_spread_and_jitter_of_the_holds():
    truth = Truth()
    holds = [0.010, 0.014, 0.010, 0.014]  # sd 2 ms; each |difference| 4 ms
    for seq, hold in enumerate(holds):
        truth.sniffed(icmp_packet(seq), float(seq), arriving=True)
        truth.wrote(icmp_packet(seq), hold)
        truth.sniffed(icmp_packet(seq), seq + hold, arriving=False)
    st = truth.stats()
    assert st["hold_sd_ms"] == pytest.approx(2.0, abs=1e-6)
    j = 0.0
    for _ in range(3):
        j += (0.004 - j) / 16
    assert st["hold_jitter_ms"] == pytest.approx(j * 1000, abs=1e-9)
    truth.reset()
    assert truth.stats()["hold_sd_ms"] == 0.0 and truth.stats()["hold_jitter_ms"] == 0.0


def test_without_a_truth_socket_nothing_is_kept():
    truth = Truth(enabled=False)
    for seq in range(1000):
        truth.wrote(icmp_packet(seq % 60000), 0.01)
    assert truth.written == [] and truth.stats()["truth_count"] == 0
