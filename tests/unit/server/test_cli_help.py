"""`waddleperf server --help` names the default ports, and they are base.yml's."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from waddleperf.cli import app

BASE = Path(__file__).resolve().parents[3] / "server" / "waddleperf_server" / "vars" / "base.yml"


def test_help_shows_the_default_ports_of_base_yml() -> None:
    base = yaml.safe_load(BASE.read_text())
    result = CliRunner().invoke(app, ["server", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"default {base['bind']}" in text
    for key, what in (("http", "HTTP"), ("tcp_echo", "TCP echo"), ("udp_echo", "UDP echo"),
                      ("iperf", "iperf3")):  # fmt: skip
        assert f"{what} port (default {base[key]['port']})" in text, (key, text)
