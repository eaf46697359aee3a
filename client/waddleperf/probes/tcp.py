"""TCP connect time: N non-blocking connects, each timed with perf_counter.

Refused (RST), timed out (no answer within the timeout) and unreachable (ICMP / no route)
are told apart by errno, reported per attempt and counted.
"""

from __future__ import annotations

import errno
import select
import socket
import time
from dataclasses import dataclass
from typing import Self

from pydantic import Field, model_validator

from waddleperf.probes import progress, stats
from waddleperf.probes.base import (
    EndpointTarget,
    Family,
    Probe,
    ProbeOptions,
    Recording,
    RunContext,
    paced,
    status_of,
)
from waddleperf.probes.netio import (
    ERROR,
    REFUSED,
    TIMEOUT,
    UNREACHABLE,
    ResolveError,
    SockAddr,
    classify_errno,
    describe_errno,
    resolve_endpoint,
)
from waddleperf.probes.targets import TargetError, parse_endpoint
from waddleperf.results.model import MetricValue, Result, Sample

OUTCOMES = ("ok", REFUSED, TIMEOUT, UNREACHABLE, ERROR)


class TcpOptions(ProbeOptions):
    """Options of the TCP connect probe."""

    target: EndpointTarget = Field(description="host:port or [v6]:port (or host with --port).")
    port: int | None = Field(default=None, ge=1, le=65_535, description="When not in target.")
    count: int = Field(default=5, ge=1, le=10_000, description="Connects to time.")
    interval_s: float = Field(default=0.2, ge=0, le=60, description="Between connects.")
    family: Family = "any"

    @model_validator(mode="after")
    def _port_known(self) -> Self:
        # There is no default port for "a TCP service": without one it is bad usage.
        try:
            parse_endpoint(self.target, self.port)
        except TargetError as exc:
            raise ValueError(str(exc)) from None
        return self


@dataclass(frozen=True, slots=True)
class Attempt:
    """One connect: outcome (ok/refused/timeout/unreachable/error), time in ns, errno."""

    outcome: str
    elapsed_ns: int | None
    errno: int | None = None


def connect_once(family: socket.AddressFamily, sockaddr: SockAddr, timeout_s: float) -> Attempt:
    """One non-blocking connect to ``sockaddr``, timed from connect() to writable (ns)."""
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        start = time.perf_counter_ns()
        code = sock.connect_ex(sockaddr)
        if code not in (0, errno.EINPROGRESS):
            return Attempt(classify_errno(code), None, code)
        if code == errno.EINPROGRESS:
            poller = select.poll()
            poller.register(sock, select.POLLOUT)
            if not poller.poll(timeout_s * 1000):
                return Attempt(TIMEOUT, None, errno.ETIMEDOUT)
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        elapsed = time.perf_counter_ns() - start
        if code:
            return Attempt(classify_errno(code), None, code)
        return Attempt("ok", elapsed)


def summarize_attempts(attempts: list[Attempt]) -> tuple[dict[str, MetricValue], list[Sample]]:
    """Connect-time figures (ms) over successful attempts, and a count per outcome."""
    times = [a.elapsed_ns / 1e6 for a in attempts if a.elapsed_ns is not None]
    metrics: dict[str, MetricValue] = stats.series_metrics("connect", times)
    metrics["attempt_count"] = len(attempts)
    for outcome in OUTCOMES:
        metrics[f"{outcome}_count"] = sum(1 for a in attempts if a.outcome == outcome)
    failed = len(attempts) - len(times)
    metrics["failure_pct"] = 100.0 * failed / len(attempts) if attempts else None
    samples: list[Sample] = [
        {
            "attempt": i,
            "outcome": a.outcome,
            "connect_ms": a.elapsed_ns / 1e6 if a.elapsed_ns is not None else None,
            "errno": errno.errorcode.get(a.errno, str(a.errno)) if a.errno else None,
        }
        for i, a in enumerate(attempts)
    ]
    return metrics, samples


def failure_sentence(attempts: list[Attempt], timeout_s: float) -> str | None:
    """e.g. "2 of 5 connects failed: 1 refused (connection refused (ECONNREFUSED)), ..."."""
    failed = [a for a in attempts if a.outcome != "ok"]
    if not failed:
        return None
    parts = []
    for outcome in OUTCOMES[1:]:
        group = [a for a in failed if a.outcome == outcome]
        if not group:
            continue
        why = f"no answer within {timeout_s:g} s" if outcome == TIMEOUT else None
        parts.append(f"{len(group)} {outcome} ({why or describe_errno(group[0].errno)})")
    return f"{len(failed)} of {len(attempts)} connects failed: {', '.join(parts)}."


def attempt_event(seq: int, attempt: Attempt, timeout_s: float) -> progress.Reply:
    """The live line of one connect: its time, or why it failed."""
    if attempt.outcome == "ok" and attempt.elapsed_ns is not None:
        return progress.Reply(seq, True, attempt.elapsed_ns / 1e6, "connected")
    why = f"no answer within {timeout_s:g} s" if attempt.outcome == TIMEOUT else None
    return progress.Reply(
        seq, False, None, f"{attempt.outcome}: {why or describe_errno(attempt.errno)}"
    )


class TcpProbe(Probe[TcpOptions]):
    """TCP connect time and why connects fail."""

    name = "tcp"
    options_model = TcpOptions
    summary = "TCP connect time over N attempts; refused / timeout / unreachable counted apart"

    def run(self, options: TcpOptions, context: RunContext | None = None) -> Result:
        """Connect ``count`` times; connect time in ms from connect() to established."""
        rec = Recording(self.kind, options, context)
        try:
            endpoint, addr = resolve_endpoint(
                options.target, options.port, socket.SOCK_STREAM, options.family
            )
        except (ResolveError, ValueError) as exc:
            return rec.failed(f"{exc}.")
        attempts: list[Attempt] = []
        rec.emit(progress.Start(f"{addr.address} port {endpoint.port}"))
        with rec.attempts():
            for i in paced(options.count, options.interval_s):
                attempts.append(connect_once(addr.family, addr.sockaddr, options.timeout_s))
                rec.progress(i + 1, options.count)
                rec.emit(attempt_event(i, attempts[-1], options.timeout_s))
        metrics, samples = summarize_attempts(attempts)
        ok = sum(1 for a in attempts if a.outcome == "ok")
        return rec.finish(
            status=status_of(ok, len(attempts)),
            metrics=metrics,
            error=failure_sentence(attempts, options.timeout_s),
            samples=samples,
            info={"address": addr.address, "port": endpoint.port},
        )
