"""Real load runs of ``waddleperf load`` against both targets on loopback (SQLite).

Each run lasts 5–6 s with a handful of users; Locust runs in the CLI's child processes only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.load.conftest import CLI_TIMEOUT_S, WADDLEPERF, waddleperf
from tests.support.net import free_port
from tests.support.schemas import validate_profiling_line, validate_record
from tests.support.targets import Running
from waddleperf.load.hdr import PERCENTILE_METRICS
from waddleperf.results import Result, Status

pytestmark = pytest.mark.slow

SMALL = ["--users", "4", "--spawn-rate", "4", "--duration", "5", "--wait", "0.05,0.2"]


def _record(directory: Path) -> Result:
    """The run's load.locust record, checked against docs/result.schema.json as written, and
    its k6 profile lines (when profiled) against docs/profiling.schema.json."""
    text = (directory / "result.json").read_text()
    validate_record(json.loads(text))
    profile = directory / "profile.ndjson"
    if profile.exists():
        for line in profile.read_text().splitlines():
            validate_profiling_line(json.loads(line))
    return Result.from_json(text)


def _load_run(
    host: str, args: list[str], out: Path, cwd: Path
) -> tuple[subprocess.CompletedProcess[str], Result]:
    """``waddleperf load run --host HOST ARGS --out OUT``, which must succeed; and its record."""
    res = waddleperf(["load", "run", "--host", host, *args, "--out", str(out)], cwd)
    assert res.returncode == 0, res.stderr[-3000:]
    return res, _record(out)


def _m(rec: Result) -> dict[str, float]:
    """The record's metrics that have a value (None means unmeasured)."""
    return {k: float(v) for k, v in rec.metrics.items() if v is not None}


def _check_latencies(rec: Result) -> None:
    m = _m(rec)
    # every request Locust counted is in the merged HdrHistogram, exactly once
    assert m["latency_samples_count"] == m["requests_count"]
    order = [m[k] for k in ("latency_min_ms", *PERCENTILE_METRICS, "latency_max_ms")]
    assert order == sorted(order), order


