"""Trace: Paris flow-id invariance, checksum compensation, reply matching, per-hop figures."""

from __future__ import annotations

import socket
import struct
from typing import cast

import pytest
from scapy.compat import raw
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.packet import Raw

from waddleperf.probes import trace as trace_probe
from waddleperf.probes import trace_wire as tw
from waddleperf.probes.trace import tcp_reply_filter
from waddleperf.probes.trace_stats import Observation, destination_ttl, hop_rows, trace_metrics

SRC, DST, ROUTER = "10.250.0.1", "10.250.2.2", "10.250.0.2"


def flow(mode: tw.Mode) -> tw.Flow:
    return tw.Flow(mode, SRC, DST, sport=40_000, dport=33_434 if mode == "udp" else 80,
                   ident=0x1234, tcp_seq_base=0xFFFF_FF00)  # fmt: skip


def checksum_valid(pkt: IP, layer: type) -> bool:
    """Scapy recomputes the checksum from scratch; it must equal what we sent."""
    sent = pkt[layer].chksum
    fresh = pkt.copy()
    del fresh[layer].chksum
    return bool(IP(raw(fresh))[layer].chksum == sent)


@pytest.mark.parametrize("mode", ["udp", "icmp", "tcp"])
def test_flow_identifier_is_constant_across_ttls_and_rounds(mode):
    f = flow(mode)
    keys: set[tuple[object, ...]] = set()
    ids: set[int] = set()
    for probe_id in range(0, 300, 7):
        ttl = probe_id % 30 + 1
        pkt = IP(tw.build_probe(f, ttl, probe_id))
        assert pkt.ttl == ttl and (pkt.src, pkt.dst) == (SRC, DST)
        if mode == "udp":
            keys.add((pkt.proto, pkt[UDP].sport, pkt[UDP].dport))
            ids.add(pkt[UDP].chksum)
            assert pkt[UDP].chksum == tw.udp_checksum_for(probe_id)
            assert checksum_valid(pkt, UDP)
        elif mode == "icmp":
            keys.add((pkt[ICMP].type, pkt[ICMP].code, pkt[ICMP].id, pkt[ICMP].chksum))
            ids.add(pkt[ICMP].seq)
            assert checksum_valid(pkt, ICMP)
        else:
            keys.add((pkt.proto, pkt[TCP].sport, pkt[TCP].dport))
            ids.add(pkt[TCP].seq)
            assert checksum_valid(pkt, TCP)
    assert len(keys) == 1  # the fields a per-flow balancer hashes never change
    assert len(ids) == len(range(0, 300, 7))  # but every probe is told apart


def test_icmp_checksum_is_the_run_constant():
    pkts = [IP(tw.build_probe(flow("icmp"), ttl, ttl * 3)) for ttl in range(1, 10)]
    assert {p[ICMP].chksum for p in pkts} == {tw.ICMP_CHECKSUM}


def test_compensation_word_reaches_any_checksum():
    data = bytes(range(40))
    for wanted in (1, 0x1234, 0xFFFE, 0x8000):
        word = tw.compensation_word(tw.ones_sum(data), wanted)
        assert ~tw.ones_sum(data + word.to_bytes(2, "big")) & 0xFFFF == wanted


def _error_reply(src: str, kind: int, code: int, probe: bytes) -> bytes:
    return raw(IP(src=src, dst=SRC) / ICMP(type=kind, code=code) / Raw(probe[:28]))


@pytest.mark.parametrize("mode", ["udp", "icmp", "tcp"])
def test_time_exceeded_is_matched_by_what_it_quotes(mode):
    f = flow(mode)
    probe = tw.build_probe(f, 2, 77)
    reply = tw.parse_reply(f, _error_reply(ROUTER, 11, 0, probe))
    assert reply == tw.Reply(77, ROUTER, False, 11, 0)
    other = tw.Flow(mode, SRC, DST, 40_001, f.dport, 0x4321, 5)
    assert tw.parse_reply(other, _error_reply(ROUTER, 11, 0, probe)) is None


