"""The UDP echo against a real server on loopback: replies, no amplification, limits, HMAC."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.sockhelp import drain, shared_server, udp_kernel_drops, udp_socket
from waddleperf.localstack import LocalServer
from waddleperf_common import udp_wire as w

Factory = Callable[..., LocalServer]
NO_LIMIT = "udp_echo: {rate_limit_pps: 1000000, rate_burst: 1000000}\n"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One unlimited UDP echo (plus HTTP for its counters) for the tests that need no config."""
    yield from shared_server(tmp_path_factory, services=("udp_echo", "http"), config_yaml=NO_LIMIT)


def _udp_server(factory: Factory, config: str | None = None, **kw: object) -> LocalServer:
    kw.setdefault("services", ("udp_echo",))
    return factory(config_yaml=config, **kw)


def _ask(srv: LocalServer, payload: bytes, timeout: float = 1.0) -> bytes | None:
    with udp_socket(srv.host) as sock:
        sock.settimeout(timeout)
        sock.sendto(payload, (srv.host, srv.udp_echo_port))
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


def test_reply_has_same_length_and_fields(shared: LocalServer) -> None:
    srv = shared
    before = time.time_ns()
    reply = _ask(srv, w.encode(seq=5, client_tx_ns=123, size=200))
    after = time.time_ns()
    assert reply is not None and len(reply) == 200
    dg = w.decode(reply)
    assert dg.is_reply and dg.seq == 5 and dg.client_tx_ns == 123
    assert before <= dg.server_rx_ns <= after


def test_plain_udp_ping_gets_no_reply(shared: LocalServer) -> None:
    srv = shared
    assert _ask(srv, b"ping", timeout=0.3) is None
    assert _ask(srv, w.encode(1, 1)) is not None


def _mixed_traffic(rng: random.Random, count: int) -> list[bytes]:
    out: list[bytes] = []
    for i in range(count):
        kind = rng.randrange(5)
        if kind == 0:
            out.append(w.encode(i, i, size=rng.randint(32, 9216)))
        elif kind == 1:
            out.append(os.urandom(rng.randint(0, 2000)))
        elif kind == 2:
            out.append(w.encode(i, i, size=rng.randint(9217, 20000)))
        elif kind == 3:
            out.append(w.make_reply(w.encode(i, i, size=rng.randint(32, 500)), 1))
        else:
            out.append(w.encode(i, i, size=100)[: rng.randint(0, 31)])
    return out


def test_never_sends_more_bytes_than_it_received(shared: LocalServer) -> None:
    srv = shared
    traffic = _mixed_traffic(random.Random(1), 400)
    sent = received = 0
    with udp_socket(srv.host) as sock:
        for payload in traffic:
            sock.sendto(payload, (srv.host, srv.udp_echo_port))
            sent += len(payload)
            time.sleep(0.0005)  # stay under the loopback receive buffer
        replies = drain(sock)
    received = sum(len(r) for r in replies)
    valid_sizes = sorted(len(p) for p in traffic if _is_request(p))
    assert received <= sent
    assert sorted(len(r) for r in replies) == valid_sizes


def _is_request(payload: bytes) -> bool:
    try:
        dg = w.decode(payload)
    except w.WireError:
        return False
    return not dg.is_reply and len(payload) <= 9216


def test_rate_limit_per_source(server_factory: Factory) -> None:
    rate, burst, rounds, per_round = 200, 50, 30, 50
    srv = _udp_server(
        server_factory, f"udp_echo: {{rate_limit_pps: {rate}, rate_burst: {burst}}}\n"
    )
    request = w.encode(1, 1)
    target = (srv.host, srv.udp_echo_port)
    kernel_drops_before = udp_kernel_drops(srv.udp_echo_port)
    with udp_socket(srv.host) as flood, udp_socket(srv.host, bind_to="127.0.0.2") as other:
        start = time.monotonic()
        for _ in range(rounds):
            for _ in range(per_round):
                flood.sendto(request, target)
            other.sendto(request, target)  # a second source, well within its own bucket
            time.sleep(0.002)  # keep the kernel queue from overflowing (not our limiter)
        flood_replies = drain(flood)
        # Every reply was sent before it was received, so its server time is before `end`.
        end = time.monotonic() - 0.3
        other_replies = drain(other, quiet_s=0.1)
    # A server stalled by a busy machine lets its receive buffer overflow; the kernel counts
    # what it dropped there, and only those losses may fall on the second source.
    kernel_drops = udp_kernel_drops(srv.udp_echo_port) - kernel_drops_before
    assert burst * 0.8 <= len(flood_replies) <= burst + rate * (end - start) + 1
    assert len(flood_replies) < rounds * per_round / 2
    assert rounds - len(other_replies) <= kernel_drops, (len(other_replies), kernel_drops)
    assert kernel_drops < rounds * per_round / 2, "the kernel, not the limiter, did the dropping"


