"""The Locust file of ``waddleperf load``: user classes, the shape, and exact-latency recording.

Loaded only by a Locust process (``python -m locust -f <this file>``): importing locust
monkey-patches the whole process with gevent, so nothing else may import this module.

Every request's latency (microseconds) goes into an HdrHistogram; workers ship theirs to the
master with each stats report, the master (or the single local process) merges them and
writes a summary JSON at exit. In constant-arrival-rate mode latency counts from the intended
send time (coordinated-omission correction, see ``hdr.corrected_latency_us``).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import gevent
import gevent.pool
from locust import LoadTestShape, between, constant, events, task
from locust.argument_parser import LocustArgumentParser
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment
from locust.event import EventHook
from locust.runners import MasterRunner, WorkerRunner

from waddleperf.load import hdr, profiles

# Endpoint mix of the web user: (weight, method, path, name). Homepage 40, data 30, task 20,
# error 10 — the error endpoint always answers 500 by design, so a JSON 500 counts as success.
WEB_MIX: tuple[tuple[int, str, str, str], ...] = (
    (40, "GET", "/", "/"),
    (30, "GET", "/api/data/", "/api/data/"),
    (20, "POST", "/api/task/", "/api/task/"),
    (10, "POST", "/api/error/", "/api/error/"),
)
EXPECTED_ERROR_PATH = "/api/error/"

_hist = hdr.new_histogram()
#: On the master: the sum of every worker report so far (merged as they arrive, so memory
#: stays one histogram however long the run).
_from_workers = hdr.new_histogram()
_times: dict[str, float] = {}
#: Most workers seen connected at once (they have all left by the time the summary is written).
_peak_workers = [0]
_envs: list[Environment] = []


def _add_arguments(parser: LocustArgumentParser) -> None:
    # Custom arguments travel from the master to every worker with each spawn message, so a
    # remote worker needs nothing but --master-host.
    parser.add_argument("--wp-shape", default="constant", choices=profiles.SHAPES)
    parser.add_argument("--wp-users", type=int, default=1)
    parser.add_argument("--wp-spawn-rate", type=float, default=1.0)
    parser.add_argument("--wp-duration", type=float, default=10.0)
    parser.add_argument("--wp-rate", type=float, default=0.0, help="open model: requests/s")
    parser.add_argument("--wp-wait", default="0.5,1.5", help="think time min,max in seconds")
    parser.add_argument("--wp-path", default="/", help="EndpointUser: the one path it requests")
    parser.add_argument("--wp-out", default="", help="summary JSON written at exit")
    parser.add_argument("--wp-progress", default="", help="progress JSON rewritten each second")


def _option(env: Environment, name: str, default: Any) -> Any:
    opts = env.parsed_options
    return getattr(opts, name, default) if opts is not None else default


def _wait_bounds(env: Environment) -> tuple[float, float]:
    lo, _, hi = str(_option(env, "wp_wait", "0.5,1.5")).partition(",")
    low = float(lo or 0)
    return low, float(hi or low)


def _on_request(
    response_time: float,
    context: dict[str, Any] | None = None,
    start_time: float | None = None,
    **_: Any,
) -> None:
    intended = (context or {}).get("intended_send")
    if intended is not None and start_time is not None:
        hdr.record_us(_hist, hdr.corrected_latency_us(float(intended), start_time, response_time))
    else:
        hdr.record_us(_hist, response_time * 1000.0)


def _ship_histogram(client_id: str, data: dict[str, Any], **_: Any) -> None:
    # Delta shipping: what was sent is reset, so the master's sum counts each sample once.
    data["wp_hdr"] = hdr.encode(_hist)
    _hist.reset()


def _collect_histogram(client_id: str, data: dict[str, Any], **_: Any) -> None:
    hdr.add_encoded(_from_workers, str(data.get("wp_hdr") or ""))


def _is_coordinator(env: Environment) -> bool:
    return not isinstance(env.runner, WorkerRunner)


def _write_json(path: str, payload: dict[str, Any]) -> None:
    tmp = Path(path + ".tmp")
    tmp.write_text(json.dumps(payload))
    tmp.replace(path)


def _worker_count(env: Environment) -> int:
    count = len(env.runner.clients) if isinstance(env.runner, MasterRunner) else 1
    _peak_workers[0] = max(_peak_workers[0], count)
    return count


def _progress_loop(env: Environment, path: str) -> None:
    while True:
        total = env.stats.total
        _write_json(
            path,
            {
                "elapsed_s": round(time.time() - _times.get("start", time.time()), 1),
                "users": env.runner.user_count if env.runner else 0,
                "requests": total.num_requests,
                "failures": total.num_failures,
                "current_rps": round(total.current_rps, 1),
                "workers": _worker_count(env),
            },
        )
        gevent.sleep(1.0)


def _on_test_start(environment: Environment, **_: Any) -> None:
    _times.setdefault("start", time.time())
    _envs[:] = [environment]
    _worker_count(environment)
    path = str(_option(environment, "wp_progress", ""))
    if path and _is_coordinator(environment) and "progress" not in _times:
        _times["progress"] = 1.0
        gevent.spawn(_progress_loop, environment, path)


def _on_spawned(**_: Any) -> None:
    for env in _envs:
        _worker_count(env)


def _on_test_stop(environment: Environment, **_: Any) -> None:
    _times["stop"] = time.time()
    _worker_count(environment)


def _write_summary(environment: Environment, **_: Any) -> None:
    out = str(_option(environment, "wp_out", ""))
    if not out or not _is_coordinator(environment):
        return
    merged = hdr.merge([hdr.encode(_from_workers), hdr.encode(_hist)])
    total = environment.stats.total
    endpoints = {
        f"{entry.method} {entry.name}": {
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "avg_ms": round(entry.avg_response_time, 3),
        }
        for entry in environment.stats.entries.values()
    }
    start = _times.get("start", time.time())
    _write_json(
        out,
        {
            "started_at": start,
            "finished_at": _times.get("stop", time.time()),
            "hdr": hdr.encode(merged),
            "latency": hdr.summarize(merged),
            "requests": total.num_requests,
            "failures": total.num_failures,
            "locust_avg_ms": round(total.avg_response_time, 3),
            "locust_p95_ms": total.get_response_time_percentile(0.95),
            "endpoints": endpoints,
            "errors": [
                {"name": e.name, "error": str(e.error), "occurrences": e.occurrences}
                for e in environment.stats.errors.values()
            ][:20],
            "workers": max(_peak_workers[0], _worker_count(environment)),
        },
    )


class _TargetUser(FastHttpUser):
    """Base of every user: one JSON-aware request helper, expected-500 handling."""

    abstract = True

    def hit(self, method: str, path: str, name: str, context: dict[str, Any] | None = None) -> None:
        """One request; a JSON 500 from the error endpoint is the expected answer."""
        if path != EXPECTED_ERROR_PATH:
            # the plain call: FastHttpSession already counts >= 400 as a failure, and skipping
            # catch_response keeps our per-request cost at plain Locust's
            if context:
                self.client.request(method, path, name=name, context=context)
            else:
                self.client.request(method, path, name=name)
            return
        with self.client.request(
            method, path, name=name, context=context or {}, catch_response=True
        ) as resp:
            if resp.status_code == 500:
                resp.success()
            elif resp.status_code >= 400:
                resp.failure(f"HTTP {resp.status_code}")

    def hit_mix(self, context: dict[str, Any] | None = None) -> None:
        """One request drawn from the web mix by weight."""
        _, method, path, name = random.choices(WEB_MIX, weights=[m[0] for m in WEB_MIX])[0]
        self.hit(method, path, name, context)


class WebUser(_TargetUser):
    """The mixed web user: homepage 40%, data 30%, task 20%, error 10%, with think time."""

    def wait_time(self) -> float:
        lo, hi = _wait_bounds(self.environment)
        return float(between(lo, hi)(self))

    @task(40)
    def homepage(self) -> None:
        self.hit("GET", "/", "/")

    @task(30)
    def data(self) -> None:
        self.hit("GET", "/api/data/", "/api/data/")

    @task(20)
    def queue_task(self) -> None:
        self.hit("POST", "/api/task/", "/api/task/")

    @task(10)
    def error(self) -> None:
        self.hit("POST", "/api/error/", "/api/error/")


class HeavyUser(_TargetUser):
    """No think time, large data pages and task bursts: as much load as one user can make."""

    wait_time = constant(0)

    @task(3)
    def big_page(self) -> None:
        self.hit("GET", "/api/data/?page_size=100", "/api/data/?page_size=100")

    @task(1)
    def task_burst(self) -> None:
        for _ in range(3):
            self.hit("POST", "/api/task/", "/api/task/")


class BurstUser(_TargetUser):
    """Bursts of 10 back-to-back mixed requests, then idle for 2–4 s."""

    wait_time = between(2, 4)

    @task
    def burst(self) -> None:
        for _ in range(10):
            self.hit_mix()


class DatabaseUser(_TargetUser):
    """Database-heavy: random deep pages, inserts and warm-ups, short think time."""

    wait_time = between(0.05, 0.2)

    @task(5)
    def random_page(self) -> None:
        page = random.randint(1, 20)
        self.hit("GET", f"/api/data/?page={page}&page_size=50", "/api/data/?page=N")

    @task(3)
    def insert(self) -> None:
        self.hit("POST", "/api/task/", "/api/task/")

    @task(1)
    def warmup(self) -> None:
        self.hit("GET", "/api/warmup/", "/api/warmup/")


class EndpointUser(_TargetUser):
    """One path (``--wp-path``, GET) as fast as it answers: the benchmark user."""

    wait_time = constant(0)

    @task
    def endpoint(self) -> None:
        path = str(_option(self.environment, "wp_path", "/"))
        self.hit("GET", path, path)


#: In-flight requests one arrival-rate user may have before a late send is forced to wait.
MAX_IN_FLIGHT = 500


class ArrivalRateUser(_TargetUser):
    """Open model: requests leave at a constant rate whatever the responses do.

    The run's total ``--wp-rate`` is split evenly over the ``--wp-users`` instances (one per
    worker process). Latency counts from each request's intended send time.
    """

    concurrency = MAX_IN_FLIGHT
    wait_time = constant(0)

    @task
    def arrivals(self) -> None:
        rate = float(_option(self.environment, "wp_rate", 0.0))
        share = rate / max(1, int(_option(self.environment, "wp_users", 1)))
        if share <= 0:
            raise RuntimeError("ArrivalRateUser needs --wp-rate > 0")
        pool = gevent.pool.Pool(MAX_IN_FLIGHT)
        self._pool = pool
        t0 = time.time()
        index = 0
        while True:
            due = hdr.intended_send_time(t0, share, index)
            delay = due - time.time()
            if delay > 0:
                gevent.sleep(delay)
            pool.spawn(self.hit_mix, {"intended_send": due})
            index += 1

    def on_stop(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.kill(block=False)


class ProfileShape(LoadTestShape):
    """Drives the user count from ``profiles.users_at``; ends the run after ``--wp-duration``."""

    def tick(self) -> tuple[int, float] | None:
        runner = self.runner
        env = runner.environment if runner is not None else None
        if env is None:
            return None
        profile = profiles.Profile(
            "run",
            users=int(_option(env, "wp_users", 1)),
            spawn_rate=float(_option(env, "wp_spawn_rate", 1.0)),
            duration_s=float(_option(env, "wp_duration", 10.0)),
        )
        shape = str(_option(env, "wp_shape", "constant"))
        elapsed = time.perf_counter() - float(self.start_time)
        return profiles.users_at(cast(profiles.Shape, shape), profile, elapsed)


# Locust's EventHook.add_listener is untyped; one typed alias keeps mypy strict everywhere else.
_listen = cast(Callable[[EventHook, Callable[..., None]], object], EventHook.add_listener)
_listen(events.init_command_line_parser, _add_arguments)
_listen(events.request, _on_request)
_listen(events.report_to_master, _ship_histogram)
_listen(events.worker_report, _collect_histogram)
_listen(events.test_start, _on_test_start)
_listen(events.test_stop, _on_test_stop)
_listen(events.spawning_complete, _on_spawned)
_listen(events.quitting, _write_summary)
