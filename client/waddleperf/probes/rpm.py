"""Responsiveness under working conditions (after draft-ietf-ippm-responsiveness): RPM and a
bufferbloat grade.

1. Read the configuration document (``/.well-known/nq``): the small, large and upload URLs.
2. Idle: ``idle_probes`` foreign probes, one after another — each a new connection, its TCP
   connect time and one GET of the small object.
3. For each direction: saturate the path with ``parallel`` transfers (HTTP: GETs of
   the large object or POSTs to the upload URL; or iperf3 streams, ``-R`` for download), wait
   ``warmup_s`` for the queues to fill, then for ``duration_s`` take a foreign probe every
   ``interval_s`` and a *self* sample from every load connection.
4. Aggregate with bufferbloat.py: trimmed means, the draft's weighting, RPM = 60 000 / ms.

Where we differ from the draft, and why (docs/probes.md): fixed parallelism instead of
its ramp-up until throughput and latency are stable (bounded, repeatable run time); HTTP/1.1
cannot send a probe on a connection busy with a transfer, so a self sample is the kernel's
RTT estimate of the load connection (TCP_INFO) rather than an HTTP round trip on it; with
iperf3 load there are no self samples, only foreign ones.
"""

from __future__ import annotations

import json
import secrets
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field

from waddleperf.probes import bufferbloat, stats
from waddleperf.probes.base import Family, Probe, ProbeOptions, Recording, RunContext, UrlTarget
from waddleperf.probes.http import describe_error
from waddleperf.probes.http_timing import Connection, exchange, open_connection, tls_context
from waddleperf.probes.httpload import Direction, TransferStreams
from waddleperf.probes.iperf import IPERF3, IperfOptions, find_binary, iperf3_argv, kill_group
from waddleperf.probes.iperf_json import parse_report
from waddleperf.probes.targets import Url, parse_url
from waddleperf.results.model import MetricValue, Result, Sample, Scalar, Status
from waddleperf_common.nq import NQ_PATH, NQConfig, NQConfigError
from waddleperf_common.nq import parse as parse_nq

DIRECTIONS: tuple[Direction, ...] = ("download", "upload")
UPLOAD_BODY_BYTES = 4 << 30  # one POST outlasts any load phase; the stream is cut when done


class RpmOptions(ProbeOptions):
    """Options of the rpm probe."""

    target: UrlTarget = Field(description="Server base URL, or the full /.well-known/nq URL.")
    directions: list[Direction] = Field(default_factory=lambda: list(DIRECTIONS), min_length=1)
    load: Literal["http", "iperf"] = "http"
    iperf_port: int = Field(default=5201, ge=1, le=65_535)
    parallel: int = Field(default=4, ge=1, le=32, description="Load connections per direction.")
    warmup_s: float = Field(default=2.0, ge=0, le=30)
    duration_s: float = Field(default=5.0, ge=1, le=60, description="Measured, per direction.")
    idle_probes: int = Field(default=10, ge=1, le=1000)
    interval_s: float = Field(default=0.1, ge=0.01, le=5)
    trim_percentile: float = Field(default=90.0, gt=0, le=100)
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    insecure: bool = Field(default=False, description="Do not verify TLS certificates.")
    family: Family = "any"


@dataclass
class Series:
    """Latency samples of one phase, in ms."""

    tcp: list[float] = field(default_factory=list)
    http: list[float] = field(default_factory=list)
    own: list[float] = field(default_factory=list)
    failed: int = 0
    last_error: str | None = None


