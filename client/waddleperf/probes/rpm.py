"""Responsiveness under working conditions (after draft-ietf-ippm-responsiveness): RPM and a
bufferbloat grade.

1. Read the configuration document (``/.well-known/nq``): the small, large and upload URLs.
2. Idle: ``idle_probes`` foreign probes, one after another — each a new connection, its TCP
   connect time and one GET of the small object; then ``idle_probes`` GETs on each of
   ``parallel`` keep-alive connections (idle self probes), which then carry the first load.
3. For each direction, saturate the path (HTTP: GETs of the large object or POSTs to the upload
   URL; or iperf3 streams, ``-R`` for download) and take a foreign probe every ``interval_s``
   and a *self* sample from every load connection:

   - ``mode="fixed"`` (default): ``parallel`` connections, ``warmup_s`` for the queues to
     fill, then ``duration_s`` measured — a bounded, repeatable run time.
   - ``mode="draft"``: the draft's working-conditions algorithm (rpm_stability.py). Start with
     ``parallel`` connections; every ``stability_interval_s`` (ID) note that interval's goodput
     and the RPM over the probes of the last ``mad`` intervals; add ``add_parallel`` connections
     (up to ``max_parallel``) until the moving average of goodput is stable (standard deviation
     of the last MAD moving averages within ``sdt_pct`` % of the latest), then go on until
     RPM is stable likewise, or ``max_duration_s`` (MTD) has passed. The figures come from the
     probes of the last MAD intervals; stability, confidence and the connection count are
     reported, and every interval is a sample.

4. Aggregate with bufferbloat.py: trimmed means, the draft's weighting, RPM = 60 000 / ms.

Where we differ from the draft, and why (docs/probes.md): HTTP/1.1 cannot send a probe on a
connection busy with a transfer, so a self sample is the kernel's RTT estimate of the load
connection (TCP_INFO; download sockets are made to ACK promptly, see rpm_load) rather than an
HTTP round trip on it; draft-mode upload goodput counts bytes the server acknowledged; with
iperf3 load (fixed mode only) there are no self samples, only foreign ones; the directions run
one after the other.
"""

from __future__ import annotations

import http.client
import ssl
import time
from typing import Literal, Self

from pydantic import Field, model_validator

from waddleperf.probes import bufferbloat, progress, stats
from waddleperf.probes.base import Family, Probe, ProbeOptions, Recording, RunContext, UrlTarget
from waddleperf.probes.errors import describe_error
from waddleperf.probes.http_timing import Connection, exchange, open_connection, tls_context
from waddleperf.probes.httpload import Direction
from waddleperf.probes.rpm_load import Load, busted
from waddleperf.probes.rpm_stability import Series, WorkingConditions, merged
from waddleperf.probes.targets import Url, parse_url
from waddleperf.results.model import MetricValue, Result, Sample, Scalar, Status
from waddleperf_common.nq import NQ_PATH, NQConfig, NQConfigError
from waddleperf_common.nq import parse as parse_nq

__all__ = ["DIRECTIONS", "RpmOptions", "RpmProbe", "Series"]

DIRECTIONS: tuple[Direction, ...] = ("download", "upload")
_busted = busted


class RpmOptions(ProbeOptions):
    """Options of the rpm probe."""

    target: UrlTarget = Field(description="Server base URL, or the full /.well-known/nq URL.")
    directions: list[Direction] = Field(
        default_factory=lambda: list(DIRECTIONS), min_length=1, description="Directions to load."
    )
    mode: Literal["fixed", "draft"] = Field(
        default="fixed", description="fixed parallelism and duration, or the draft's ramp-up."
    )
    load: Literal["http", "iperf"] = Field(default="http", description="Saturate with.")
    iperf_port: int = Field(default=5201, ge=1, le=65_535, description="With load iperf.")
    parallel: int = Field(default=4, ge=1, le=32, description="Load connections (draft: at start).")
    warmup_s: float = Field(default=2.0, ge=0, le=30, description="fixed mode only.")
    duration_s: float = Field(default=5.0, ge=1, le=60, description="Measured, per direction.")
    idle_probes: int = Field(default=10, ge=1, le=1000, description="Probes before load.")
    interval_s: float = Field(default=0.1, ge=0.01, le=5, description="Between probes.")
    trim_percentile: float = Field(default=90.0, gt=0, le=100, description="Trimmed mean.")
    stability_interval_s: float = Field(default=1.0, ge=0.2, le=5, description="draft: ID.")
    max_duration_s: float = Field(
        default=20.0, ge=1, le=60, description="draft: MTD, per direction."
    )
    max_parallel: int = Field(default=16, ge=1, le=64, description="draft: MNP.")
    add_parallel: int = Field(default=4, ge=1, le=16, description="draft: added per interval.")
    mad: int = Field(default=4, ge=2, le=20, description="draft: moving-average distance.")
    sdt_pct: float = Field(default=5.0, gt=0, le=50, description="draft: std-dev tolerance, %.")
    timeout_s: float = Field(default=5.0, gt=0, le=60, description="Per probe.")
    insecure: bool = Field(default=False, description="Do not verify TLS certificates.")
    family: Family = "any"

    @model_validator(mode="after")
    def _draft_needs_http(self) -> Self:
        if self.mode == "draft":
            if self.load != "http":
                raise ValueError("mode draft needs load http (an iperf3 child cannot add streams)")
            if self.parallel > self.max_parallel:
                raise ValueError(
                    f"parallel {self.parallel} exceeds max_parallel {self.max_parallel}"
                )
            if self.max_duration_s < self.stability_interval_s:
                raise ValueError("max_duration_s must be at least one stability_interval_s")
        return self


