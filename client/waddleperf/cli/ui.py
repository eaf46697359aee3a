"""``waddleperf ui``: serve the web UI; ``waddleperf ui create-admin``: its first account.

Exit codes: 0 stopped cleanly, 2 bad input (configuration, flags, a weak password, a taken
e-mail), 1 the UI could not start (port taken, app failed to load).
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from waddleperf import extras

EXIT_FAILED = 1
EXIT_USAGE = 2

app = typer.Typer(help="The web UI: run probes, speed test, history, fleet, users.",
                  no_args_is_help=False, add_completion=False, rich_markup_mode=None,
                  pretty_exceptions_enable=False)  # fmt: skip

ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="The agent's YAML file (servers, store, the ui: section).")]  # fmt: skip
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Users' database, session secret, catalog (default waddleperf-ui)."
    ),
]
DbUriOpt = Annotated[str | None, typer.Option(
    "--db-uri", help="Database URI: sqlite://ui.sqlite (default) or mysql://user:pw@host/db; "
    "or WADDLEPERF_UI_DB_URI.")]  # fmt: skip


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    typer.echo(f"waddleperf ui: {message}", err=True)
    return typer.Exit(code)


def _overrides(**flags: Any) -> dict[str, Any]:
    return {f"ui.{k}": v for k, v in flags.items() if v is not None}


def _load(config: Path | None, overrides: dict[str, Any]) -> Any:
    from waddleperf.autoperf.config import load
    from waddleperf_common.config import ConfigError

    try:
        return load(config, overrides=overrides)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


@app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    data_dir: DataDirOpt = None,
    results: Annotated[list[str] | None, typer.Option(
        "--results", help="What History shows: results directory, bundle or s3://BUCKET/PREFIX "
        "(repeatable; default the agent's store).", metavar="SOURCE")] = None,
    db_uri: DbUriOpt = None,
    tls_cert: Annotated[Path | None, typer.Option(help="Serve HTTPS with this cert.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="… and this private key.")] = None,
    check_config: Annotated[bool, typer.Option(
        "--check-config", help="Validate the configuration, serve nothing, exit.")] = False,
) -> None:  # fmt: skip
    """Serve the web UI (loopback by default); Ctrl-C stops it."""
    if ctx.invoked_subcommand is not None:
        return
    extras.require("ui", "ui")
    overrides = _overrides(host=host, port=port, data_dir=data_dir, db_uri=db_uri,
                           results=results or None, tls_cert=tls_cert, tls_key=tls_key)  # fmt: skip
    if check_config:
        _check(config, overrides)
    from waddleperf.web.launch import LaunchError
    from waddleperf.web.launch import serve as run
    from waddleperf.web.runtime import build
    from waddleperf.web.secret import SecretError
    from waddleperf_common.config import ConfigError

    try:
        runtime = build(config, overrides)
    except (ConfigError, ValueError) as exc:
        raise _fail(str(exc)) from None

    def ready(url: str) -> None:
        typer.echo(f"WaddlePerf UI on {url} (data in {runtime.ui.data_dir}); Ctrl-C stops it",
                   err=True)  # fmt: skip

    try:
        run(runtime, ready)
    except (LaunchError, SecretError) as exc:
        raise _fail(str(exc), EXIT_FAILED) from None
    except KeyboardInterrupt:
        pass


def _check(config: Path | None, overrides: dict[str, Any]) -> None:
    """``--check-config``: the configuration loaded and checked, nothing opened or served."""
    from waddleperf.web.runtime import sources_of
    from waddleperf.webdata.policy import TargetPolicy

    cfg = _load(config, overrides)
    ui = cfg.ui
    try:
        TargetPolicy.parse(ui.allowed_networks, ui.allowed_hosts)
    except ValueError as exc:
        raise _fail(f"ui.{exc}") from None
    for path in (ui.tls_cert, ui.tls_key):
        if path is not None and not path.is_file():
            raise _fail(f"ui.tls: {path} is not a file")
    sources, _ = sources_of(cfg)
    scheme = "https" if ui.tls else "http"
    typer.echo(f"config OK: {scheme} on {ui.host}:{ui.port}, data in {ui.data_dir}, database "
               f"{ui.db_uri.partition('://')[0]}, history from {', '.join(sources)}")  # fmt: skip
    raise typer.Exit(0)


def _password() -> str:
    from waddleperf.web.settings import ADMIN_PASSWORD_ENV

    given = os.environ.get(ADMIN_PASSWORD_ENV)
    if given:
        return given
    if not sys.stdin.isatty():
        raise _fail(f"no password: set {ADMIN_PASSWORD_ENV} or run this in a terminal")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise _fail("the two passwords differ")
    return first


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option("--email", help="The admin's e-mail (their login).")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    db_uri: DbUriOpt = None,
) -> None:
    """Create an admin account (password from WADDLEPERF_UI_ADMIN_PASSWORD or a prompt)."""
    extras.require("ui create-admin", "ui")
    cfg = _load(config, _overrides(data_dir=data_dir, db_uri=db_uri))
    from waddleperf.web.accounts import AccountError, Accounts, make_auth, open_db

    password = _password()
    try:
        db = open_db(cfg.ui)
    except Exception as exc:  # the driver's own sentence: refused, unknown database …
        raise _fail(f"cannot open the database {cfg.ui.db_uri.split('@')[-1]}: {exc}",
                    EXIT_FAILED) from None  # fmt: skip
    try:
        make_auth(None, db)
        user_id = Accounts(db).create(email, password, "admin")
    except AccountError as exc:
        raise _fail(str(exc)) from None
    finally:
        db.close()
    typer.echo(f"admin {email.strip().lower()} created (id {user_id}) in {cfg.ui.data_dir}")
