"""A LibreSpeed-protocol client: download, upload, HTTP ping/jitter and client IP against any
LibreSpeed-compatible backend (ours under ``/`` or ``/backend/``, the PHP one, others).

Protocol as speedtest_worker.js speaks it: ``getIP.php?isp=true``; ``empty.php?r=…`` GETs on
one keep-alive connection for ping; parallel ``garbage.php?r=…&ckSize=N`` GETs (N MiB each,
repeated) for download; parallel POSTs of a random blob to ``empty.php?r=…`` for upload.
Streams start ``stream_delay_s`` apart, the first ``grace_s`` is discarded, then bytes are
counted for ``duration_s``. The arithmetic lives in librespeed.py (pure); where this differs
from the web client is in docs/probes.md.
"""

from __future__ import annotations

import secrets
import ssl
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field

from waddleperf.probes import librespeed, progress, stats
from waddleperf.probes.base import Family, Probe, ProbeOptions, Recording, RunContext, UrlTarget
from waddleperf.probes.errors import describe_error
from waddleperf.probes.http_timing import Connection, exchange, open_connection, tls_context
from waddleperf.probes.httpload import Direction, TransferStreams
from waddleperf.probes.targets import Url, parse_url
from waddleperf.results.model import MetricValue, Result, Sample, Scalar, Status

Test = Literal["ip", "ping", "download", "upload"]
TESTS: tuple[Test, ...] = ("ip", "ping", "download", "upload")
MIB = 1 << 20


class SpeedtestOptions(ProbeOptions):
    """Options of the speedtest probe; defaults are LibreSpeed's except the fixed duration."""

    target: UrlTarget = Field(description="Base URL of the backend, e.g. http://host:8080/")
    tests: list[Test] = Field(
        default_factory=lambda: list(TESTS), min_length=1, description="Tests to run."
    )
    duration_s: float = Field(default=15.0, ge=1, le=120, description="Measured, per direction.")
    download_grace_s: float = Field(default=1.5, ge=0, le=30, description="Not counted.")
    upload_grace_s: float = Field(default=3.0, ge=0, le=30, description="Not counted.")
    download_streams: int = Field(default=6, ge=1, le=32, description="Parallel GETs.")
    upload_streams: int = Field(default=3, ge=1, le=32, description="Parallel POSTs.")
    stream_delay_s: float = Field(default=0.3, ge=0, le=5, description="Between stream starts.")
    chunk_mb: int = Field(default=100, ge=1, le=1024, description="garbage.php ckSize (MiB).")
    upload_blob_mb: int = Field(default=20, ge=1, le=64, description="MiB per upload POST.")
    ping_count: int = Field(default=10, ge=3, le=1000, description="HTTP pings.")
    overhead_factor: float = Field(
        default=librespeed.OVERHEAD_COMPENSATION, ge=1, le=2, description="Protocol overhead."
    )
    mebibits: bool = Field(default=False, description="Report Mibit/s (LibreSpeed option).")
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Per request phase.")
    insecure: bool = Field(default=False, description="https: do not verify the certificate.")
    family: Family = "any"


@dataclass
class Outcome:
    """What the run gathered: metrics, samples, info, the tests that failed and why."""

    metrics: dict[str, MetricValue] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    info: dict[str, Scalar] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    tls: ssl.SSLContext | None = None


def endpoint(base: Url, name: str, query: dict[str, str] | None = None) -> Url:
    """``base``'s directory + ``name`` with a cache-busting ``r`` and ``query`` parameters."""
    directory = base.path.split("?", 1)[0]
    directory = directory if directory.endswith("/") else directory.rsplit("/", 1)[0] + "/"
    params = {"r": str(secrets.randbelow(10**16) / 10**16), **(query or {})}
    return Url(
        base.scheme, base.host, base.port, directory + name + "?" + urllib.parse.urlencode(params)
    )


