"""Steer each new connection of a SO_REUSEPORT group to a worker chosen by its *source*.

With several HTTP worker processes, each with its own listening socket on the port, the
kernel would pick the socket by a hash of the whole 4-tuple: one source's connections would
spread over every worker, and a per-source cap counted in each worker would be the cap times
the number of workers. A classic-BPF program attached with ``SO_ATTACH_REUSEPORT_CBPF``
picks the socket from the source address alone — the IPv4 address, or the first 64 bits of
an IPv6 one (the /64 that per-source accounting counts as one source, ``net/conncap.py``) —
so every connection of a source lands on the same worker and its counters are exact.

The program reads the network header through the ``SKF_NET_OFF`` negative offsets (the
socket layer has already pulled the TCP header off), so it sees IPv4 packets as IPv4 even
on a dual-stack ``::`` socket: an IPv4 client is steered by its IPv4 address either way.
:func:`steer_index` is the same computation in Python, for tests and for the log.
"""

from __future__ import annotations

import ctypes
import ipaddress
import socket
import struct
from typing import Any

#: setsockopt option number (Linux ≥ 4.5; not in Python's socket module).
SO_ATTACH_REUSEPORT_CBPF = 51
#: Offsets below this address the network header (linux/filter.h).
SKF_NET_OFF = -0x100000
#: The multiplier of the mixing step (a well-mixing odd 32-bit constant).
MIX = 0x045D9F3B
MAX_WORKERS = 1024

# Classic BPF opcodes (linux/bpf_common.h, linux/filter.h).
_LD_B_ABS, _LD_W_ABS = 0x30, 0x20
_ALU_RSH_K, _ALU_XOR_X, _ALU_MUL_K, _ALU_MOD_K = 0x74, 0xAC, 0x24, 0x94
_JEQ_K, _JA = 0x15, 0x05
_TAX, _RET_A = 0x07, 0x16

Instruction = tuple[int, int, int, int]  # code, jump if true, jump if false, k


def _ins(code: int, k: int = 0, jt: int = 0, jf: int = 0) -> Instruction:
    return (code, jt, jf, k & 0xFFFFFFFF)


def program(workers: int) -> list[Instruction]:
    """The cBPF program returning the socket index (0 … ``workers``−1) for a packet."""
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be 1 to {MAX_WORKERS}, got {workers}")
    net = SKF_NET_OFF
    mix = [_ins(_TAX), _ins(_ALU_RSH_K, 16), _ins(_ALU_XOR_X)]  # A ^= A >> 16
    return [
        _ins(_LD_B_ABS, net + 0),  # A = version and header length
        _ins(_ALU_RSH_K, 4),  # A = IP version
        _ins(_JEQ_K, 6, jt=2),  # IPv6: skip to the /64
        _ins(_LD_W_ABS, net + 12),  # IPv4 source address
        _ins(_JA, 3),
        _ins(_LD_W_ABS, net + 8),  # IPv6 source, first 32 bits
        _ins(_TAX),
        _ins(_LD_W_ABS, net + 12),  # … next 32 bits: the /64
        _ins(_ALU_XOR_X),
        *mix,
        _ins(_ALU_MUL_K, MIX),
        *mix,
        _ins(_ALU_MOD_K, workers),
        _ins(_RET_A),
    ]


def _mix(value: int) -> int:
    value &= 0xFFFFFFFF
    value ^= value >> 16
    value = (value * MIX) & 0xFFFFFFFF
    return value ^ (value >> 16)


def steer_index(address: str, workers: int) -> int:
    """The worker (0 … ``workers``−1) whose socket the program picks for ``address``
    (IPv4-mapped IPv6 counts as the IPv4 address, as on the wire)."""
    addr = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.version == 4:
        word = int(addr)
    else:
        high = int(addr) >> 64
        word = (high >> 32) ^ (high & 0xFFFFFFFF)
    return _mix(word) % workers


def attach(sock: Any, workers: int) -> None:
    """Attach the program to ``sock``'s reuseport group (the whole group follows it).

    Raises OSError when the kernel refuses it (not Linux, older than 4.5, no cBPF).
    """
    code = program(workers)
    raw = b"".join(struct.pack("HBBI", *ins) for ins in code)
    buf = ctypes.create_string_buffer(raw, len(raw))
    # struct sock_fprog: unsigned short len; struct sock_filter *filter (native alignment).
    fprog = struct.pack("@HP", len(code), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog)
