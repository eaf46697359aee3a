"""Fakes for the agent's I/O: probes answering from a table, a load runner, a config."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from waddleperf.autoperf import config
from waddleperf.autoperf.loadrun import LOAD_KIND, LoadJob, LoadOutcome
from waddleperf.autoperf.plan import Step
from waddleperf.probes.base import RunContext
from waddleperf.results.model import Result, Scalar, Status, utc_now

#: Healthy figures per probe kind (well inside the default thresholds), one per metric a
#: threshold rule watches: tests/unit/autoperf/test_rule_metrics.py checks the keys against
#: policy.TIER1_RULES/TIER2_RULES, and those against what the probes really emit.
HEALTHY: dict[str, dict[str, float]] = {
    "icmp": {"rtt_avg_ms": 1.0, "loss_pct": 0.0, "jitter_ms": 0.1},
    "udp": {"rtt_avg_ms": 1.0, "loss_pct": 0.0, "jitter_ms": 0.1},
    "tcp": {"connect_avg_ms": 1.0, "failure_pct": 0.0},
    "http": {"total_avg_ms": 5.0, "failure_pct": 0.0},
    "dns": {"query_avg_ms": 2.0},
    "iperf": {"received_throughput_mbps": 900.0},
    "speedtest": {"download_throughput_mbps": 900.0},
}


class FakeProbes:
    """``probe(step, ctx)``: healthy figures overridden by ``figures[step.name]``."""

    def __init__(self) -> None:
        self.figures: dict[str, dict[str, float]] = {}
        #: ``info`` of every record answered
        self.info: dict[str, str] = {}
        self.hang: set[str] = set()
        self.calls: list[Step] = []
        self.lock = threading.Lock()

    def __call__(self, step: Step, ctx: RunContext) -> Result:
        with self.lock:
            self.calls.append(step)
        if step.name in self.hang:
            time.sleep(30)
        now = utc_now()
        metrics: dict[str, float | int | None] = {
            **HEALTHY.get(step.probe, {}),
            **self.figures.get(step.name, {}),
        }
        return Result(
            kind=f"probe.{step.probe}", target=step.target, started_at=now, finished_at=now,
            agent=ctx.agent or "x", tier=ctx.tier, run_id=ctx.run_id or "x",
            metrics=metrics, info=dict(self.info), status=Status.OK,
        )  # fmt: skip

    def names(self, tier: int) -> list[str]:
        return [s.name for s in self.calls if s.tier == tier]


class FakeLoad:
    """Records load jobs; answers with an ok ``load.run`` record and two profiler samples."""

    def __init__(self) -> None:
        self.jobs: list[LoadJob] = []
        self.contexts: list[RunContext] = []

    def __call__(
        self,
        job: LoadJob,
        directory: Path,
        stop: threading.Event,
        timeout_s: float,
        context: RunContext,
        info: Mapping[str, Scalar],
    ) -> LoadOutcome:
        self.jobs.append(job)
        self.contexts.append(context)
        now = utc_now()
        record = Result(kind=LOAD_KIND, target=job.url, started_at=now, finished_at=now,
                        agent=context.agent or "x", tier=context.tier,
                        run_id=context.run_id or "x", info=dict(info),
                        metrics={"throughput_rps": 50.0}, status=Status.OK)  # fmt: skip
        samples = [{"source": "target", "time": time.time(), "cpu_pct": 12.5, "rss_mb": 40.0}]
        return LoadOutcome(record, samples, None)


def make_config(tmp: Path, **sections: Any) -> config.AutoPerfConfig:
    """The embedded defaults with test-friendly tiers, spool in ``tmp``, sections merged in."""
    doc: dict[str, Any] = {
        "servers": [{"name": "lo", "host": "127.0.0.1", "dns_name": "lo.test",
                     "dns_resolvers": ["127.0.0.1:1"]}],
        "targets": [{"name": "flask", "url": "http://127.0.0.1:9", "stats_server": "lo"}],
        "tiers": {"interval_s": 0.05, "jitter_pct": 0,
                  "tier2": {"probes": ["udp", "iperf"]},
                  "tier3": {"probes": [{"probe": "iperf", "label": "iperf_down",
                                        "options": {"reverse": True}}]}},
        "hysteresis": {"cooldown_s": 0},
        "storage": {"spool_dir": str(tmp / "spool")},
    }  # fmt: skip
    for key, value in sections.items():
        base = doc.get(key)
        doc[key] = {**base, **value} if isinstance(base, dict) else value
    user = tmp / "autoperf.yml"
    user.write_text(yaml.safe_dump(doc))
    return config.load(user_file=user, environ={})
