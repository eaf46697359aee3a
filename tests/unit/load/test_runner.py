"""Locust command lines for each role (pure; nothing is started)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from waddleperf.load.plan import LoadOptions
from waddleperf.load.runner import LOCUSTFILE, LoadPlan, RunFiles, build_commands

FILES = RunFiles(Path("/tmp/run"))


def sized(**options: Any) -> LoadOptions:
    """A plan of 7 users started 3 a second for 9 s, with ``options``."""
    return LoadOptions(users=7, spawn_rate=3, duration_s=9, **options)


def _opt(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_single_local_process() -> None:
    [(name, argv)] = build_commands(LoadPlan("http://127.0.0.1:1", sized()), FILES)
    assert name == "local"
    assert argv[1:5] == ["-m", "locust", "-f", str(LOCUSTFILE)]
    assert "--headless" in argv and argv[-1] == "WebUser"
    assert _opt(argv, "--wp-users") == "7" and _opt(argv, "--wp-duration") == "9.0"
    assert _opt(argv, "--wp-out") == "/tmp/run/locust-summary.json"
    assert "--master" not in argv and "--wp-rate" not in argv


def test_local_workers_get_a_master_on_loopback() -> None:
    plan = LoadPlan("http://127.0.0.1:1", sized(user="database", workers=2), master_port=6000)
    cmds = build_commands(plan, FILES)
    assert [n for n, _ in cmds] == ["master", "worker-0", "worker-1"]
    master = cmds[0][1]
    assert _opt(master, "--expect-workers") == "2" and master[-1] == "DatabaseUser"
    assert _opt(master, "--master-bind-host") == "127.0.0.1"
    for _, argv in cmds[1:]:
        assert _opt(argv, "--master-port") == "6000" and "--headless" not in argv


def test_open_model_uses_one_arrival_user_per_worker() -> None:
    plan = LoadPlan("http://h", sized(rate=250.0, workers=3))
    master = build_commands(plan, FILES)[0][1]
    assert master[-1] == "ArrivalRateUser"
    assert _opt(master, "--wp-rate") == "250.0" and _opt(master, "--wp-users") == "3"


def test_remote_roles() -> None:
    master = LoadPlan("http://h", sized(), role="master", expect_workers=4, master_bind="::1")
    [(name, argv)] = build_commands(master, FILES)
    assert name == "master" and _opt(argv, "--expect-workers") == "4"
    worker = LoadPlan("http://h", sized(), role="worker", master_host="127.0.0.2")
    [(name, argv)] = build_commands(worker, FILES)
    assert name == "worker-0" and _opt(argv, "--master-host") == "127.0.0.2"


def test_wait_and_shape_are_passed() -> None:
    plan = LoadPlan("http://h", sized(shape="spike", wait_s=(0.0, 0.0)))
    argv = build_commands(plan, FILES)[0][1]
    assert _opt(argv, "--wp-shape") == "spike" and _opt(argv, "--wp-wait") == "0.0,0.0"


def test_every_role_has_a_time_limit() -> None:
    assert LoadPlan("http://h", sized()).time_limit_s == 9 + 45 + 30
    assert LoadPlan("http://h", sized(), role="worker").time_limit_s == 7200
    assert LoadPlan("http://h", sized(), role="worker", max_runtime_s=60).time_limit_s == 60
