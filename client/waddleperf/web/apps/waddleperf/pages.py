"""The app's HTML pages: each is a template and its data comes from the JSON actions (the
pages' scripts call them), so a page and the API never disagree."""

from __future__ import annotations

import json
from typing import Any

from py4web import URL, action, redirect

from .common import runtime
from .guards import me, page_admin, page_login
from .login import logout_form


def _page(name: str, **extra: Any) -> dict[str, Any]:
    return {"page": name, "logout": logout_form(), **extra}


@action("index")
@action.uses(page_login)
def index() -> None:
    """Admins start on Run, viewers on History."""
    user = me()
    redirect(URL("run" if user is not None and user["role"] == "admin" else "history"))


@action("run")
@action.uses("run.html", page_admin)
def run() -> dict[str, Any]:
    """Run a probe (admin)."""
    return _page("run")


@action("speedtest")
@action.uses("speedtest.html", page_admin)
def speedtest() -> dict[str, Any]:
    """The browser speed test (admin)."""
    servers = [{"name": s.name, "url": s.url} for s in runtime.servers]
    return _page("speedtest", servers=json.dumps(servers))


@action("history")
@action.uses("history.html", page_login)
def history() -> dict[str, Any]:
    """Results: filters, charts, listing, detail, export."""
    return _page("history")


@action("fleet")
@action.uses("fleet.html", page_login)
def fleet() -> dict[str, Any]:
    """Agents, tiers, escalations, bundles, the local configuration."""
    return _page("fleet")
