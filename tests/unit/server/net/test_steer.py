"""The steering program run by a classic-BPF interpreter written here, on IPv4 and IPv6
headers, against the Python twin (``steer_index``): what the kernel will compute."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waddleperf_server.net.steer import SKF_NET_OFF, Instruction, program, steer_index


def run_cbpf(code: list[Instruction], net_header: bytes) -> int:
    """Execute ``code`` on a packet whose network header is ``net_header`` (only the
    opcodes the steering program uses; anything else fails the test)."""
    a = x = 0
    pc = 0
    for _ in range(1000):
        op, jt, jf, k = code[pc]
        pc += 1
        if op in (0x30, 0x20):  # ld b/w abs, via SKF_NET_OFF
            offset = k - (SKF_NET_OFF & 0xFFFFFFFF)
            size = 1 if op == 0x30 else 4
            a = int.from_bytes(net_header[offset : offset + size], "big")
        elif op == 0x74:
            a >>= k
        elif op == 0xAC:
            a ^= x
        elif op == 0x24:
            a = (a * k) & 0xFFFFFFFF
        elif op == 0x94:
            a %= k
        elif op == 0x15:
            pc += jt if a == k else jf
        elif op == 0x05:
            pc += k
        elif op == 0x07:
            x = a
        elif op == 0x16:
            return a
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")
    raise AssertionError("the program did not return")


def ipv4_header(src: str) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 60, 1, 0, 64, 6, 0,
                       ipaddress.IPv4Address(src).packed, bytes(4))  # fmt: skip


def ipv6_header(src: str) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, 40, 6, 64,
                       ipaddress.IPv6Address(src).packed, bytes(16))  # fmt: skip


@given(st.integers(0, 2**32 - 1), st.integers(1, 64))
def test_ipv4_matches_the_twin(value: int, workers: int) -> None:
    src = str(ipaddress.IPv4Address(value))
    got = run_cbpf(program(workers), ipv4_header(src))
    assert got == steer_index(src, workers) < workers


@given(st.integers(0, 2**128 - 1), st.integers(1, 64))
def test_ipv6_matches_the_twin_and_a_64_stays_together(value: int, workers: int) -> None:
    src = ipaddress.IPv6Address(value)
    if src.ipv4_mapped is not None:
        return
    sibling = ipaddress.IPv6Address(value ^ 0xFFFF_FFFF_FFFF_FFFF)  # same /64, other host bits
    code = program(workers)
    got = run_cbpf(code, ipv6_header(str(src)))
    assert got == steer_index(str(src), workers) < workers
    assert run_cbpf(code, ipv6_header(str(sibling))) == got


def test_v4_mapped_is_steered_as_its_ipv4_address() -> None:
    assert steer_index("::ffff:127.0.0.5", 7) == steer_index("127.0.0.5", 7)


def test_sources_spread_over_the_workers() -> None:
    hits = [0, 0, 0, 0]
    for i in range(1, 255):
        hits[steer_index(f"198.51.100.{i}", 4)] += 1
    assert min(hits) > 40  # 254 sources over 4 workers: none left idle or swamped


def test_worker_count_is_bounded() -> None:
    with pytest.raises(ValueError, match="workers must be"):
        program(0)
