"""The layered config loader: defaults < user file < environment < flags, strict validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from waddleperf_common.config import ConfigError, StrictModel, env_name, leaf_paths, load_config
from waddleperf_server import config as server_config


class Inner(StrictModel):
    port: int = Field(default=1, ge=0, le=65535)
    name: str = "x"


class Outer(StrictModel):
    flag: bool = False
    inner: Inner = Inner()
    items: list[str] = Field(default_factory=list)


@pytest.fixture
def base(tmp_path: Path) -> Path:
    path = tmp_path / "base.yml"
    path.write_text("flag: false\ninner:\n  port: 10\n")
    return path


def test_leaf_paths_and_env_names() -> None:
    assert list(leaf_paths(Outer)) == ["flag", "inner.port", "inner.name", "items"]
    assert env_name("P_", "inner.port") == "P_INNER_PORT"


def test_layers_in_order(base: Path, tmp_path: Path) -> None:
    user = tmp_path / "user.yml"
    user.write_text("inner:\n  port: 20\n  name: user\n")
    cfg = load_config(Outer, base, user, "P_", {"P_INNER_PORT": "30"}, {"flag": True})
    assert (cfg.inner.port, cfg.inner.name, cfg.flag) == (30, "user", True)
    cfg = load_config(Outer, base, user, "P_", {"P_INNER_PORT": "30"}, {"inner.port": 40})
    assert cfg.inner.port == 40


def test_env_values_are_yaml_scalars(base: Path) -> None:
    cfg = load_config(Outer, base, None, "P_", {"P_FLAG": "true", "P_ITEMS": "[a, b]"})
    assert cfg.flag is True and cfg.items == ["a", "b"]


def test_bad_value_names_key_value_and_origin(base: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(Outer, base, None, "P_", {"P_INNER_PORT": "abc"})
    msg = str(err.value)
    assert "inner.port" in msg and "'abc'" in msg and "P_INNER_PORT" in msg


def test_out_of_range_flag(base: Path) -> None:
    with pytest.raises(ConfigError, match=r"inner\.port = 70000 \(from command-line flag\)"):
        load_config(Outer, base, overrides={"inner.port": 70000}, environ={})


def test_unknown_key_in_file(base: Path, tmp_path: Path) -> None:
    user = tmp_path / "user.yml"
    user.write_text("inner:\n  prot: 5\n")
    with pytest.raises(ConfigError, match=r"unknown configuration key 'inner\.prot'"):
        load_config(Outer, base, user, environ={})


def test_unknown_env_variable_and_foreign_prefix(base: Path) -> None:
    with pytest.raises(ConfigError, match="P_INER_PORT"):
        load_config(Outer, base, None, "P_", {"P_INER_PORT": "1"})
    cfg = load_config(Outer, base, None, "P_", {"P_OTHER_X": "1"}, foreign_prefixes=("P_OTHER_",))
    assert cfg.inner.port == 10


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("- a\n- b\n", "must hold a mapping"), ("a: [1\n", "not valid YAML")],
)
def test_bad_files(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        load_config(Outer, path, environ={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(Outer, tmp_path / "nope.yml", environ={})


def test_shipped_server_defaults_validate() -> None:
    cfg = server_config.load(environ={})
    assert cfg.udp_echo.port == 2000 and cfg.iperf.port == 5201 and cfg.bind == "0.0.0.0"


def test_server_env_names_do_not_collide() -> None:
    paths = list(leaf_paths(server_config.ServerConfig))
    names = [env_name(server_config.ENV_PREFIX, p) for p in paths]
    assert len(names) == len(set(names))


def test_server_rejects_bad_bind_and_proxy() -> None:
    with pytest.raises(ConfigError, match="bind"):
        server_config.load(environ={}, overrides={"bind": "not-an-ip"})
    with pytest.raises(ConfigError, match="trusted_proxies"):
        server_config.load(environ={"WADDLEPERF_SERVER_HTTP_TRUSTED_PROXIES": "[nonsense]"})


class Listed(StrictModel):
    ports: list[int] = Field(default_factory=list)


def test_error_inside_a_variable_names_the_variable(tmp_path: Path) -> None:
    # The error sits at ports.1, deeper than the leaf the variable sets (ports).
    base = tmp_path / "base.yml"
    base.write_text("ports: []\n")
    with pytest.raises(ConfigError) as info:
        load_config(Listed, base, None, "P_", {"P_PORTS": "[1, nope]"})
    assert "environment variable P_PORTS" in str(info.value)
    assert "base.yml" not in str(info.value)