class _Run:
    """One rpm run's state: config, TLS context, samples."""

    def __init__(self, options: RpmOptions, base: Url) -> None:
        self.options, self.base = options, base
        self.tls = tls_context(options.insecure, None) if base.scheme == "https" else None
        self.samples: list[Sample] = []

    def tls_for(self, url: Url) -> ssl.SSLContext | None:
        if url.scheme == "https" and self.tls is None:
            self.tls = tls_context(self.options.insecure, None)
        return self.tls if url.scheme == "https" else None

    def fetch_config(self) -> NQConfig:
        """GET the configuration document; raises OSError/NQConfigError with the reason."""
        url = self.base if self.base.path.startswith(NQ_PATH) else _with_path(self.base, NQ_PATH)
        conn = open_connection(url, self.options.timeout_s, self.options.family, self.tls_for(url))
        try:
            conn.http.request("GET", url.path, headers={"Connection": "close"})
            resp = conn.http.getresponse()
            body = resp.read(65_536)
            if resp.status != 200:
                raise OSError(f"{url} answered HTTP {resp.status} {resp.reason}")
        finally:
            conn.close()
        return parse_nq(body)

    def foreign(self, url: Url, phase: str, into: Series) -> None:
        """One foreign probe: new connection (connect ms), one GET of the small object (ms)."""
        conn = None
        try:
            conn = open_connection(
                url, self.options.timeout_s, self.options.family, self.tls_for(url)
            )
            ex = exchange(conn, url, "GET", keep_alive=False)
            if ex.status != 200:
                raise OSError(f"small object answered HTTP {ex.status} {ex.reason}")
        except Exception as exc:
            into.failed += 1
            into.last_error = describe_error(exc, self.options.timeout_s)
            self.samples.append({"phase": phase, "kind": "foreign", "error": into.last_error})
            return
        finally:
            if conn is not None:
                conn.close()
        tcp_ms = (conn.connect_ns or 0) / 1e6
        http_ms = (ex.ttfb_ns + ex.transfer_ns) / 1e6
        into.tcp.append(tcp_ms)
        into.http.append(http_ms)
        self.samples.append({"phase": phase, "kind": "foreign", "tcp_ms": tcp_ms,
                             "http_ms": http_ms})  # fmt: skip

    def idle_self(self, small: Url, rounds: int, into: Series) -> list[Connection]:
        """``rounds`` GETs of the small object on each of ``parallel`` keep-alive connections
        that will then carry the first load (self probes while idle); returns the survivors."""
        conns: list[Connection] = []
        for _ in range(self.options.parallel):
            try:
                conns.append(
                    open_connection(
                        small, self.options.timeout_s, self.options.family, self.tls_for(small)
                    )
                )
            except OSError as exc:
                into.failed += 1
                into.last_error = describe_error(exc, self.options.timeout_s)
        for _ in range(rounds):
            for conn in list(conns):
                url = _busted(small)
                try:
                    ex = exchange(conn, url, "GET", keep_alive=True)
                    if ex.status != 200 or ex.will_close:
                        raise OSError(f"small object answered HTTP {ex.status} {ex.reason}")
                except Exception as exc:
                    into.failed += 1
                    into.last_error = describe_error(exc, self.options.timeout_s)
                    conns.remove(conn)
                    conn.close()
                    continue
                rtt = (ex.ttfb_ns + ex.transfer_ns) / 1e6
                into.own.append(rtt)
                self.samples.append({"phase": "idle", "kind": "self", "rtt_ms": rtt})
        return conns

    def measure_loaded(self, small: Url, direction: Direction, load: _Load) -> Series:
        """Warm up, then foreign probes and self samples for ``duration_s`` seconds."""
        series = Series()
        opts = self.options
        time.sleep(opts.warmup_s)
        load.mark()
        end = time.monotonic() + opts.duration_s
        while (now := time.monotonic()) < end:
            self.foreign(small, direction, series)
            for rtt in load.self_rtts_ms():
                series.own.append(rtt)
                self.samples.append({"phase": direction, "kind": "self", "rtt_ms": rtt})
            time.sleep(max(0.0, opts.interval_s - (time.monotonic() - now)))
        return series


def _with_path(url: Url, path: str) -> Url:
    return Url(url.scheme, url.host, url.port, path)


def _busted(url: Url) -> Url:
    sep = "&" if "?" in url.path else "?"
    return Url(url.scheme, url.host, url.port, f"{url.path}{sep}r={secrets.token_hex(6)}")


class _Load:
    """A saturating load in one direction: HTTP transfer streams or an iperf3 child."""

    def __init__(
        self, run: _Run, config: NQConfig, direction: Direction, adopt: list[Connection]
    ) -> None:
        opts = run.options
        self.direction, self.opts = direction, opts
        self.streams: TransferStreams | None = None
        self.proc: subprocess.Popen[str] | None = None
        self.marked: tuple[float, int] | None = None
        self.mbps: float | None = None
        self.error: str | None = None
        if opts.load == "http":
            url = parse_url(
                config.large_download_url if direction == "download" else config.upload_url
            )
            self.streams = TransferStreams(
                lambda: _busted(url), direction, opts.parallel, opts.timeout_s, opts.family,
                upload_bytes=UPLOAD_BODY_BYTES, tls=run.tls_for(url),
            )  # fmt: skip
            self.streams.adopt(adopt)
            self.streams.start()
            return
        for conn in adopt:
            conn.close()
        binary = find_binary(IPERF3)
        if binary is None:
            raise OSError("iperf3 is not installed (Debian package iperf3)")
        duration = int(opts.warmup_s + opts.duration_s + 1.999)
        iperf_opts = IperfOptions(
            target=run.base.host.name, port=opts.iperf_port, parallel=opts.parallel,
            duration_s=duration, reverse=direction == "download", timeout_s=opts.timeout_s,
            family=opts.family,
        )  # fmt: skip
        argv = iperf3_argv(binary, run.base.host.name, opts.iperf_port, iperf_opts)
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )  # fmt: skip
        self.deadline_s = iperf_opts.deadline_s

    def mark(self) -> None:
        """Start of the measured window (throughput is counted from here)."""
        if self.streams is not None:
            self.marked = (time.monotonic(), self.streams.total_bytes())

    def self_rtts_ms(self) -> list[float]:
        """Kernel RTTs of the load connections (none with iperf3 load)."""
        return self.streams.kernel_rtts_ms() if self.streams is not None else []

    def stop(self, cancel: bool = False) -> None:
        """End the load; note its throughput (Mbit/s, goodput) and any error.

        ``cancel``: the run is being abandoned — kill an iperf3 child at once instead of
        waiting for its result.
        """
        if cancel and self.proc is not None:
            kill_group(self.proc)
        if self.streams is not None:
            if self.marked is not None:
                seconds = time.monotonic() - self.marked[0]
                moved = self.streams.total_bytes() - self.marked[1]
                self.mbps = moved * 8 / seconds / 1e6 if seconds > 0 and moved > 0 else None
            self.streams.stop()
            errors = self.streams.errors()
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