def test_hmac_required_when_key_set(server_factory: Factory) -> None:
    key = b"s3cret-shared-key"
    srv = _udp_server(server_factory, env={"WADDLEPERF_UDP_KEY": key.decode()})
    assert _ask(srv, w.encode(1, 1, size=128), timeout=0.3) is None
    assert _ask(srv, w.encode(2, 2, size=128, key=b"wrong-key"), timeout=0.3) is None
    reply = _ask(srv, w.encode(9, 9, size=128, key=key))
    assert reply is not None and len(reply) == 128
    dg = w.decode(reply, key)
    assert dg.authenticated and dg.is_reply and dg.seq == 9
    assert "HMAC key is only" not in srv.log()  # 17 bytes: long enough, no warning


def test_short_hmac_key_is_warned_about(server_factory: Factory) -> None:
    srv = _udp_server(server_factory, env={"WADDLEPERF_UDP_KEY": "short"})
    assert "UDP HMAC key is only 5 bytes" in srv.log()
    reply = _ask(srv, w.encode(3, 3, size=64, key=b"short"))
    assert reply is not None  # warned, still enforced


def test_bad_datagrams_dropped_and_server_keeps_answering(shared: LocalServer) -> None:
    srv = shared
    before = _udp_status(srv)
    bad = [
        b"",
        w.encode(1, 1)[:20],  # truncated
        b"XXXX" + w.encode(1, 1)[4:],  # wrong magic
        w.encode(1, 1, size=9217),  # oversized for max_datagram_bytes
        w.make_reply(w.encode(1, 1), 5),  # a reply: never reflected
    ]
    with udp_socket(srv.host) as sock:
        for payload in bad:
            sock.sendto(payload, (srv.host, srv.udp_echo_port))
        assert drain(sock, quiet_s=0.3) == []
    assert _ask(srv, w.encode(2, 2, size=64)) is not None
    after = _udp_status(srv)
    dropped = {k: v - before["dropped_by_reason"][k] for k, v in after["dropped_by_reason"].items()}
    assert dropped == {"malformed": 3, "reply": 1, "hmac": 0, "rate": 0, "oversized": 1}
    assert after["received"] - before["received"] == 6
    assert after["replied"] - before["replied"] == 1


def _udp_status(srv: LocalServer) -> dict[str, Any]:
    status: dict[str, Any] = srv.health()["services"]["udp_echo"]
    return status


@pytest.mark.parametrize("host", ["::1", "::"])
def test_ipv6_and_dual_stack(server_factory: Factory, host: str) -> None:
    srv = _udp_server(server_factory, host=host)
    targets = ["::1"] if host == "::1" else ["::1", "127.0.0.1"]
    for target in targets:
        with udp_socket(target) as sock:
            sock.settimeout(2)
            sock.sendto(w.encode(3, 4, size=48), (target, srv.udp_echo_port))
            assert w.decode(sock.recv(100)).seq == 3


_payloads = st.one_of(
    st.binary(max_size=1500),
    st.binary(max_size=600).map(lambda b: w.MAGIC + bytes([w.VERSION]) + b),
    st.builds(
        lambda n, s: w.encode(s, s, size=n), st.integers(32, 1500), st.integers(0, 2**64 - 1)
    ),
)


@settings(max_examples=100, deadline=None)
@given(payloads=st.lists(_payloads, min_size=1, max_size=5))
def test_fuzz_server_survives_and_never_amplifies(
    shared: LocalServer, payloads: list[bytes]
) -> None:
    srv = shared
    with udp_socket(srv.host) as sock:
        for payload in payloads:
            sock.sendto(payload, (srv.host, srv.udp_echo_port))
        expected = sorted(len(p) for p in payloads if _is_request(p))
        replies = drain(sock, quiet_s=0.02, expect=len(expected))
    assert sorted(len(r) for r in replies) == expected
    assert srv.proc.poll() is None


def test_rate_drop_query_answers_each_socket_its_own_count(server_factory: Factory) -> None:
    srv = _udp_server(
        server_factory,
        "udp_echo: {rate_limit_pps: 20, rate_burst: 5}\n",
        services=("udp_echo", "http"),
    )
    target = (srv.host, srv.udp_echo_port)

    def ask(sock: Any, query: int) -> int | None:
        request = w.encode(query, 1, size=48, tally=True)
        sock.sendto(request, target)
        (answer,) = drain(sock, quiet_s=0.2, expect=1)
        assert len(answer) == len(request)
        return w.decode(answer).rate_dropped

    before = _udp_status(srv)["dropped_by_reason"]["rate"]
    with udp_socket(srv.host) as flood, udp_socket(srv.host) as neighbour:
        for seq in range(50):
            flood.sendto(w.encode(seq, seq), target)
        echoes = drain(flood, quiet_s=0.3)
        dropped = _udp_status(srv)["dropped_by_reason"]["rate"] - before
        assert dropped == 50 - len(echoes) and dropped >= 40
        assert ask(neighbour, 1) == 0  # same address (and bucket), another socket
        assert ask(flood, 2) == dropped
        assert ask(flood, 2) == dropped  # a repeated query (answer lost) is told the same
        assert ask(flood, 3) == 0  # counting started again at query 2
    assert _udp_status(srv)["rate_queries_answered"] == 4
