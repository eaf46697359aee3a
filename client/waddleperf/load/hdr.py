"""Exact latency percentiles: HdrHistogram recording, merging and coordinated-omission correction.

Locust buckets response times (two significant digits above 100 ms), so its percentiles are
rounded. Every Locust process of a run also records each request's latency, in microseconds,
into an HdrHistogram (three significant digits); workers ship encoded histograms to the
master, which adds them. All functions here are pure apart from the histogram they mutate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

#: Lowest and highest trackable latency, microseconds (1 µs .. 1 hour), and precision.
LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3

#: The percentiles every report carries, with the metric name each becomes.
PERCENTILES: Mapping[str, float] = {
    "p50_ms": 50.0,
    "p90_ms": 90.0,
    "p95_ms": 95.0,
    "p99_ms": 99.0,
    "p99_9_ms": 99.9,
}
#: The metric names of :data:`PERCENTILES` in a record, lowest percentile first.
PERCENTILE_METRICS: tuple[str, ...] = tuple(f"latency_{name}" for name in PERCENTILES)


def new_histogram() -> HdrHistogram:
    """An empty histogram of latencies in microseconds."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def record_us(hist: HdrHistogram, latency_us: float) -> None:
    """Record one latency (microseconds), clamped into the trackable range."""
    value = min(max(round(latency_us), LOWEST_US), HIGHEST_US)
    hist.record_value(value)


def encode(hist: HdrHistogram) -> str:
    """The histogram in HdrHistogram's portable base64 form (what workers send)."""
    raw: bytes = hist.encode()
    return raw.decode("ascii")


def add_encoded(total: HdrHistogram, encoded: str) -> None:
    """Add an encoded histogram (one worker's report) into ``total``."""
    if not encoded:
        return
    part = HdrHistogram.decode(encoded.encode("ascii"))
    # an empty histogram would drag the merged minimum down to 0
    if part.get_total_count():
        total.add(part)


def merge(encoded: Iterable[str]) -> HdrHistogram:
    """One histogram holding every sample of the encoded histograms (from all workers)."""
    total = new_histogram()
    for item in encoded:
        add_encoded(total, item)
    return total


def corrected_latency_us(intended_send_s: float, start_s: float, response_ms: float) -> float:
    """Latency of a request measured from when it *should* have been sent, in microseconds.

    In constant-arrival-rate mode a request that leaves late (because the generator was blocked
    behind a slow response) would hide the server's stall; counting from the intended send time
    puts that waiting back into the latency (coordinated-omission correction). Never less than
    the measured service time.
    """
    measured_us = response_ms * 1000.0
    completed_s = start_s + response_ms / 1000.0
    return max(measured_us, (completed_s - intended_send_s) * 1_000_000.0)


def intended_send_time(t0_s: float, rate_per_s: float, index: int) -> float:
    """When the ``index``-th request of a constant-rate schedule starting at ``t0_s`` is due (s)."""
    if rate_per_s <= 0:
        raise ValueError(f"rate must be positive, got {rate_per_s}")
    return t0_s + index / rate_per_s


def summarize(hist: HdrHistogram) -> dict[str, float]:
    """Latency metrics in milliseconds (count is a plain number) from a microsecond histogram."""
    count = int(hist.get_total_count())
    if count == 0:
        return {"latency_count": 0}
    out: dict[str, float] = {"latency_count": count}
    out["latency_avg_ms"] = round(float(hist.get_mean_value()) / 1000.0, 3)
    out["latency_min_ms"] = round(float(hist.get_min_value()) / 1000.0, 3)
    for name, pct in PERCENTILES.items():
        out[f"latency_{name}"] = round(float(hist.get_value_at_percentile(pct)) / 1000.0, 3)
    out["latency_max_ms"] = round(float(hist.get_max_value()) / 1000.0, 3)
    return out