@pytest.mark.parametrize("framework", ["django", "flask"])
def test_web_user_run_against_each_target(
    framework: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    target: Running = request.getfixturevalue(f"{framework}_target")
    out = tmp_path / "run"
    res, rec = _load_run(
        target.url,
        [
            *SMALL,
            "--target-port",
            str(target.port),
            # plots cost seconds of CPU; drawing them once (flask) is enough
            "--plots" if framework == "flask" else "--no-plots",
        ],
        out,
        tmp_path,
    )
    assert rec.status is Status.OK, rec.error
    assert rec.kind == "load.locust" and rec.target == target.url
    m = _m(rec)
    assert m["requests_count"] >= 40 and m["error_rate_pct"] == 0
    assert m["throughput_rps"] > 5
    _check_latencies(rec)
    assert m["target_cpu_avg_pct"] > 0 and m["target_rss_max_mb"] > 20
    assert m["generator_cpu_max_pct"] > 0
    assert isinstance(rec.raw, dict)
    names = set(rec.raw["endpoints"])
    assert {"GET /", "GET /api/data/", "POST /api/task/", "POST /api/error/"} <= names
    assert rec.samples, "progress snapshots are kept"
    lines = [json.loads(x) for x in (out / "profile.ndjson").read_text().splitlines()]
    assert {x["type"] for x in lines} == {"Metric", "Point"}
    assert {x["data"]["tags"]["target"] for x in lines if x["type"] == "Point"} >= {
        "target",
        "generator",
        "system",
    }
    for png in ("profile-target.png", "profile-generator.png", "profile-comparison.png"):
        assert framework == "django" or (out / png).stat().st_size > 10_000
    assert "req=" in res.stderr  # progress was shown while it ran


def test_distributed_master_and_two_workers(flask_target: Running, tmp_path: Path) -> None:
    port = free_port()
    master = subprocess.Popen(
        [
            WADDLEPERF,
            "load",
            "run",
            "--host",
            flask_target.url,
            "--master",
            "--expect-workers",
            "2",
            "--master-port",
            str(port),
            *SMALL,
            "--no-plots",
            "--out",
            str(tmp_path / "m"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    workers = [
        subprocess.Popen(
            [
                WADDLEPERF,
                "load",
                "run",
                "--worker",
                "--master-host",
                "127.0.0.1",
                "--master-port",
                str(port),
                "--out",
                str(tmp_path / f"w{i}"),
            ],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(2)
    ]
    try:
        _, err = master.communicate(timeout=CLI_TIMEOUT_S)
        codes = [w.wait(timeout=30) for w in workers]
    finally:
        procs: list[subprocess.Popen[Any]] = [master, *workers]
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert master.returncode == 0, err[-3000:]
    assert codes == [0, 0]
    rec = _record(tmp_path / "m")
    assert rec.status is Status.OK, rec.error
    assert rec.metrics["workers_count"] == 2 and rec.params["role"] == "master"
    _check_latencies(rec)


def test_open_model_constant_arrival_rate(flask_target: Running, tmp_path: Path) -> None:
    out = tmp_path / "rate"
    res, rec = _load_run(
        flask_target.url,
        ["--json", "--rate", "40", "--duration", "6", "--workers", "2", "--no-plots"],
        out,
        tmp_path,
    )
    validate_record(json.loads(res.stdout))
    assert Result.from_json(res.stdout) == rec  # --json: stdout is exactly the record
    assert rec.params["open_model"] is True and rec.params["coordinated_omission_corrected"]
    assert rec.params["user_class"] == "ArrivalRateUser"
    # 40 requests/s for ~6 s, whatever the responses do
    assert 180 <= _m(rec)["requests_count"] <= 300, rec.metrics
    assert rec.metrics["workers_count"] == 2
    _check_latencies(rec)


def test_compare_django_with_flask_then_a_baseline_regression(
    django_target: Running, flask_target: Running, tmp_path: Path
) -> None:
    out = tmp_path / "cmp"
    lenient = ["--rule", "avg=1000", "--rule", "p95=1000", "--rule", "errors=1000"]
    res = waddleperf(
        [
            "load",
            "compare",
            "--a",
            django_target.url,
            "--a-name",
            "django",
            "--a-port",
            str(django_target.port),
            "--b",
            flask_target.url,
            "--b-name",
            "flask",
            "--b-port",
            str(flask_target.port),
            *SMALL,
            *lenient,
            "--out",
            str(out),
        ],
        tmp_path,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    report = json.loads((out / "comparison.json").read_text())
    rows = {r["metric"]: r for r in report["rows"]}
    for key in (
        "throughput_rps",
        "latency_p95_ms",
        "error_rate_pct",
        "target_cpu_avg_pct",
        "target_rss_max_mb",
    ):
        assert rows[key]["a"] is not None and rows[key]["b"] is not None, key
    assert report["regressions"] == [] and report["overhead"]["rss_overhead_mb"] is not None
    assert (out / "comparison.png").stat().st_size > 10_000
    assert "no regression" in res.stdout
    strict = waddleperf(
        [
            "load",
            "compare",
            "--baseline",
            str(out / "a" / "result.json"),
            "--b",
            flask_target.url,
            *SMALL,
            "--rule",
            "avg=0.001",
            "--no-plots",
            "--out",
            str(tmp_path / "strict"),
        ],
        tmp_path,
    )
    assert strict.returncode == 1, strict.stdout[-2000:] + strict.stderr[-2000:]
    assert "REGRESSION" in strict.stdout


def test_locust_never_loads_into_the_cli_process() -> None:
    code = (
        "import sys, waddleperf.cli, waddleperf.cli.load; "
        "print(any(m.split('.')[0] in ('locust', 'gevent', 'matplotlib') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_step_shape_moves_the_user_count(flask_target: Running, tmp_path: Path) -> None:
    out = tmp_path / "step"
    _, rec = _load_run(
        flask_target.url,
        [
            "--shape",
            "step",
            "--users",
            "8",
            "--spawn-rate",
            "50",
            "--duration",
            "6",
            "--wait",
            "0.1,0.3",
            "--no-plots",
        ],
        out,
        tmp_path,
    )
    users = [int(s["users"] or 0) for s in rec.samples or [] if s.get("elapsed_s")]
    # 4 steps of 1.5 s: 2, 4, 6, 8 users; snapshots come once a second, so allow one missed
    assert max(users) >= 6 and 0 < min(users) <= 4, users
    assert users == sorted(users), users
