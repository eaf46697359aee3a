"""UDP echo round trips against the WaddlePerf server's UDP echo (common udp_wire format).

Jitter, two figures (docs/probes.md):
- ``jitter_ms``: RFC 3550 estimator over round-trip times of consecutive replies.
- ``jitter_fwd_ms``: RFC 3550 over one-way client→server transits (server_rx_ns − client_tx_ns).
  The clocks need not be synchronised: D is a difference of two transits, so a constant offset
  cancels; only drift between two packets remains (ppm × interval: nanoseconds).
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from pydantic import Field, model_validator

from waddleperf.probes import progress, stats
from waddleperf.probes.base import (
    EndpointTarget,
    Family,
    Probe,
    ProbeOptions,
    Recording,
    RunContext,
)
from waddleperf.probes.echo import (
    Reply,
    first_replies,
    run_session,
    session_status,
    summarize_session,
)
from waddleperf.probes.netio import (
    ResolveError,
    datagrams,
    enable_rx_timestamps,
    resolve_endpoint,
)
from waddleperf.results.model import Result, Scalar
from waddleperf_common import udp_wire

DEFAULT_PORT = 2000  # the server's default udp_echo.port


class UdpOptions(ProbeOptions):
    """Options of the UDP echo probe. The HMAC key is never an option value itself."""

    target: EndpointTarget = Field(description="WaddlePerf server: host[:port] or [v6]:port.")
    port: int | None = Field(default=None, ge=1, le=65_535, description=f"Default {DEFAULT_PORT}.")
    count: int = Field(default=10, ge=1, le=1_000_000, description="Datagrams to send.")
    interval_s: float = Field(default=0.1, ge=0.0001, le=60, description="Between sends.")
    size_bytes: int = Field(
        default=64, ge=udp_wire.HEADER_SIZE, le=udp_wire.MAX_DATAGRAM, description="Datagram size."
    )
    key_env: str | None = Field(default=None, description="Environment variable with the HMAC key.")
    key_file: Path | None = Field(default=None, description="File with the HMAC key.")
    family: Family = "any"

    @model_validator(mode="after")
    def _key_source(self) -> UdpOptions:
        if self.key_env and self.key_file:
            raise ValueError("give --key-env or --key-file, not both")
        if self.key_env is not None and not os.environ.get(self.key_env):
            raise ValueError(f"environment variable {self.key_env} (the HMAC key) is not set")
        if self.key_file is not None and not self.key_file.is_file():
            raise ValueError(f"key file {self.key_file} does not exist")
        need = udp_wire.min_size(self.key_env is not None or self.key_file is not None)
        if self.size_bytes < need:
            raise ValueError(f"size {self.size_bytes} below {need} bytes (header + HMAC)")
        return self

    def key(self) -> bytes | None:
        """The HMAC key: file bytes without surrounding whitespace, or the variable's value."""
        if self.key_file is not None:
            return self.key_file.read_bytes().strip() or None
        if self.key_env is not None:
            return os.environ[self.key_env].encode()
        return None


class UdpTransport:
    """Probe datagrams out, authenticated replies in, over one connected UDP socket."""

    def __init__(self, sock: socket.socket, size: int, key: bytes | None) -> None:
        self.sock, self.size, self.key = sock, size, key
        self.kernel_stamps = enable_rx_timestamps(sock)
        self.refused = 0  # ICMP port unreachable reports
        self.rejected = 0  # datagrams that are not valid replies (bad HMAC, garbage)

    def send(self, seq: int) -> None:
        """Send probe datagram ``seq`` stamped with the current time (Unix ns)."""
        self.sock.send(udp_wire.encode(seq, time.time_ns(), self.size, self.key))

    def receive(self, timeout_s: float) -> Reply | None:
        """The next valid reply within ``timeout_s`` seconds, else None."""
        for item in datagrams(self.sock, timeout_s, udp_wire.MAX_DATAGRAM):
            if isinstance(item, OSError):
                self.refused += 1
                continue
            data, _addr, rx_ns = item
            try:
                dg = udp_wire.decode(data, self.key)
            except udp_wire.WireError:
                self.rejected += 1
                continue
            if not dg.is_reply:
                self.rejected += 1
                continue
            return Reply(dg.seq, dg.client_tx_ns, rx_ns, {"server_rx_ns": dg.server_rx_ns})
        return None

    def notes(self) -> list[str]:
        """Sentences about what went wrong beyond plain loss."""
        out = []
        if self.refused:
            out.append(f"{self.refused} ICMP port-unreachable reports (nothing listening)")
        if self.rejected:
            what = "failed HMAC check or were not replies" if self.key else "were not replies"
            out.append(f"{self.rejected} datagrams {what}")
        return out


def forward_jitter_ms(replies: list[Reply]) -> float | None:
    """RFC 3550 jitter (ms) of one-way transits server_rx_ns − tx_ns, first replies in seq order."""
    firsts = sorted(first_replies(replies), key=lambda r: r.seq)
    transits = []
    for reply in firsts:
        server_rx = reply.extra.get("server_rx_ns")
        if not isinstance(server_rx, int) or server_rx == 0:
            return None  # a server that does not stamp: no one-way figure
        transits.append((server_rx - reply.tx_ns) / 1e6)
    return stats.rfc3550_jitter(transits)


class UdpProbe(Probe[UdpOptions]):
    """UDP echo: RTT, jitter, loss, duplicates, reordering."""

    name = "udp"
    options_model = UdpOptions
    summary = "UDP echo (WaddlePerf server): RTT, RFC 3550 jitter, loss, duplicates, reordering"

    def run(self, options: UdpOptions, context: RunContext | None = None) -> Result:
        """Send ``count`` datagrams; RTTs in ms, client send stamp to kernel arrival stamp."""
        rec = Recording(self.kind, options, context)
        try:
            endpoint, addr = resolve_endpoint(
                options.target, options.port or DEFAULT_PORT, socket.SOCK_DGRAM, options.family
            )
            key = options.key()
        except (ResolveError, ValueError) as exc:
            return rec.failed(f"{exc}.")
        except OSError as exc:
            return rec.failed(f"Cannot read the HMAC key: {exc}.")
        rec.emit(
            progress.Start(f"{addr.address} port {endpoint.port}", f"{options.size_bytes} bytes")
        )
        with socket.socket(addr.family, socket.SOCK_DGRAM) as sock:
            sock.connect(addr.sockaddr)  # so only the echo's datagrams (and ICMP errors) reach us
            transport = UdpTransport(sock, options.size_bytes, key)
            outcome = run_session(
                transport, options.count, options.interval_s, options.timeout_s, rec
            )
        metrics, samples = summarize_session(outcome)
        fwd = forward_jitter_ms(outcome.replies)
        if fwd is not None:
            metrics["jitter_fwd_ms"] = fwd
        status, error = session_status(outcome, metrics, "datagrams", transport.notes())
        info: dict[str, Scalar] = {
            "address": addr.address,
            "port": endpoint.port,
            "hmac": key is not None,
            "receive_timestamps": "kernel" if transport.kernel_stamps else "user space",
        }
        return rec.finish(status=status, metrics=metrics, error=error, samples=samples, info=info)