def test_destination_answers_are_final():
    f = flow("udp")
    reply = tw.parse_reply(f, _error_reply(DST, 3, 3, tw.build_probe(f, 5, 9)))
    assert reply is not None and reply.final and reply.probe_id == 9
    fi = flow("icmp")
    echo = raw(IP(src=DST, dst=SRC) / ICMP(type=0, id=fi.ident, seq=12) / Raw(b"x" * 26))
    assert tw.parse_reply(fi, echo) == tw.Reply(12, DST, True, 0, 0)
    ft = flow("tcp")
    seq = (ft.tcp_seq_base + 300) & 0xFFFFFFFF
    rst = raw(IP(src=DST, dst=SRC) / TCP(sport=80, dport=40_000, flags="RA", ack=seq + 1))
    assert tw.parse_reply(ft, rst) == tw.Reply(300, DST, True, None, None)
    own_syn = tw.build_probe(ft, 1, 1)  # a local target loops our SYN back to us
    assert tw.parse_reply(tw.Flow("tcp", DST, DST, 40_000, 80, 1, 0), own_syn) is None
    assert tw.parse_reply(ft, b"\x45garbage") is None


def test_tcp_filter_is_seven_instructions():
    assert len(tcp_reply_filter(40_000, 80)) == 7 * 8


def _obs(rows: list[tuple[int, int, str | None, float | None, bool]]) -> list[Observation]:
    return [Observation(r, t, a, rtt, fin) for r, t, a, rtt, fin in rows]


def test_hop_rows_like_mtr():
    obs = _obs([
        (0, 1, "10.0.0.1", 1.0, False), (1, 1, "10.0.0.1", 3.0, False),
        (0, 2, None, None, False), (1, 2, "10.0.1.1", 5.0, False),
        (0, 3, DST, 7.0, True), (1, 3, DST, 9.0, True),
        (0, 4, DST, 7.5, True),  # beyond the destination: not a hop
    ])  # fmt: skip
    assert destination_ttl(obs) == 3
    rows = hop_rows(obs, 30)
    assert [r.address for r in rows] == ["10.0.0.1", "10.0.1.1", DST]
    h1, h2, h3 = rows
    assert (h1.sent, h1.received, h1.loss_pct) == (2, 2, 0.0)
    assert (h1.last_ms, h1.avg_ms, h1.best_ms, h1.worst_ms, h1.stdev_ms) == (
        3.0,
        2.0,
        1.0,
        3.0,
        1.0,
    )
    assert h2.loss_pct == 50.0 and h3.final and not h2.final
    m = trace_metrics(rows, True)
    assert m["hops_count"] == 3 and m["dest_reached_count"] == 1
    assert m["dest_rtt_avg_ms"] == 8.0 and m["silent_hop_count"] == 0


def test_unreached_destination_stops_after_the_last_answer():
    obs = _obs([(0, 1, "10.0.0.1", 1.0, False), (0, 2, None, None, False),
                (0, 3, "10.0.2.1", 2.0, False), (0, 4, None, None, False)])  # fmt: skip
    rows = hop_rows(obs, 30)
    assert len(rows) == 3 and rows[1].address is None and rows[1].loss_pct == 100.0
    m = trace_metrics(rows, False)
    assert m["dest_reached_count"] == 0 and m["dest_rtt_avg_ms"] is None
    assert m["silent_hop_count"] == 1


SRC6, DST6, ROUTER6 = "fd00:250::1", "fd00:250:0:2::2", "fd00:250::2"


def flow6(mode: tw.Mode) -> tw.Flow:
    return tw.Flow(mode, SRC6, DST6, sport=40_000, dport=33_434 if mode == "udp" else 80,
                   ident=0x1234, tcp_seq_base=7)  # fmt: skip


def checksum6_valid(pkt: IPv6, layer: type, field: str) -> bool:
    sent = getattr(pkt[layer], field)
    fresh = pkt.copy()
    delattr(fresh[layer], field)
    return bool(getattr(IPv6(raw(fresh))[layer], field) == sent)


