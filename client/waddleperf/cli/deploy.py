"""``waddleperf deploy``: the playbooks of ``ansible/`` over an inventory, a table per host.

Exit codes: 0 every host reached and no task failed, 1 a host failed or was unreachable (or
the run did not finish), 2 bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from waddleperf import extras

EXIT_FAILED = 1
EXIT_USAGE = 2


def _fail(message: str) -> typer.Exit:
    typer.echo(f"waddleperf deploy: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def deploy(
    inventory: Annotated[Path, typer.Option("--inventory", help="Ansible inventory file.")],
    limit: Annotated[str | None, typer.Option(help="Only these hosts (Ansible pattern).")] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Report what would change, change nothing.")
    ] = False,
    tags: Annotated[
        str | None, typer.Option(help="Only tasks with these tags (metrics …).")
    ] = None,
    playbook: Annotated[str, typer.Option(help="Playbook of ansible/playbooks.")] = "site.yml",
    ansible_dir: Annotated[
        Path | None, typer.Option(help="The Ansible tree (default: found above the inventory).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="The tally as JSON.")] = False,
) -> None:
    """Deploy servers, agents, UI and load workers with Ansible (through ansible-runner)."""
    extras.require("deploy", "deploy")
    from waddleperf.deploy.run import DeployError, DeployRequest, find_ansible_dir, run
    from waddleperf.deploy.tally import all_healthy
    from waddleperf.tables import Column, render_table

    try:
        tree = ansible_dir or find_ansible_dir(inventory)
        request = DeployRequest(inventory=inventory, ansible_dir=tree, playbook=playbook,
                                limit=limit, tags=tags, check=check)  # fmt: skip
        outcome = run(request)
    except DeployError as exc:
        raise _fail(str(exc)) from None
    healthy = all_healthy(outcome.hosts) and outcome.status == "successful"
    if json_out:
        doc = {"status": outcome.status, "rc": outcome.rc, "check": check,
               "hosts": [h.to_dict() for h in outcome.hosts]}  # fmt: skip
        typer.echo(json.dumps(doc))
    else:
        columns = [Column("host")] + [
            Column(name, justify="right") for name in ("ok", "changed", "failed", "unreachable")
        ]
        rows = [[h.host, str(h.ok), str(h.changed), str(h.failed), str(h.unreachable)]
                for h in outcome.hosts]  # fmt: skip
        title = f"deploy {playbook}{' (check)' if check else ''}: {outcome.status}"
        for line in render_table(columns, rows, title=title):
            typer.echo(line)
    if not outcome.hosts:
        typer.echo(f"waddleperf deploy: the run ended {outcome.status} (rc {outcome.rc}) "
                   "before any host reported", err=True)  # fmt: skip
    if not healthy or not outcome.hosts:
        raise typer.Exit(EXIT_FAILED)
