"""The server configuration model's own rules (no I/O but the shipped base.yml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from waddleperf_common.config import ConfigError
from waddleperf_server import config
from waddleperf_server.config import StatsTarget


@pytest.mark.parametrize(
    ("fields", "got"),
    [
        ({}, "got none"),
        ({"pid_file": "/run/x.pid", "port": 80}, "got pid_file and port"),
        ({"process_name": "gunicorn", "port": 80}, "got process_name and port"),
        (
            {"pid_file": "/p", "process_name": "g", "port": 1},
            "got pid_file and process_name and port",
        ),
    ],
)
def test_stats_target_needs_exactly_one_selector(fields: dict[str, object], got: str) -> None:
    with pytest.raises(ValidationError) as info:
        StatsTarget.model_validate({"name": "flask", **fields})
    message = str(info.value)
    assert "exactly one of pid_file, process_name or port" in message and got in message


@pytest.mark.parametrize("fields", [{"pid_file": "/p"}, {"process_name": "g"}, {"port": 8000}])
def test_stats_target_with_one_selector_is_valid(fields: dict[str, object]) -> None:
    target = StatsTarget.model_validate({"name": "flask", **fields})
    ((key, value),) = fields.items()
    assert str(getattr(target, key)) == str(value)
    assert [k for k in ("pid_file", "process_name", "port") if getattr(target, k) is not None] == [
        key
    ]


def test_bad_target_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        config.load(
            environ={}, overrides={"stats.targets": [{"name": "ok", "port": 1}, {"name": "x"}]}
        )
    assert "stats.targets.1" in str(info.value) and "'x'" in str(info.value)


def test_new_limits_have_documented_defaults() -> None:
    cfg = config.load(environ={})
    assert cfg.http.max_connections_per_source == 96
    assert cfg.http.max_request_head_bytes == 65536
    assert cfg.tcp_echo.max_connections_per_source == 16
    assert cfg.tcp_echo.max_lifetime_s == 600


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("http.max_connections_per_source", 0),
        ("tcp_echo.max_connections_per_source", 0),
        ("http.max_request_head_bytes", 100),
        ("tcp_echo.max_lifetime_s", 0),
    ],
)
def test_new_limits_are_validated(key: str, value: int) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config.load(environ={}, overrides={key: value})


def test_hmac_key_file_is_checked_with_the_configuration(tmp_path: Path) -> None:
    good = tmp_path / "good.key"
    good.write_bytes(b"  0123456789abcdef0123456789abcdef\n")
    assert config.read_key_file(good) == b"0123456789abcdef0123456789abcdef"
    assert config.load(environ={}, overrides={"udp_echo.hmac_key_file": str(good)})
    empty = tmp_path / "empty.key"
    empty.write_bytes(b"\n\t ")
    huge = tmp_path / "huge.key"
    huge.write_bytes(b"k" * (config.MAX_KEY_FILE_BYTES + 1))
    for path, reason in [(empty, "empty"), (huge, "over 4096 bytes"), (tmp_path / "no", "No such")]:
        with pytest.raises(ConfigError) as info:
            config.load(environ={}, overrides={"udp_echo.hmac_key_file": str(path)})
        message = str(info.value)
        assert "udp_echo.hmac_key_file" in message and str(path) in message and reason in message
    # A disabled UDP echo's key file is not read.
    config.load(
        environ={}, overrides={"udp_echo.port": 0, "udp_echo.hmac_key_file": str(tmp_path / "no")}
    )


POOL_KEYS = (
    "head_timeout_s",
    "head_timeout_min_s",
    "min_receive_bytes_per_s",
    "max_connections",
    "pool_memory_fraction",
    "max_lingering_refusals",
)


def test_pool_defaults_have_one_source_base_yml() -> None:
    shipped = yaml.safe_load(config.BASE_FILE.read_text())["http"]
    model = config.HttpConfig()
    for key in POOL_KEYS:
        assert getattr(model, key) == shipped[key], key
    assert shipped["max_connections"] is None  # sized by memory unless set


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("http.head_timeout_s", 0),
        ("http.head_timeout_min_s", -1),
        ("http.min_receive_bytes_per_s", 0),
        ("http.max_connections", 0),
        ("http.pool_memory_fraction", 0),
        ("http.pool_memory_fraction", 0.95),
        ("http.max_lingering_refusals", -1),
    ],
)
def test_pool_keys_are_validated(key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config.load(environ={}, overrides={key: value})


def test_max_connections_may_be_set_by_a_variable() -> None:
    cfg = config.load(environ={"WADDLEPERF_SERVER_HTTP_MAX_CONNECTIONS": "1000"})
    assert cfg.http.max_connections == 1000