class _Run:
    """One rpm run's state: config, TLS context, samples."""

    def __init__(self, options: RpmOptions, base: Url) -> None:
        self.options, self.base = options, base
        self.tls = tls_context(options.insecure, None) if base.scheme == "https" else None
        self.samples: list[Sample] = []
        self.intervals: list[Sample] = []  # draft mode: one per interval, kept ahead of the rest
        self.emit: progress.EventSink = lambda event: None  # live lines, when someone listens

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
            if resp.status != 200:
                raise OSError(f"{url} answered HTTP {resp.status} {resp.reason}")
            body = resp.read(65_536)
        except http.client.HTTPException as exc:
            why = " ".join(str(exc).split())
            raise OSError(f"{url} did not answer HTTP ({type(exc).__name__}: {why})") from None
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

    def probe_until(
        self, small: Url, direction: Direction, load: Load, end: float, into: Series
    ) -> None:
        """A foreign probe every ``interval_s`` and a self sample from every load connection
        until the monotonic time ``end`` (a probe under way may overrun it by its timeout)."""
        interval = self.options.interval_s
        while (now := time.monotonic()) < end:
            self.foreign(small, direction, into)
            for rtt in load.self_rtts_ms():
                into.own.append(rtt)
                self.samples.append({"phase": direction, "kind": "self", "rtt_ms": rtt})
            pause = min(interval - (time.monotonic() - now), end - time.monotonic())
            time.sleep(max(0.0, pause))

    def measure_fixed(self, small: Url, direction: Direction, load: Load) -> Series:
        """Warm up, then foreign probes and self samples for ``duration_s`` seconds."""
        series = Series()
        time.sleep(self.options.warmup_s)
        load.mark()
        self.probe_until(small, direction, load, time.monotonic() + self.options.duration_s, series)
        return series

    def measure_draft(
        self, small: Url, direction: Direction, load: Load
    ) -> tuple[Series, WorkingConditions, float]:
        """The draft's ramp-up (see the module doc): the probes of the last MAD intervals, the
        tracker with every interval's figures, and the seconds spent under load."""
        opts = self.options
        mad = opts.mad
        tracker = WorkingConditions(mad, opts.sdt_pct / 100, opts.add_parallel, opts.max_parallel)
        buckets: list[Series] = []
        start = last = time.monotonic()
        deadline = start + opts.max_duration_s
        load.mark()
        moved = load.delivered_bytes()
        while True:
            bucket = Series()
            end = min(last + opts.stability_interval_s, deadline)
            self.probe_until(small, direction, load, end, bucket)
            now, total = time.monotonic(), load.delivered_bytes()
            goodput = (total - moved) * 8 / max(now - last, 1e-6) / 1e6
            buckets = [*buckets[-(mad - 1):], bucket]  # fmt: skip
            window = merged(buckets)
            latency = bufferbloat.probe_latency_ms(
                window.tcp, window.http, window.own, opts.trim_percentile
            )
            rpm = bufferbloat.rpm(latency)
            decision = tracker.add_interval(goodput, rpm, load.connections)
            step = tracker.intervals[-1]
            self.intervals.append({
                "phase": direction, "kind": "interval", "index": step.index,
                "connections": step.connections, "goodput_mbps": round(goodput, 3),
                "goodput_avg_mbps": round(step.goodput_avg_mbps, 3), "rpm": _round(rpm),
                "goodput_stable": step.goodput_stable, "rpm_stable": step.rpm_stable,
            })  # fmt: skip
            self.emit(progress.Interval(direction, {"connections_count": step.connections,
                      "goodput_mbps": goodput, "responsiveness_rpm": _round(rpm)}))  # fmt: skip
            if decision.done or now >= deadline or load.all_stopped():
                return window, tracker, now - start
            load.add(decision.add)
            last, moved = now, total


def _with_path(url: Url, path: str) -> Url:
    return Url(url.scheme, url.host, url.port, path)


