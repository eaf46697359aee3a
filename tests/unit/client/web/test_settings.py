"""The ui: section: defaults from base.yml, errors naming the key, the environment's URI."""

from __future__ import annotations

from pathlib import Path

import pytest

from waddleperf.autoperf.config import load
from waddleperf_common.config import ConfigError


def test_defaults_and_environment(tmp_path: Path) -> None:
    cfg = load(environ={"WADDLEPERF_UI_DB_URI": "mysql://ui:pw@db/ui",
                        "WADDLEPERF_UI_ADMIN_PASSWORD": "not a config key"})  # fmt: skip
    assert cfg.ui.host == "127.0.0.1" and cfg.ui.port == 8000
    assert cfg.ui.db_uri == "mysql://ui:pw@db/ui" and not cfg.ui.tls
    assert cfg.ui.results == [] and cfg.ui.login.per_account == 5


@pytest.mark.parametrize(("yaml", "key"), [
    ("ui: {port: 0}", "ui.port"),
    ("ui: {db_uri: 'oracle://x'}", "ui.db_uri"),
    ("ui: {allowed_networks: [not-a-net]}", "ui.allowed_networks"),
    ("ui: {tls_cert: /x.pem}", "ui"),
    ("ui: {colour: red}", "ui.colour"),
    ("ui: {login: {per_account: 0}}", "ui.login.per_account"),
])  # fmt: skip
def test_errors_name_the_key(tmp_path: Path, yaml: str, key: str) -> None:
    path = tmp_path / "a.yml"
    path.write_text(yaml + "\n")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load(path, environ={})