class RpmProbe(Probe[RpmOptions]):
    """Idle and loaded latency, responsiveness (RPM) and bufferbloat grade."""

    name = "rpm"
    options_model = RpmOptions
    summary = "Responsiveness under load (RPM), latency increase per direction, bufferbloat grade"

    def run(self, options: RpmOptions, context: RunContext | None = None) -> Result:
        """Latency in ms idle and under load, RPM in round trips per minute, grade A+ … F."""
        rec = Recording(self.kind, options, context)
        run = _Run(options, parse_url(options.target))
        try:
            config = run.fetch_config()
        except (OSError, NQConfigError) as exc:
            why = describe_error(exc, options.timeout_s)
            return rec.failed(f"Cannot read the responsiveness configuration: {why}.")
        small = parse_url(config.small_download_url)
        p = options.trim_percentile
        steps = 1 + len(options.directions)
        idle = Series()
        for _ in range(options.idle_probes):
            run.foreign(_busted(small), "idle", idle)
        warm = run.idle_self(small, options.idle_probes, idle)
        rec.progress(1, steps)
        metrics: dict[str, MetricValue] = {}
        info: dict[str, Scalar] = {"load": options.load, "small_url": str(small)}
        problems: list[str] = []
        idle_ms = bufferbloat.probe_latency_ms(idle.tcp, idle.http, idle.own, p)
        metrics.update(
            idle_latency_ms=idle_ms, idle_responsiveness_rpm=_round(bufferbloat.rpm(idle_ms))
        )
        metrics.update(stats.series_metrics("idle_http", idle.http, figures=("min", "avg", "max")))
        metrics["idle_self_ms"] = bufferbloat.trimmed_mean(idle.own, p)
        if idle_ms is None:
            for conn in warm:
                conn.close()
            return rec.finish(
                status=Status.FAILED, metrics=metrics, samples=run.samples, info=info,
                error=f"No idle probe succeeded: {idle.last_error}.",
            )  # fmt: skip
        pooled = Series()
        increases: list[float] = []
        for step, direction in enumerate(options.directions, start=2):
            try:
                load = _Load(run, config, direction, warm)
                warm = []
            except (OSError, ValueError) as exc:
                problems.append(f"{direction} load could not start: {exc}")
                continue
            try:
                series = run.measure_loaded(_busted(small), direction, load)
            except BaseException:
                load.stop(cancel=True)
                raise
            load.stop()
            loaded = bufferbloat.probe_latency_ms(series.tcp, series.http, series.own, p)
            increase = None if loaded is None else loaded - idle_ms
            if increase is not None:
                increases.append(increase)
            metrics.update({
                f"{direction}_loaded_latency_ms": loaded,
                f"{direction}_latency_increase_ms": increase,
                f"{direction}_responsiveness_rpm": _round(bufferbloat.rpm(loaded)),
                f"{direction}_self_rtt_ms": bufferbloat.trimmed_mean(series.own, p),
                f"{direction}_throughput_mbps": load.mbps,
                f"{direction}_probe_failed_count": series.failed,
            })  # fmt: skip
            info[f"{direction}_grade"] = bufferbloat.grade(increase)
            if load.error:
                problems.append(f"{direction} load: {load.error}")
            if loaded is None:
                problems.append(f"no probe succeeded under {direction} load: {series.last_error}")
            for attr in ("tcp", "http", "own"):
                getattr(pooled, attr).extend(getattr(series, attr))
            rec.progress(step, steps)
        for conn in warm:  # no HTTP load took them over
            conn.close()
        loaded_all = bufferbloat.probe_latency_ms(pooled.tcp, pooled.http, pooled.own, p)
        metrics.update(
            loaded_latency_ms=loaded_all, responsiveness_rpm=_round(bufferbloat.rpm(loaded_all))
        )
        worst = max(increases) if increases else None
        metrics["latency_increase_ms"] = worst
        info["bufferbloat_grade"] = bufferbloat.grade(worst)
        status = Status.FAILED if loaded_all is None else Status.DEGRADED if problems else Status.OK
        if options.load == "iperf":
            problems.append("iperf3 load gives no self samples: loaded latency is foreign only")
        error = "; ".join(problems) + "." if problems else None
        if error is None and any(v is None for v in metrics.values()):
            error = "Some figures are null: no sample of that kind was taken."
        return rec.finish(
            status=status, metrics=metrics, error=error, samples=run.samples, info=info
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
