"""JSON actions of the Fleet page: agents and tiers, the escalation timeline, bundles to
download, and the local agent's configuration checked now."""

from __future__ import annotations

from typing import Any

from py4web import URL, action, request, response

from waddleperf.web.runtime import check_config
from waddleperf.webdata import fleet

from .common import runtime
from .guards import api_login, fail


@action("api/fleet")
@action.uses(api_login)
def agents() -> dict[str, Any]:
    """Every agent with its last bundle and tiers, and the latest tier changes."""
    return {"agents": fleet.agents(runtime.catalog), "timeline": fleet.timeline(runtime.catalog)}


@action("api/fleet/bundles")
@action.uses(api_login)
def bundles() -> dict[str, Any]:
    """An agent's recent bundles (``?agent=A``), with a download link where the file is here."""
    agent = (request.query.get("agent") or "").strip()
    if not agent or len(agent) > 200:
        raise fail(400, "agent: give the agent's name")
    found = fleet.recent_bundles(runtime.catalog, agent)
    for item in found:
        local = fleet.bundle_file(runtime.catalog, int(item["bundle_id"]))
        item["download"] = str(URL("api/fleet/bundle", item["bundle_id"])) if local else None
    return {"agent": agent, "bundles": found}


@action("api/fleet/bundle/<bundle_id:int>")
@action.uses(api_login)
def bundle(bundle_id: int) -> bytes:
    """A bundle file, as stored (only files the catalog recorded)."""
    path = fleet.bundle_file(runtime.catalog, bundle_id)
    if path is None:
        raise fail(404, f"bundle {bundle_id} is not a file here")
    response.headers["Content-Type"] = "application/gzip"
    response.headers["Content-Disposition"] = f'attachment; filename="{path.name}"'
    return path.read_bytes()


@action("api/fleet/config")
@action.uses(api_login)
def config() -> dict[str, Any]:
    """The local agent's configuration file, validated as ``autoperf --check-config`` does."""
    return check_config(runtime.config_path)
