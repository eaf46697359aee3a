"""``waddleperf probe KIND TARGET [options]``: run one probe, print a table or the JSON record.

Exit codes: 0 when the measurement succeeded (status ok, or degraded — some loss, some failed
attempts: the figures are real), 1 when the target could not be measured (status failed),
2 for bad usage (unknown kind, invalid target or options). Ctrl-C exits 130.

Kept light at import time: the CLI imports this module for every command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from pydantic import ValidationError

    from waddleperf.results.model import Result

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: CLI option → options-model field (the unit moves from the help text into the field name).
FIELDS = {
    "count": "count",
    "interval": "interval_s",
    "size": "size_bytes",
    "timeout": "timeout_s",
    "port": "port",
    "mode": "mode",
    "key_env": "key_env",
    "key_file": "key_file",
    "record_type": "record_type",
    "resolver": "resolvers",
    "tcp": "tcp",
    "method": "method",
    "keep_alive": "keep_alive",
    "max_redirects": "max_redirects",
    "insecure": "insecure",
    "ca_file": "ca_file",
    "user": "user",
    "password_env": "password_env",
    "command": "command",
    "known_hosts": "known_hosts",
    "insecure_accept_host_key": "insecure_accept_host_key",
    "protocol": "protocol",
    "reverse": "reverse",
    "bidir": "bidir",
    "parallel": "parallel",
    "duration": "duration_s",
    "omit": "omit_s",
    "bitrate": "bitrate_mbps",
    "length": "length_bytes",
    "rounds": "rounds",
    "max_hops": "max_hops",
    "resolve_names": "resolve_names",
    "load": "load",
    "iperf_port": "iperf_port",
}
OPTION_OF = {field: "--" + opt.replace("_", "-") for opt, field in FIELDS.items()}
OPTION_OF.update(family="--ipv4/--ipv6", record_type="--type", target="TARGET")


def parse_extra(items: list[str]) -> dict[str, Any]:
    """``--option NAME=VALUE`` pairs as model fields; values are read as YAML scalars/lists."""
    import yaml

    extra: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"--option {item!r}: expected NAME=VALUE")
        try:
            extra[name.strip()] = yaml.safe_load(text) if text.strip() else text
        except yaml.YAMLError:
            extra[name.strip()] = text
    return extra


def build_options(
    target: str, cli: dict[str, Any], ipv4: bool, ipv6: bool, extra: list[str] | None = None
) -> dict[str, Any]:
    """Raw options for the probe: only what was given, renamed to the model's fields.

    ``extra`` (``--option NAME=VALUE``) reaches every field of the probe's options model by
    its own name; the named flags win where both are given.
    """
    raw: dict[str, Any] = {"target": target, **parse_extra(extra or [])}
    for opt, value in cli.items():
        # False flags and empty lists were not given: leave the model's default.
        if value is None or value is False or value == []:
            continue
        raw[FIELDS[opt]] = str(value) if isinstance(value, Path) else value
    if ipv4 and ipv6:
        raise typer.BadParameter("--ipv4 and --ipv6 exclude each other")
    if ipv4 or ipv6:
        raw["family"] = "ipv4" if ipv4 else "ipv6"
    return raw


def usage_errors(kind: str, exc: ValidationError) -> list[str]:
    """One line per problem, naming the command-line option rather than the model field."""
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        option = OPTION_OF.get(field, f"--option {field}" if field else "")
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            lines.append(f"{option} does not apply to probe {kind}")
        elif option:
            lines.append(f"{option}: {msg}")
        else:
            lines.append(msg)
    return lines


def _run_with_progress(kind: str, raw: dict[str, Any], show: bool) -> Result:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from waddleperf.probes.base import RunContext, run_probe

    if not show:
        return run_probe(kind, raw)
    columns = (f"probe {kind}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(kind, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return run_probe(kind, raw, RunContext(progress=update))


def probe(
    kind: Annotated[str, typer.Argument(help="icmp, tcp, udp, http, dns, ssh, iperf…")],
    target: Annotated[
        str, typer.Argument(help="host, host:port, \\[v6]:port, URL (http) or name (dns).")
    ],
    count: Annotated[int | None, typer.Option(help="Packets / attempts / repetitions.")] = None,
    interval: Annotated[float | None, typer.Option(help="Seconds between sends.")] = None,
    size: Annotated[int | None, typer.Option(help="Payload bytes (icmp, udp).")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds to wait for an answer.")] = None,
    port: Annotated[int | None, typer.Option(help="Port when TARGET has none.")] = None,
    ipv4: Annotated[bool, typer.Option("--ipv4", "-4", help="IPv4 only.")] = False,
    ipv6: Annotated[bool, typer.Option("--ipv6", "-6", help="IPv6 only.")] = False,
    mode: Annotated[str | None, typer.Option(help="icmp: auto, raw or dgram.")] = None,
    key_env: Annotated[str | None, typer.Option(help="udp: variable holding the HMAC key.")] = None,
    key_file: Annotated[
        Path | None, typer.Option(help="udp: HMAC key file; ssh: private key file.")
    ] = None,
    record_type: Annotated[str | None, typer.Option("--type", help="dns: A, AAAA, MX…")] = None,
    resolver: Annotated[
        list[str] | None, typer.Option(help="dns: resolver ip[:port]; repeatable.")
    ] = None,
    tcp: Annotated[bool, typer.Option("--tcp", help="dns: query over TCP.")] = False,
    method: Annotated[str | None, typer.Option(help="http: GET or HEAD.")] = None,
    keep_alive: Annotated[bool, typer.Option("--keep-alive", help="http: reuse.")] = False,
    max_redirects: Annotated[int | None, typer.Option(help="http: redirects to follow.")] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="http: skip TLS checks.")] = False,
    ca_file: Annotated[Path | None, typer.Option(help="http: trust these CAs (PEM).")] = None,
    user: Annotated[str | None, typer.Option(help="ssh: user name.")] = None,
    password_env: Annotated[str | None, typer.Option(help="ssh: variable with password.")] = None,
    command: Annotated[str | None, typer.Option(help="ssh: command to time.")] = None,
    known_hosts: Annotated[Path | None, typer.Option(help="ssh: known_hosts file.")] = None,
    insecure_accept_host_key: Annotated[
        bool, typer.Option("--insecure-accept-host-key", help="ssh: do not check the host key.")
    ] = False,
    protocol: Annotated[str | None, typer.Option(help="iperf: tcp or udp.")] = None,
    reverse: Annotated[bool, typer.Option("--reverse", help="iperf: server sends.")] = False,
    bidir: Annotated[bool, typer.Option("--bidir", help="iperf: both directions.")] = False,
    parallel: Annotated[int | None, typer.Option(help="iperf: parallel streams.")] = None,
    duration: Annotated[int | None, typer.Option(help="iperf: seconds to run.")] = None,
    omit: Annotated[int | None, typer.Option(help="iperf: first seconds not counted.")] = None,
    bitrate: Annotated[float | None, typer.Option(help="iperf: target Mbit/s.")] = None,
    length: Annotated[int | None, typer.Option(help="iperf: buffer / datagram bytes.")] = None,
    rounds: Annotated[int | None, typer.Option(help="trace: probes per hop.")] = None,
    max_hops: Annotated[int | None, typer.Option(help="trace: highest TTL.")] = None,
    resolve_names: Annotated[
        bool, typer.Option("--resolve-names", help="trace: reverse DNS of hops.")
    ] = False,
    load: Annotated[str | None, typer.Option(help="rpm: saturate with http or iperf.")] = None,
    iperf_port: Annotated[int | None, typer.Option(help="rpm: iperf3 port (--load iperf).")] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", "-o", help="Any option of the probe as NAME=VALUE (docs/probes.md)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON record only.")] = False,
) -> None:
    """Run one probe against TARGET and print the result (exit 0 ok/degraded, 1 failed, 2 usage)."""
    from pydantic import ValidationError

    from waddleperf import output
    from waddleperf.probes.base import UnknownProbeError, get
    from waddleperf.results.model import Status

    cli = {
        "count": count, "interval": interval, "size": size, "timeout": timeout, "port": port,
        "mode": mode, "key_env": key_env, "key_file": key_file, "record_type": record_type,
        "resolver": resolver or [], "tcp": tcp, "method": method, "keep_alive": keep_alive,
        "max_redirects": max_redirects, "insecure": insecure, "ca_file": ca_file, "user": user,
        "password_env": password_env, "command": command, "known_hosts": known_hosts,
        "insecure_accept_host_key": insecure_accept_host_key, "protocol": protocol,
        "reverse": reverse, "bidir": bidir, "parallel": parallel, "duration": duration,
        "omit": omit, "bitrate": bitrate, "length": length, "rounds": rounds,
        "max_hops": max_hops, "resolve_names": resolve_names, "load": load,
        "iperf_port": iperf_port,
    }  # fmt: skip
    try:
        get(kind)
        raw = build_options(target, cli, ipv4, ipv6, option)
        result = _run_with_progress(kind, raw, show=sys.stderr.isatty())
    except UnknownProbeError as exc:
        typer.echo(f"waddleperf probe: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except typer.BadParameter as exc:
        typer.echo(f"waddleperf probe {kind}: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except ValidationError as exc:
        for line in usage_errors(kind, exc):
            typer.echo(f"waddleperf probe {kind}: {line}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    if as_json:
        output.print_json(result)
    else:
        output.print_result(result)
    raise typer.Exit(EXIT_FAILED if result.status is Status.FAILED else EXIT_OK)
