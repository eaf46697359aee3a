"""UDP echo round trips against the WaddlePerf server's UDP echo (common udp_wire format).

Jitter, two figures (docs/probes.md):
- ``jitter_ms``: RFC 3550 estimator over round-trip times of consecutive replies.
- ``jitter_fwd_ms``: RFC 3550 over one-way client→server transits (server_rx_ns − client_tx_ns).
  The clocks need not be synchronised: D is a difference of two transits, so a constant offset
  cancels; only drift between two packets remains (ppm × interval: nanoseconds).

Loss the server caused: after a run with loss, one rate-drop query (udp_wire) asks the server
how many of this socket's datagrams its per-source rate limit dropped; the answer becomes
``lost_rate_limited_count`` and a sentence in ``error``.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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
    SockAddr,
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
            dg = self._reply_in(item)
            if dg is None or dg.is_tally or isinstance(item, OSError):
                continue
            return Reply(dg.seq, dg.client_tx_ns, item[2], {"server_rx_ns": dg.server_rx_ns})
        return None

    def ask_rate_drops(self, timeout_s: float, attempts: int = 2) -> RateAnswer:
        """Ask the server how many datagrams of this socket its rate limit dropped.

        One rate-drop query at a time, ``attempts`` at most, each waiting ``timeout_s /
        attempts`` seconds for its answer; the query id is random and the same for every
        attempt, so a repeat is told the same count (the server resets it only once).
        """
        query = secrets.randbits(63)
        wait_s = timeout_s / attempts
        for sent in range(1, attempts + 1):
            request = udp_wire.encode(query, time.time_ns(), None, self.key, tally=True)
            try:
                self.sock.send(request)
            except OSError:
                return RateAnswer("unanswered", queries=sent - 1)
            for item in datagrams(self.sock, wait_s, udp_wire.MAX_DATAGRAM):
                if isinstance(item, OSError):
                    return RateAnswer("unanswered", queries=sent)  # nothing listens there now
                dg = self._reply_in(item)
                if dg is None or dg.seq != query:
                    continue  # a late echo reply, or not for us
                if dg.rate_dropped is None:
                    return RateAnswer("unsupported", queries=sent)  # a server before the query
                return RateAnswer("answered", dg.rate_dropped, queries=sent)
        return RateAnswer("unanswered", queries=attempts)

    def _reply_in(
        self, item: tuple[bytes, SockAddr, int] | OSError
    ) -> udp_wire.ProbeDatagram | None:
        """The valid reply in one received item, else None (counted: refused or rejected)."""
        if isinstance(item, OSError):
            self.refused += 1
            return None
        try:
            dg = udp_wire.decode(item[0], self.key)
        except udp_wire.WireError:
            self.rejected += 1
            return None
        if not dg.is_reply:
            self.rejected += 1
            return None
        return dg

    def notes(self) -> list[str]:
        """Sentences about what went wrong beyond plain loss."""
        out = []
        if self.refused:
            out.append(f"{self.refused} ICMP port-unreachable reports (nothing listening)")
        if self.rejected:
            what = "failed HMAC check or were not replies" if self.key else "were not replies"
            out.append(f"{self.rejected} datagrams {what}")
        return out


@dataclass(frozen=True, slots=True)
class RateAnswer:
    """What the server said about its rate limit: ``answered`` (with ``dropped``, datagrams),
    ``unsupported`` (it answered as a plain echo) or ``unanswered``."""

    outcome: Literal["answered", "unsupported", "unanswered"]
    dropped: int = 0
    #: Rate-drop queries sent (each unanswered one is a datagram the path or server lost).
    queries: int = 0


def rate_limit_note(lost: int, answer: RateAnswer | None) -> tuple[int | None, str | None]:
    """``lost_rate_limited_count`` and the sentence for ``error`` from ``lost`` datagrams and
    the server's answer (None: not asked, because nothing was lost). Pure.

    The count is capped at ``lost``: the server counts every datagram it dropped, and one
    that is dropped is never answered, but a dropped datagram duplicated on the way could
    still have been answered once.
    """
    if answer is None or lost == 0:
        return 0, None
    if answer.outcome == "unsupported":
        return None, "the server does not report rate-limit drops (it predates the query)"
    if answer.outcome == "unanswered":
        return None, "the server did not answer the rate-drop query: the cause is unknown"
    explained = min(lost, answer.dropped)
    if explained == 0:
        return 0, None
    who = f"all {explained}" if explained == lost else f"{explained} of them"
    return explained, (
        f"{who} dropped by the server's per-source rate limit (udp_echo.rate_limit_pps; "
        "send slower or raise it)"
    )


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
            lost = int(metrics.get("lost_count") or 0)
            # Only loss needs explaining; a port that answered only "unreachable" has no server.
            nothing_there = transport.refused and not metrics.get("received_count")
            answer = (
                transport.ask_rate_drops(options.timeout_s) if lost and not nothing_there else None
            )
        fwd = forward_jitter_ms(outcome.replies)
        if fwd is not None:
            metrics["jitter_fwd_ms"] = fwd
        limited, note = rate_limit_note(lost, answer)
        metrics["lost_rate_limited_count"] = limited
        notes = transport.notes() + ([note] if note else [])
        status, error = session_status(outcome, metrics, "datagrams", notes)
        info: dict[str, Scalar] = {
            "address": addr.address,
            "port": endpoint.port,
            "hmac": key is not None,
            "receive_timestamps": "kernel" if transport.kernel_stamps else "user space",
            "rate_drop_query": answer.outcome if answer is not None else "not needed",
            "rate_drop_queries": answer.queries if answer is not None else 0,
        }
        return rec.finish(status=status, metrics=metrics, error=error, samples=samples, info=info)