def get_ip(base: Url, options: SpeedtestOptions, out: Outcome) -> None:
    """Ask getIP.php who we are (address, ISP or address kind)."""
    conn: Connection | None = None
    try:
        url = endpoint(base, "getIP.php", {"isp": "true"})
        conn = open_connection(url, options.timeout_s, options.family, out.tls)
        conn.http.request("GET", url.path, headers={"Connection": "close"})
        resp = conn.http.getresponse()
        body = resp.read(65_536).decode("utf-8", "replace")
        if resp.status != 200:
            raise OSError(f"HTTP {resp.status} {resp.reason}")
    except Exception as exc:
        out.failures.append(f"getIP.php failed: {describe_error(exc, options.timeout_s)}")
        return
    finally:
        if conn is not None:
            conn.close()
    client = librespeed.parse_getip(body)
    out.info.update(client_ip=client.ip, isp=client.isp, ip_processed=client.processed)


def ping(
    base: Url, options: SpeedtestOptions, out: Outcome, emit: progress.EventSink | None = None
) -> None:
    """``ping_count`` GETs of empty.php on one keep-alive connection, timed in ms."""
    rtts: list[float] = []
    lost = 0
    conn: Connection | None = None
    last_error = ""
    for seq in range(options.ping_count):
        url = endpoint(base, "empty.php")
        try:
            if conn is None:
                conn = open_connection(url, options.timeout_s, options.family, out.tls)
            ex = exchange(conn, url, "GET", keep_alive=True)
            if ex.status != 200:
                raise OSError(f"HTTP {ex.status} {ex.reason}")
            rtt: float | None = (ex.ttfb_ns + ex.transfer_ns) / 1e6
            if ex.will_close:
                conn.close()
                conn = None
        except Exception as exc:
            rtt, lost = None, lost + 1
            last_error = describe_error(exc, options.timeout_s)
            if conn is not None:
                conn.close()
                conn = None
        if rtt is not None:
            rtts.append(rtt)
        out.samples.append({"phase": "ping", "seq": seq, "rtt_ms": rtt})
        if emit is not None:
            emit(progress.Reply(seq, rtt is not None, rtt, "" if rtt is not None else last_error))
    if conn is not None:
        conn.close()
    pj = librespeed.ping_jitter(rtts)
    out.metrics.update(ping_ms=pj.ping, jitter_ms=pj.jitter, ping_lost_count=lost)
    out.metrics.update(
        stats.series_metrics("ping_rtt", rtts[1:], figures=("min", "avg", "max", "mdev"))
    )
    if pj.ping is None:
        out.failures.append(f"ping failed: {last_error or 'too few answers'}")


#: Live lines of a transfer: one per this many ticks (one per second).
_TICKS_PER_LINE = round(1.0 / librespeed.TICK_S)


def second_event(direction: str, ticks: list[tuple[float, int]]) -> progress.Interval:
    """The live line of a transfer's last second: goodput over it, bytes moved so far."""
    t, total = ticks[-1]
    t0, total0 = ticks[-1 - _TICKS_PER_LINE] if len(ticks) > _TICKS_PER_LINE else (0.0, 0)
    rate = (total - total0) * 8 / (t - t0) / 1e6 if t > t0 else None
    return progress.Interval(direction, {"elapsed_s": round(t, 1), "goodput_mbps": rate,
                                         "moved_bytes": total})  # fmt: skip


