"""The rpm probe's saturating load in one direction: HTTP transfer streams or an iperf3 child.

HTTP load is one or more groups of :class:`TransferStreams` (the first may adopt the idle-probed
keep-alive connections); ``add`` opens another group, which is how the draft mode ramps up.
iperf3 load is a fixed ``-P parallel`` child (it cannot grow while it runs).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import Callable
from typing import Protocol

from waddleperf.probes.http_timing import Connection
from waddleperf.probes.httpload import Direction, TransferStreams
from waddleperf.probes.iperf import IPERF3, IperfOptions, find_binary, iperf3_argv, kill_group
from waddleperf.probes.iperf_json import parse_report
from waddleperf.probes.netio import Family
from waddleperf.probes.targets import Url, parse_url
from waddleperf_common.nq import NQConfig

UPLOAD_BODY_BYTES = 4 << 30  # one POST outlasts any load phase; the stream is cut when done
#: Offset of ``tcpi_bytes_acked`` (u64) in Linux ``struct tcp_info`` (include/uapi/linux/tcp.h).
TCPI_BYTES_ACKED_OFFSET = 120
_U64 = struct.Struct("=Q")


def tcp_info_bytes_acked(info: bytes) -> int | None:
    """``tcpi_bytes_acked`` from raw ``TCP_INFO`` bytes (bytes the peer acknowledged); None when
    the kernel's struct is too short to hold it."""
    if len(info) < TCPI_BYTES_ACKED_OFFSET + 8:
        return None
    return int(_U64.unpack_from(info, TCPI_BYTES_ACKED_OFFSET)[0])


def socket_bytes_acked(sock: socket.socket) -> int | None:
    """Bytes the peer has acknowledged on ``sock`` so far; None when unknown (closed socket)."""
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    except OSError:
        return None
    return tcp_info_bytes_acked(raw)


class LoadOptions(Protocol):
    """The options the load reads (a subset of RpmOptions)."""

    @property
    def load(self) -> str: ...
    @property
    def parallel(self) -> int: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def family(self) -> Family: ...
    @property
    def iperf_port(self) -> int: ...


def busted(url: Url) -> Url:
    """``url`` with a random query parameter, so no cache can answer for the server."""
    sep = "&" if "?" in url.path else "?"
    return Url(url.scheme, url.host, url.port, f"{url.path}{sep}r={secrets.token_hex(6)}")


class AckedCounter:
    """Sums the growth of per-connection ``bytes_acked`` counters across reconnects."""

    def __init__(self) -> None:
        self.total = 0
        self._last: dict[int, tuple[int, int]] = {}  # worker → (socket, its last count)

    def see(self, worker: int, sock: int, acked: int) -> None:
        """Worker ``worker``'s socket ``sock`` has ``acked`` bytes acknowledged so far."""
        last_sock, before = self._last.get(worker, (sock, 0))
        if last_sock != sock or acked < before:  # a new connection counts from zero
            before = 0
        self.total += acked - before
        self._last[worker] = (sock, acked)


