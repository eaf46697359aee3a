"""Operator access: allowed networks, the bearer token, where the token comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from waddleperf_common.config import ConfigError
from waddleperf_server import config as server_config
from waddleperf_server.config import OperatorConfig
from waddleperf_server.http.access import load, load_token, token_warning

TOKEN = "s3cret-token-of-32-characters-xx"


def test_default_allows_loopback_only() -> None:
    access = load(OperatorConfig(), {})
    assert access.allows("127.0.0.1", []) and access.allows("127.9.9.9", [])
    assert access.allows("::1", []) and access.allows("::ffff:127.0.0.1", [])
    assert not access.allows("192.0.2.1", []) and not access.allows("2001:db8::1", [])
    assert not access.allows("not an address", [])


def test_token_opens_it_from_anywhere_and_nothing_else_does() -> None:
    access = load(OperatorConfig(allowed_networks=["127.0.0.1/32"], token_env="OP"), {"OP": TOKEN})
    assert access.allows("127.0.0.1", [])
    assert not access.allows("127.0.0.5", [])
    assert access.allows("127.0.0.5", [f"Bearer {TOKEN}"])
    assert access.allows("203.0.113.7", [f"bearer   {TOKEN} "])
    for wrong in (
        [f"Bearer {TOKEN}x"],
        [f"Bearer {TOKEN[:-1]}"],
        [f"Basic {TOKEN}"],
        [TOKEN],
        ["Bearer "],
        [f"Bearer {TOKEN}", f"Bearer {TOKEN}"],  # two Authorization headers: refused
    ):
        assert not access.allows("127.0.0.5", wrong), wrong


def test_no_token_configured_means_networks_only() -> None:
    access = load(OperatorConfig(allowed_networks=[]), {})
    assert not access.allows("127.0.0.1", ["Bearer "]) and not access.allows("127.0.0.1", [])
    assert access.token_digest is None


def test_token_from_a_file_wins_over_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(f"  {TOKEN}\n")
    cfg = OperatorConfig(token_file=path, token_env="OP")
    assert load_token(cfg, {"OP": "other"}) == TOKEN.encode()


def test_an_empty_variable_is_no_token_and_a_warning() -> None:
    cfg = OperatorConfig(token_env="OP")
    assert load_token(cfg, {"OP": "  "}) is None
    warning = token_warning(cfg, None)
    assert warning is not None and "OP" in warning
    short = token_warning(cfg, b"short")
    assert short is not None and "5 bytes" in short
    assert token_warning(cfg, TOKEN.encode()) is None


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"operator\.allowed_networks"):
        server_config.load(overrides={"operator": {"allowed_networks": ["nope"]}})
    with pytest.raises(ConfigError, match=r"operator\.token_file.*unusable operator token file"):
        server_config.load(overrides={"operator": {"token_file": str(tmp_path / "missing")}})
    cfg = server_config.load(environ={"WADDLEPERF_SERVER_OPERATOR_TOKEN_ENV": "MY_TOKEN"})
    assert cfg.operator.token_env == "MY_TOKEN"
    assert cfg.operator.allowed_networks == ["127.0.0.0/8", "::1/128"]
