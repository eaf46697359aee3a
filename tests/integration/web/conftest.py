"""One UI per test process, through its WSGI application (py4web keeps its apps in process
globals): over a small synthetic fleet's bundles, a real local server to probe, an admin and
a viewer. Controller tests call it with :class:`tests.support.wsgi_client.WsgiClient`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.agentconf import quick_tiers, server_entry, write_agent
from tests.support.fleet import FleetSpec, write_fleet
from tests.support.server import LocalServer, start_server
from tests.support.ui_app import PASSWORD, ui_app
from tests.support.wsgi_client import Wsgi, WsgiClient
from waddleperf.web.accounts import Accounts
from waddleperf.web.runtime import UiRuntime, build

__all__ = ["PASSWORD", "Ui"]
SPEC = FleetSpec(agents=2, servers=2, tier2_every=3, tier3_every=6)
COUNT = 24


@dataclass
class Ui:
    """The UI under test and what it was made of."""

    app: Wsgi
    runtime: UiRuntime
    accounts: Accounts
    server: LocalServer
    store: Path
    admin: str = "admin@example.com"
    viewer: str = "viewer@example.com"

    def client(self, remote_addr: str = "127.0.0.1", scheme: str = "http") -> WsgiClient:
        return WsgiClient(self.app, remote_addr=remote_addr, scheme=scheme)

    def logged_in(self, email: str, remote_addr: str = "127.0.0.1") -> tuple[WsgiClient, str]:
        """A client logged in as ``email`` and its session's CSRF token."""
        client = self.client(remote_addr)
        reply = client.login(email, PASSWORD)
        assert reply.status == 303, reply.text[:500]
        return client, client.get("/waddleperf/history").csrf_token()


@pytest.fixture(scope="session")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    tmp = tmp_path_factory.mktemp("ui")
    fleet = tmp / "fleet"
    write_fleet(fleet, SPEC, COUNT)
    srv = start_server(tmp, services=("http", "udp_echo"))
    try:
        agent = write_agent(tmp, {
            "agent": {"id": "ui-agent"},
            "servers": [server_entry(srv)],
            "tiers": quick_tiers(),
            "ui": {"data_dir": str(tmp / "ui-data"), "results": [str(fleet), str(tmp / "store")],
                   "allowed_networks": ["127.0.0.0/8", "::1/128"], "refresh_s": 0,
                   "login": {"per_address": 30, "per_account": 3, "window_s": 300}},
        })  # fmt: skip
        (tmp / "store").mkdir()
        runtime = build(agent.config, environ={})
        made = ui_app(runtime, {"admin@example.com": "admin", "viewer@example.com": "viewer"})
        yield Ui(made.app, runtime, made.accounts, srv, tmp / "store")
        runtime.close()
    finally:
        srv.stop()