@pytest.mark.parametrize("mode", ["udp", "icmp", "tcp"])
def test_ipv6_flow_identifier_and_label_are_constant(mode):
    f = flow6(mode)
    keys: set[tuple[object, ...]] = set()
    for probe_id in range(0, 200, 9):
        pkt = IPv6(tw.build_probe(f, probe_id % 30 + 1, probe_id))
        assert pkt.hlim == probe_id % 30 + 1 and pkt.fl == f.ident
        if mode == "udp":
            keys.add((pkt.nh, pkt[UDP].sport, pkt[UDP].dport, pkt.fl))
            assert checksum6_valid(pkt, UDP, "chksum")
        elif mode == "icmp":
            echo = pkt[ICMPv6EchoRequest]
            keys.add((echo.type, echo.code, echo.id, echo.cksum, pkt.fl))
            assert checksum6_valid(pkt, ICMPv6EchoRequest, "cksum")
        else:
            keys.add((pkt.nh, pkt[TCP].sport, pkt[TCP].dport, pkt.fl))
    assert len(keys) == 1


@pytest.mark.parametrize("mode", ["udp", "icmp", "tcp"])
def test_ipv6_time_exceeded_and_final_answers(mode):
    f = flow6(mode)
    probe = tw.build_probe(f, 2, 41)
    quote = probe[:48]
    te = bytes([3, 0, 0, 0, 0, 0, 0, 0]) + quote  # raw ICMPv6 sockets give no IPv6 header
    assert tw.parse_reply6(f, te, ROUTER6, 58) == tw.Reply(41, ROUTER6, False, 3, 0)
    unreach = bytes([1, 4, 0, 0, 0, 0, 0, 0]) + quote
    assert tw.parse_reply6(f, unreach, DST6, 58) == tw.Reply(41, DST6, True, 1, 4)
    other = tw.Flow(mode, SRC6, "fd00::9", 1, 2, 3, 4)
    assert tw.parse_reply6(other, te, ROUTER6, 58) is None
    if mode == "icmp":
        reply = struct.pack("!BBHHH", 129, 0, 0, f.ident, 41)
        assert tw.parse_reply6(f, reply, DST6, 58) == tw.Reply(41, DST6, True, 129, 0)
    if mode == "tcp":
        rst = raw(TCP(sport=80, dport=40_000, flags="RA", ack=(f.tcp_seq_base + 41 + 1)))
        assert tw.parse_reply6(f, rst, DST6, 6) == tw.Reply(41, DST6, True, None, None)
        assert tw.parse_reply6(f, rst, ROUTER6, 6) is None


def test_a_round_builds_every_probe_before_sending_the_first(monkeypatch):
    # A reply the kernel did not stamp on arrival is stamped when read; building the later
    # probes between sends (milliseconds each under load) would then land in hop 1's RTT.
    calls: list[tuple[str, int]] = []
    flow = tw.Flow(mode="icmp", src="10.0.0.1", dst="10.0.0.9", sport=0, dport=0, ident=7)

    def build(f: tw.Flow, ttl: int, probe_id: int) -> bytes:
        calls.append(("build", ttl))
        return tw.build_probe(f, ttl, probe_id)

    class Sender:
        def sendto(self, packet: bytes, addr: tuple[str, int]) -> int:
            calls.append(("send", IP(packet).ttl))
            return len(packet)

    monkeypatch.setattr(trace_probe, "build_probe", build)
    tracer = object.__new__(trace_probe._Tracer)
    tracer.flow, tracer.send_sock, tracer.recv = flow, cast(socket.socket, Sender()), []
    observations = tracer.round(2, 3, 30, 0.01, flow.dst)
    assert calls == [("build", 1), ("build", 2), ("build", 3),
                     ("send", 1), ("send", 2), ("send", 3)]  # fmt: skip
    assert [(o.round, o.ttl, o.address) for o in observations] == [(2, 1, None), (2, 2, None),
                                                                   (2, 3, None)]  # fmt: skip