class Load:
    """A saturating load in one direction; ``stop`` notes its goodput (Mbit/s) and any error."""

    def __init__(
        self,
        opts: LoadOptions,
        config: NQConfig,
        direction: Direction,
        adopt: list[Connection],
        tls_for: Callable[[Url], ssl.SSLContext | None],
        iperf_host: str,
        iperf_seconds: float,
    ) -> None:
        self.direction, self.opts = direction, opts
        self.groups: list[TransferStreams] = []
        self.proc: subprocess.Popen[str] | None = None
        self.marked: tuple[float, int] | None = None
        self.mbps: float | None = None
        self.error: str | None = None
        self.connections = opts.parallel
        self._acked = AckedCounter()
        if opts.load == "http":
            self.url = parse_url(
                config.large_download_url if direction == "download" else config.upload_url
            )
            self.tls = tls_for(self.url)
            self._start_group(opts.parallel, adopt)
            return
        for conn in adopt:
            conn.close()
        binary = find_binary(IPERF3)
        if binary is None:
            raise OSError("iperf3 is not installed (Debian package iperf3)")
        iperf_opts = IperfOptions(
            target=iperf_host, port=opts.iperf_port, parallel=opts.parallel,
            duration_s=int(iperf_seconds + 1.999), reverse=direction == "download",
            timeout_s=opts.timeout_s, family=opts.family,
        )  # fmt: skip
        argv = iperf3_argv(binary, iperf_host, opts.iperf_port, iperf_opts)
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )  # fmt: skip
        self.deadline_s = iperf_opts.deadline_s

    def _start_group(self, count: int, adopt: list[Connection] | None = None) -> None:
        url = self.url
        group = TransferStreams(
            lambda: busted(url), self.direction, count, self.opts.timeout_s, self.opts.family,
            upload_bytes=UPLOAD_BODY_BYTES, tls=self.tls,
        )  # fmt: skip
        if adopt:
            group.adopt(adopt)
        self.groups.append(group)  # listed before starting: stop() reaches it whatever happens
        group.start()

    def add(self, count: int) -> None:
        """Open ``count`` more load connections (HTTP load only)."""
        if count <= 0 or not self.groups:
            return
        self._start_group(count)
        self.connections += count

    def total_bytes(self) -> int:
        """Payload bytes the HTTP load has moved so far (0 with iperf3 load)."""
        return sum(group.total_bytes() for group in self.groups)

    def delivered_bytes(self) -> int:
        """Payload bytes that reached the other end so far: bytes read for a download; for an
        upload the bytes the server's TCP acknowledged (``tcpi_bytes_acked``), not those the
        local socket buffer accepted — a newly added connection first fills its buffer, which
        would read as a burst of goodput. Sampled on each call: what a connection delivers
        between the last call and its closing is not counted."""
        if self.direction == "download":
            return self.total_bytes()
        for group in self.groups:
            for state in group.states:
                sock = state.sock
                if sock is not None and (acked := socket_bytes_acked(sock)) is not None:
                    self._acked.see(id(state), id(sock), acked)
        return self._acked.total

    def all_stopped(self) -> bool:
        """True when every HTTP load connection has given up."""
        return bool(self.groups) and all(group.all_stopped() for group in self.groups)

    def mark(self) -> None:
        """Start of the measured window (throughput is counted from here)."""
        if self.groups:
            self.marked = (time.monotonic(), self.total_bytes())

    def self_rtts_ms(self) -> list[float]:
        """Kernel RTTs of the load connections (none with iperf3 load).

        A downloading socket's estimate (tcpi_rcv_rtt) is timed from the timestamp the server
        echoes, which is that of our latest ACK: delayed ACKs make it stale and the estimate
        grows far beyond the path's RTT on thin flows. So each call also asks the kernel to
        acknowledge promptly (TCP_QUICKACK, which does not stick, hence on every call).
        """
        rtts = [rtt for group in self.groups for rtt in group.kernel_rtts_ms()]
        if self.direction == "download":
            for group in self.groups:
                for state in group.states:
                    if (sock := state.sock) is not None:
                        with contextlib.suppress(OSError):
                            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        return rtts

    def stop(self, cancel: bool = False) -> None:
        """End the load; note its throughput (Mbit/s, goodput) and any error.

        ``cancel``: the run is being abandoned — kill an iperf3 child at once instead of
        waiting for its result.
        """
        if cancel and self.proc is not None:
            kill_group(self.proc)
        if self.groups:
            if self.marked is not None:
                seconds = time.monotonic() - self.marked[0]
                moved = self.total_bytes() - self.marked[1]
                self.mbps = moved * 8 / seconds / 1e6 if seconds > 0 and moved > 0 else None
            deadline = time.monotonic() + 5.0  # one bound for all groups, not 5 s each
            for group in self.groups:
                group.stop(join_s=max(0.0, deadline - time.monotonic()))
            errors = [e for group in self.groups for e in group.errors()]
            if self.mbps is None:
                self.error = errors[0] if errors else "the load moved no data"
            return
        if self.proc is not None:
            try:
                out, err = self.proc.communicate(timeout=self.deadline_s)
            except subprocess.TimeoutExpired:
                out, err = "", "iperf3 did not finish in time"
            finally:
                kill_group(self.proc)
            try:
                report = parse_report(json.loads(out))
            except ValueError:
                self.error = f"iperf3 load gave no result: {err.strip()[-300:] or 'no output'}"
                return
            self.error = report.error
            value = report.metrics.get("received_throughput_mbps")
            self.mbps = float(value) if isinstance(value, int | float) else None
