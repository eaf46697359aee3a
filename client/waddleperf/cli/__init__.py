"""The ``waddleperf`` command: thin commands over the library, heavy imports lazy."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from waddleperf import __version__, extras
from waddleperf.cli import autoperf, demo, deploy, load, probe, ui
from waddleperf.cli import report as report_cli

app = typer.Typer(
    name="waddleperf",
    help="Network and application performance prober.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: typer's rich help alone costs ~0.35 s of CPU to import (the start-up bound
    # is 0.3 s for the whole command).
    rich_markup_mode=None,
)

EXIT_USAGE = 2


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
) -> None:
    """WaddlePerf."""


@app.command()
def server(
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML file over the defaults.")
    ] = None,
    bind: Annotated[
        str | None, typer.Option(help="Address to bind (default 0.0.0.0; :: for dual stack).")
    ] = None,
    http_port: Annotated[
        int | None, typer.Option(help="HTTP port (default 8080); 0 disables.")
    ] = None,
    tcp_echo_port: Annotated[
        int | None, typer.Option(help="TCP echo port (default 2001); 0 disables.")
    ] = None,
    udp_echo_port: Annotated[
        int | None, typer.Option(help="UDP echo port (default 2000); 0 disables.")
    ] = None,
    iperf_port: Annotated[
        int | None, typer.Option(help="iperf3 port (default 5201); 0 disables.")
    ] = None,
    log_level: Annotated[str | None, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = None,
    check_config: Annotated[
        bool,
        typer.Option("--check-config", help="Validate the configuration, serve nothing, exit."),
    ] = False,
) -> None:
    """Run the WaddlePerf server (HTTP, LibreSpeed, RPM, TCP/UDP echo, iperf3, /stats)."""
    extras.require("server", "server")
    # gevent must patch the standard library before the server's modules load.
    from gevent import monkey

    monkey.patch_all()
    from waddleperf_common.config import ConfigError
    from waddleperf_server import config as server_config
    from waddleperf_server import logs
    from waddleperf_server.main import serve

    try:
        cfg = server_config.load(
            user_file=config,
            overrides={
                "bind": bind,
                "http.port": http_port,
                "tcp_echo.port": tcp_echo_port,
                "udp_echo.port": udp_echo_port,
                "iperf.port": iperf_port,
                "log_level": log_level,
            },
        )
    except ConfigError as exc:
        typer.echo(f"waddleperf server: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    if check_config:
        typer.echo(
            f"config OK: bind {cfg.bind}, http {cfg.http.port}, tcp echo "
            f"{cfg.tcp_echo.port}, udp echo {cfg.udp_echo.port}, iperf {cfg.iperf.port}"
        )
        raise typer.Exit(0)
    logs.setup(cfg.log_level)
    raise typer.Exit(serve(cfg))


app.add_typer(probe.app, name="probe")
app.add_typer(load.app, name="load")
app.command("autoperf")(autoperf.autoperf)
app.command("report")(report_cli.report)
app.command("demo")(demo.demo)
app.command("deploy")(deploy.deploy)
app.add_typer(ui.app, name="ui")


def main() -> None:
    """Entry point of the ``waddleperf`` script."""
    # Ctrl-C (SIGINT) always stops a command cleanly, as it does ping: a shell starts
    # background jobs with SIGINT ignored, and Python then installs no handler of its own.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
