"""A load run as a record of the one result model (kind ``load.locust``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from waddleperf.load.runner import LoadOutcome, LoadPlan
from waddleperf.probes.base import RunContext
from waddleperf.profiling.summary import profile_metrics
from waddleperf.results import MetricValue, Result, Status, new_run_id
from waddleperf.results.model import Scalar, default_agent

KIND = "load.locust"
#: Above this error rate (percent) a run is degraded rather than ok.
DEGRADED_ERROR_PCT = 1.0
#: Progress snapshots kept in the record (one a second: ten minutes).
MAX_SAMPLES = 600
#: Who runs a load run outside the agent: nobody's run id yet, tier 3 (the tier that loads).
STANDALONE = RunContext(tier=3)


def load_metrics(summary: Mapping[str, Any]) -> dict[str, float]:
    """Throughput, error rate and exact latency metrics from the Locust summary.

    ``throughput_rps`` is requests over the measured run time (test start to stop, seconds);
    latencies are the merged HdrHistogram's, in milliseconds.
    """
    requests = int(summary.get("requests", 0))
    failures = int(summary.get("failures", 0))
    duration = max(1e-9, float(summary.get("finished_at", 0)) - float(summary.get("started_at", 0)))
    metrics: dict[str, float] = {
        "requests_count": requests,
        "failures_count": failures,
        "error_rate_pct": round(100.0 * failures / requests, 3) if requests else 0.0,
        "throughput_rps": round(requests / duration, 3),
        "run_s": round(duration, 3),
        "workers_count": int(summary.get("workers", 1)),
    }
    for name, value in dict(summary.get("latency", {})).items():
        key = "latency_samples_count" if name == "latency_count" else name
        metrics[key] = value
    return metrics


def _status(
    plan: LoadPlan, outcome: LoadOutcome, metrics: Mapping[str, MetricValue]
) -> tuple[Status, str | None]:
    if outcome.summary is None:
        tail = outcome.log_tail().strip().splitlines()[-3:]
        return Status.FAILED, "Locust wrote no summary: " + (" | ".join(tail) or "no output")
    requests = metrics.get("requests_count")
    if not requests:
        return Status.FAILED, f"no request reached {plan.host}"
    failures = metrics.get("failures_count") or 0
    if failures >= requests:
        # Latency and throughput of nothing but errors measure the errors, not the target.
        common = most_common_error(outcome.summary.get("errors", ()))
        return Status.FAILED, (
            f"every one of the {int(requests)} requests to {plan.host} failed"
            + (f" (most often: {common})" if common else "")
        )
    if outcome.timed_out:
        return Status.DEGRADED, "the run overran its time limit and was stopped"
    pct = metrics.get("error_rate_pct") or 0.0
    if pct > DEGRADED_ERROR_PCT:
        return Status.DEGRADED, f"{pct}% of requests failed (limit {DEGRADED_ERROR_PCT}%)"
    return Status.OK, None


def most_common_error(errors: Sequence[Mapping[str, Any]]) -> str | None:
    """``name: error ×N`` of the error Locust saw most often, from the summary's
    ``errors`` list (entries with ``name``, ``error``, ``occurrences``); None without one."""
    if not errors:
        return None
    top = max(errors, key=lambda e: int(e.get("occurrences", 0)))
    return f"{top.get('name', '?')}: {top.get('error', '?')} ×{int(top.get('occurrences', 0))}"


def exit_code(record: Result) -> int:
    """The exit status of ``waddleperf load run`` for its record: 0 when the run measured
    the target (status ok or degraded), 1 when it did not — Locust wrote no summary, no
    request reached the target, or every request failed (status failed)."""
    return 1 if record.status is Status.FAILED else 0


def during_load(
    samples: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any] | None,
    interval_s: float = 1.0,
) -> list[dict[str, Any]]:
    """The samples that describe the load: each covers the time since its source's previous
    sample (``interval_s`` for a source's first), and is kept when at least half of that lies
    inside Locust's run, so start-up and shutdown idle do not dilute averages. All samples when
    the window is unknown (or none falls in it)."""
    if not summary or "started_at" not in summary or "finished_at" not in summary:
        return [dict(s) for s in samples]
    lo, hi = float(summary["started_at"]), float(summary["finished_at"])
    previous: dict[str, float] = {}
    kept = []
    for sample in sorted(samples, key=lambda s: float(s.get("time", lo))):
        end = float(sample.get("time", lo))
        key = str(sample.get("source", ""))
        start = previous.get(key, end - interval_s)
        previous[key] = end
        inside = min(end, hi) - max(start, lo)
        if end <= start or inside >= (end - start) / 2:
            kept.append(dict(sample))
    return kept or [dict(s) for s in samples]


def _params(plan: LoadPlan) -> dict[str, Any]:
    opts = plan.options
    return {
        "profile": asdict(plan.profile),
        "user": opts.user,
        "user_class": opts.user_class,
        "shape": opts.shape,
        "rate_per_s": opts.rate,
        "open_model": opts.rate is not None,
        "wait_s": list(opts.wait_s) if opts.wait_s else None,
        "workers": plan.worker_count,
        "role": plan.role,
        "coordinated_omission_corrected": opts.rate is not None,
    }


def _scalar_samples(snapshots: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    keep = (str, int, float, bool, type(None))
    return [{k: v for k, v in s.items() if isinstance(v, keep)} for s in snapshots[:MAX_SAMPLES]]


def to_record(
    plan: LoadPlan,
    outcome: LoadOutcome,
    profile_samples: Sequence[Mapping[str, Any]] = (),
    context: RunContext = STANDALONE,
    info: Mapping[str, Scalar] | None = None,
) -> Result:
    """The result record of one load run (profiling summaries included as metrics).

    ``context`` is who asked for the run (agent, tier, run id; a new run id when it has none)
    and ``info`` what they call it: the record is made with both, never patched afterwards.
    """
    metrics: dict[str, MetricValue] = {
        **load_metrics(outcome.summary or {}),
        **profile_metrics(during_load(profile_samples, outcome.summary)),
    }
    if outcome.generator_cpu_s is not None:
        # CPU seconds of this host's Locust processes, exact (kernel accounting)
        metrics["generator_cpu_s"] = outcome.generator_cpu_s
    status, error = _status(plan, outcome, metrics)
    raw = dict(outcome.summary or {})
    raw["returncodes"] = dict(outcome.returncodes)
    return Result(
        kind=KIND,
        target=plan.host,
        started_at=datetime.fromtimestamp(outcome.started_at, UTC),
        finished_at=datetime.fromtimestamp(outcome.finished_at, UTC),
        agent=context.agent or default_agent(),
        tier=context.tier,
        run_id=context.run_id or new_run_id(),
        params=_params(plan),
        info=dict(info or {}),
        metrics=metrics,
        samples=_scalar_samples(outcome.progress),
        status=status,
        error=error,
        raw=raw,
    )
