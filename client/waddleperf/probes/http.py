"""HTTP(S) phase timings: DNS, connect, TLS, TTFB, transfer, total, over N repetitions.

Redirects are followed up to a limit; a repetition's phase times are the sums over its hops.
With ``keep_alive`` a connection is reused across repetitions (reused ones have no DNS,
connect or TLS time); otherwise every repetition opens its own.
"""

from __future__ import annotations

import http.client
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field

from waddleperf.probes import progress, stats
from waddleperf.probes.base import (
    Family,
    Probe,
    ProbeOptions,
    Recording,
    RunContext,
    UrlTarget,
    paced,
)
from waddleperf.probes.base import status_of as status_from_counts
from waddleperf.probes.errors import describe_error
from waddleperf.probes.http_timing import Connection, exchange, open_connection, tls_context
from waddleperf.probes.netio import ResolveError
from waddleperf.probes.targets import TargetError, Url, parse_url
from waddleperf.results.model import MetricValue, Result, Sample, Scalar, Status

REDIRECTS = {301, 302, 303, 307, 308}
PHASES = ("dns", "connect", "tls", "ttfb", "transfer", "total")
_FULL = stats.SERIES_FIGURES
_SHORT = ("min", "avg", "max")


class HttpOptions(ProbeOptions):
    """Options of the HTTP probe."""

    target: UrlTarget = Field(description="http:// or https:// URL.")
    count: int = Field(default=3, ge=1, le=10_000, description="Requests to time.")
    interval_s: float = Field(default=0.0, ge=0, le=60, description="Between requests.")
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Per request phase.")
    method: Literal["GET", "HEAD"] = Field(default="GET", description="HTTP method.")
    keep_alive: bool = Field(default=False, description="Reuse one connection.")
    max_redirects: int = Field(default=5, ge=0, le=30, description="Redirects to follow.")
    insecure: bool = Field(default=False, description="Do not verify the TLS certificate.")
    ca_file: Path | None = Field(default=None, description="Trust these CAs (PEM) instead.")
    family: Family = "any"


@dataclass
class Repetition:
    """One repetition: phase sums (ns, None when no hop measured it), last hop's outcome."""

    phases: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(PHASES))
    status: int | None = None
    body_bytes: int = 0
    redirects: int = 0
    url: str = ""
    reused: bool = False
    error: str | None = None

    def add(self, phase: str, ns: int | None) -> None:
        """Add ``ns`` to a phase's sum (None adds nothing)."""
        if ns is not None:
            self.phases[phase] = (self.phases[phase] or 0) + ns


class _Pool:
    """At most one open connection per origin (scheme, host, port)."""

    def __init__(self, options: HttpOptions) -> None:
        self.options = options
        self.tls = tls_context(options.insecure, options.ca_file)
        self.conns: dict[tuple[str, str, int], Connection] = {}
        self.last: Connection | None = None

    def get(self, url: Url) -> tuple[Connection, bool]:
        """An open connection to ``url``'s origin and whether it was reused."""
        key = (url.scheme, url.host.name, url.port)
        if self.options.keep_alive and key in self.conns:
            return self.conns[key], True
        conn = open_connection(url, self.options.timeout_s, self.options.family, self.tls)
        self.conns[key] = conn
        self.last = conn
        return conn, False

    def drop(self, conn: Connection) -> None:
        """Close and forget ``conn``."""
        self.conns.pop(conn.origin, None)
        conn.close()

    def close(self) -> None:
        """Close every connection."""
        for conn in list(self.conns.values()):
            self.drop(conn)


def run_repetition(pool: _Pool, start_url: Url, options: HttpOptions) -> Repetition:
    """Fetch ``start_url`` following redirects; phase times summed over hops (ns)."""
    rep = Repetition(url=str(start_url))
    url = start_url
    begin = time.perf_counter_ns()
    conn: Connection | None = None
    try:
        for hop in range(options.max_redirects + 1):
            conn, reused = pool.get(url)
            rep.reused = rep.reused or reused
            if not reused:
                rep.add("dns", conn.dns_ns)
                rep.add("connect", conn.connect_ns)
                rep.add("tls", conn.tls_ns)
            ex = exchange(conn, url, options.method, options.keep_alive)
            if ex.will_close or not options.keep_alive:
                pool.drop(conn)
            rep.add("ttfb", ex.ttfb_ns)
            rep.add("transfer", ex.transfer_ns)
            rep.status, rep.body_bytes, rep.url = ex.status, ex.body_bytes, str(url)
            if ex.status not in REDIRECTS or not ex.location:
                break
            if hop == options.max_redirects:
                rep.error = f"More than {options.max_redirects} redirects (last to {ex.location})"
                break
            url = parse_url(urllib.parse.urljoin(str(url), ex.location))
            rep.redirects += 1
    except (OSError, ssl.SSLError, http.client.HTTPException, TargetError, ResolveError) as exc:
        if conn is not None:  # a connection that broke mid-exchange is not reused
            pool.drop(conn)
        rep.error = describe_error(exc, options.timeout_s)
    rep.phases["total"] = time.perf_counter_ns() - begin
    return rep