def transfer(
    base: Url,
    direction: Direction,
    options: SpeedtestOptions,
    out: Outcome,
    report: Callable[[int, int], None],
    emit: progress.EventSink | None = None,
) -> None:
    """One direction: parallel streams, 200 ms ticks, grace discarded, then ``duration_s``;
    ``emit`` gets the goodput of every second (Interval events)."""
    down = direction == "download"
    grace = options.download_grace_s if down else options.upload_grace_s

    def url_for() -> Url:
        query = {"ckSize": str(options.chunk_mb)} if down else None
        return endpoint(base, "garbage.php" if down else "empty.php", query)

    streams = TransferStreams(
        url_for,
        direction,
        options.download_streams if down else options.upload_streams,
        options.timeout_s,
        options.family,
        stagger_s=options.stream_delay_s,
        upload_bytes=options.upload_blob_mb * MIB,
        tls=out.tls,
    )
    ticks: list[tuple[float, int]] = []
    # Without any byte by the end of grace + duration + timeout, the link is not there.
    hard_stop = grace + options.duration_s + options.timeout_s
    start = time.monotonic()
    total_ticks = int((grace + options.duration_s) / librespeed.TICK_S) + 1
    stopped: KeyboardInterrupt | None = None  # Ctrl-C: the seconds measured still count
    with streams:
        try:
            while True:
                time.sleep(librespeed.TICK_S)
                t = time.monotonic() - start
                ticks.append((t, streams.total_bytes()))
                report(min(len(ticks), total_ticks), total_ticks)
                if emit is not None and len(ticks) % _TICKS_PER_LINE == 0:
                    emit(second_event(direction, ticks))
                window = librespeed.measured_window(ticks, grace)
                if window.grace_applied and window.seconds >= options.duration_s:
                    break
                if t > hard_stop or streams.all_stopped():
                    break
        except KeyboardInterrupt as exc:
            stopped = exc
    if stopped is not None and not librespeed.measured_window(ticks, grace).n_bytes:
        raise stopped  # cut short before the measured window began: nothing to report
    errors = streams.errors()
    prev = (0.0, 0)
    for t, total in ticks:
        rate = (total - prev[1]) * 8 / (t - prev[0]) / 1e6 if t > prev[0] else None
        out.samples.append({"phase": direction, "t_s": round(t, 3), "bytes": total,
                            "instant_goodput_mbps": rate})  # fmt: skip
        prev = (t, total)
    window = librespeed.measured_window(ticks, grace)
    figure = librespeed.speed_mbps(
        window.n_bytes, window.seconds, options.overhead_factor, options.mebibits
    )
    goodput = librespeed.speed_mbps(window.n_bytes, window.seconds, 1.0)
    if window.n_bytes == 0 or streams.rejected():
        figure = goodput = None
        why = errors[0] if errors else "no bytes moved"
        out.failures.append(f"{direction} failed: {why}")
    elif errors:
        out.failures.append(f"{direction}: {len(errors)} stream(s) had errors, e.g. {errors[0]}")
    out.metrics.update(
        {
            f"{direction}_throughput_mbps": figure,
            f"{direction}_goodput_mbps": goodput,
            f"{direction}_bytes": window.n_bytes,
            f"{direction}_measured_s": window.seconds,
        }
    )
    if stopped is not None:
        raise stopped


class SpeedtestProbe(Probe[SpeedtestOptions]):
    """LibreSpeed-compatible download/upload speed, HTTP ping and jitter, client address."""

    name = "speedtest"
    options_model = SpeedtestOptions
    summary = "LibreSpeed protocol: download/upload Mbit/s, HTTP ping and jitter, client IP/ISP"

    def run(self, options: SpeedtestOptions, context: RunContext | None = None) -> Result:
        """Run the requested tests in LibreSpeed's order: IP, ping, download, upload."""
        rec = Recording(self.kind, options, context)
        base = parse_url(options.target)
        out = Outcome()
        if base.scheme == "https":
            out.tls = tls_context(options.insecure, None)
        wanted = [t for t in ("ip", "ping", "download", "upload") if t in options.tests]
        emit = rec.emit if rec.live else None
        rec.emit(progress.Start(base.host.name, ", ".join(wanted)))
        try:
            if "ip" in wanted:
                get_ip(base, options, out)
            if "ping" in wanted:
                ping(base, options, out, emit)
            directions: tuple[Direction, ...] = ("download", "upload")
            for direction in directions:
                if direction in wanted:
                    transfer(base, direction, options, out, rec.progress, emit)
        except KeyboardInterrupt as exc:
            rec.interrupt(exc)
        hard = [f for f in out.failures if " failed: " in f]
        if len(hard) >= len(wanted):
            status = Status.FAILED
        elif out.failures:
            status = Status.DEGRADED
        else:
            status = Status.OK
        error = "; ".join(out.failures) + "." if out.failures else None
        if error is None and any(v is None for v in out.metrics.values()):
            error = "Jitter needs at least two pings after the warm-up one."
        return rec.finish(
            status=status, metrics=out.metrics, error=error, samples=out.samples, info=out.info
        )