class RpmProbe(Probe[RpmOptions]):
    """Idle and loaded latency, responsiveness (RPM) and bufferbloat grade."""

    name = "rpm"
    options_model = RpmOptions
    summary = "Responsiveness under load (RPM), latency increase per direction, bufferbloat grade"

    def run(self, options: RpmOptions, context: RunContext | None = None) -> Result:
        """Latency in ms idle and under load, RPM in round trips per minute, grade A+ … F."""
        rec = Recording(self.kind, options, context)
        run = _Run(options, parse_url(options.target))
        run.emit = rec.emit
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
        info: dict[str, Scalar] = {
            "load": options.load,
            "mode": options.mode,
            "small_url": str(small),
        }
        problems: list[str] = []
        idle_ms = bufferbloat.probe_latency_ms(idle.tcp, idle.http, idle.own, p)
        metrics.update(
            idle_latency_ms=idle_ms, idle_responsiveness_rpm=_round(bufferbloat.rpm(idle_ms))
        )
        metrics.update(stats.series_metrics("idle_http", idle.http, figures=("min", "avg", "max")))
        metrics["idle_self_ms"] = bufferbloat.trimmed_mean(idle.own, p)
        figures = ("idle_latency_ms", "idle_responsiveness_rpm")
        rec.emit(progress.Interval("idle", {k.removeprefix("idle_"): metrics[k] for k in figures}))
        if idle_ms is None:
            for conn in warm:
                conn.close()
            return rec.finish(
                status=Status.FAILED, metrics=metrics, samples=run.samples, info=info,
                error=f"No idle probe succeeded: {idle.last_error}.",
            )  # fmt: skip
        pooled = Series()
        increases: list[float] = []
        notes: list[str] = []  # worth saying, but no failure (a figure that did not settle)
        for step, direction in enumerate(options.directions, start=2):
            try:
                load = Load(
                    options, config, direction, warm, run.tls_for, run.base.host.name,
                    options.warmup_s + options.duration_s,
                )  # fmt: skip
                warm = []
            except (OSError, ValueError) as exc:
                problems.append(f"{direction} load could not start: {exc}")
                continue
            try:
                if options.mode == "draft":
                    series, tracker, seconds = run.measure_draft(_busted(small), direction, load)
                else:
                    series = run.measure_fixed(_busted(small), direction, load)
                    tracker, seconds = None, 0.0
            except BaseException as exc:
                load.stop(cancel=True)
                if not isinstance(exc, KeyboardInterrupt):
                    raise
                rec.interrupt(exc)  # Ctrl-C: the directions measured so far are the record
                break
            died = load.all_stopped()  # every load connection gave up before the end
            load.stop()
            loaded = bufferbloat.probe_latency_ms(series.tcp, series.http, series.own, p)
            increase = None if loaded is None else loaded - idle_ms
            if increase is not None:
                increases.append(increase)
            mbps = load.mbps if tracker is None else tracker.goodput_mbps() or None
            if tracker is not None and mbps is None and not load.error:
                problems.append(f"{direction} load delivered nothing in its last intervals")
            metrics.update({
                f"{direction}_loaded_latency_ms": loaded,
                f"{direction}_latency_increase_ms": increase,
                f"{direction}_responsiveness_rpm": _round(bufferbloat.rpm(loaded)),
                f"{direction}_self_rtt_ms": bufferbloat.trimmed_mean(series.own, p),
                f"{direction}_throughput_mbps": mbps,
                f"{direction}_probe_failed_count": series.failed,
                f"{direction}_load_connections_count": load.connections,
            })  # fmt: skip
            rec.emit(progress.Interval(direction, {k: metrics[f"{direction}_{k}"] for k in (
                "loaded_latency_ms", "responsiveness_rpm", "throughput_mbps")}))  # fmt: skip
            info[f"{direction}_grade"] = bufferbloat.grade(increase)
            if tracker is not None:
                metrics[f"{direction}_intervals_count"] = len(tracker.intervals)
                metrics[f"{direction}_loaded_duration_s"] = round(seconds, 3)
                info.update({
                    f"{direction}_goodput_stable": tracker.goodput_stable,
                    f"{direction}_rpm_stable": tracker.rpm_stable,
                    f"{direction}_goodput_confidence": tracker.goodput_confidence(),
                    f"{direction}_rpm_confidence": tracker.rpm_confidence(),
                })  # fmt: skip
                if not tracker.done and not died:
                    what, how = (
                        ("responsiveness", tracker.rpm_confidence())
                        if tracker.goodput_stable
                        else ("goodput", tracker.goodput_confidence())
                    )
                    notes.append(
                        f"{direction}: {what} was not stable within {options.max_duration_s:g} s "
                        f"(confidence {how}); figures are from the last {options.mad} intervals"
                    )
            if load.error:
                problems.append(f"{direction} load: {load.error}")
            if loaded is None:
                problems.append(f"no probe succeeded under {direction} load: {series.last_error}")
            pooled.extend(series)
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
            notes.append("iperf3 load gives no self samples: loaded latency is foreign only")
        error = "; ".join(problems + notes) + "." if problems or notes else None
        if error is None and any(v is None for v in metrics.values()):
            error = "Some figures are null: no sample of that kind was taken."
        return rec.finish(
            status=status, metrics=metrics, error=error, samples=run.intervals + run.samples,
            info=info,
        )  # fmt: skip


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