def summarize(reps: list[Repetition]) -> tuple[dict[str, MetricValue], list[Sample]]:
    """Phase figures (ms) over successful repetitions, counts, last status/bytes/redirects."""
    good = [r for r in reps if r.error is None]
    metrics: dict[str, MetricValue] = {}
    for phase in PHASES:
        values = [ns / 1e6 for r in good if (ns := r.phases[phase]) is not None]
        if phase in ("dns", "connect", "tls") and not values:
            continue  # not applicable (http://, or every connection reused): absent, not null
        metrics.update(
            stats.series_metrics(
                phase, values, figures=_FULL if phase in ("ttfb", "total") else _SHORT
            )
        )
    metrics["attempt_count"] = len(reps)
    metrics["ok_count"] = len(good)
    metrics["failure_pct"] = 100.0 * (len(reps) - len(good)) / len(reps)
    last = good[-1] if good else None
    metrics["http_status_code"] = last.status if last else None
    metrics["body_bytes"] = last.body_bytes if last else None
    metrics["redirect_count"] = last.redirects if last else None
    samples: list[Sample] = []
    for i, r in enumerate(reps):
        sample: Sample = {"rep": i, "url": r.url, "status": r.status, "reused": r.reused}
        for phase in PHASES:
            ns = r.phases[phase]
            sample[f"{phase}_ms"] = ns / 1e6 if ns is not None else None
        sample.update({"bytes": r.body_bytes, "redirects": r.redirects, "error": r.error})
        samples.append(sample)
    return metrics, samples


def judge(reps: list[Repetition]) -> tuple[Status, str | None]:
    """failed when nothing worked, degraded on some failures or HTTP ≥ 400, else ok."""
    errors = [r.error for r in reps if r.error]
    status = status_from_counts(len(reps) - len(errors), len(reps))
    if errors:
        return status, f"{len(errors)} of {len(reps)} requests failed: {errors[0]}."
    bad = [r.status for r in reps if r.status is not None and r.status >= 400]
    if bad:
        return Status.DEGRADED, f"The server answered HTTP {bad[-1]} ({len(bad)} of {len(reps)})."
    return status, None


def repetition_event(seq: int, rep: Repetition) -> progress.Reply:
    """The live line of one repetition: total time and HTTP status, or the error."""
    if rep.error is not None:
        return progress.Reply(seq, False, None, rep.error)
    ttfb = rep.phases["ttfb"]
    detail = f"HTTP {rep.status}" + (f" ttfb={ttfb / 1e6:.3f} ms" if ttfb is not None else "")
    return progress.Reply(seq, True, (rep.phases["total"] or 0) / 1e6, detail)


class HttpProbe(Probe[HttpOptions]):
    """HTTP(S) timings per phase."""

    name = "http"
    options_model = HttpOptions
    summary = "HTTP(S) phase timings: DNS, connect, TLS, TTFB, transfer, total; redirects"

    def run(self, options: HttpOptions, context: RunContext | None = None) -> Result:
        """Fetch the URL ``count`` times; phase times in ms (see docs/probes.md)."""
        rec = Recording(self.kind, options, context)
        url = parse_url(options.target)
        try:
            pool = _Pool(options)
        except (OSError, ssl.SSLError) as exc:
            return rec.failed(f"Cannot set up TLS: {exc}.")
        reps: list[Repetition] = []
        info: dict[str, Scalar] = {}
        try:
            with rec.attempts():
                for i in paced(options.count, options.interval_s):
                    reps.append(run_repetition(pool, url, options))
                    rec.progress(i + 1, options.count)
                    rec.emit(repetition_event(i, reps[-1]))
                    if pool.last is not None:
                        info["address"] = pool.last.address
                        if pool.last.tls_version:
                            info["tls_version"] = pool.last.tls_version
                            info["tls_cipher"] = pool.last.tls_cipher
        finally:
            pool.close()
        if not reps:  # interrupted before the first repetition ended
            return rec.failed("no request had finished")
        metrics, samples = summarize(reps)
        if pool.last is not None and pool.last.cert_expiry_days is not None:
            metrics["tls_cert_expiry_days"] = round(pool.last.cert_expiry_days, 3)
        status, error = judge(reps)
        null = [k for k, v in metrics.items() if v is None]
        if null and error is None:
            error = f"Not measured: {', '.join(null)}."
        if reps and reps[-1].url:
            info["final_url"] = reps[-1].url
        return rec.finish(status=status, metrics=metrics, error=error, samples=samples, info=info)
