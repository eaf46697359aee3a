"""The UI's WSGI application made from a runtime, with its users: for controller tests and
``bench/ui.py`` (py4web keeps its apps in process globals, so one per process)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass

from tests.support.ui_process import PASSWORD
from tests.support.wsgi_client import Wsgi, WsgiClient
from waddleperf.web.accounts import Accounts
from waddleperf.web.launch import wsgi_app
from waddleperf.web.runtime import UiRuntime

__all__ = ["PASSWORD", "UiApp", "ui_app"]


@dataclass
class UiApp:
    """The application, the app's own handle on its users, the password they share."""

    app: Wsgi
    accounts: Accounts
    password: str = PASSWORD

    def logged_in(self, email: str, remote_addr: str = "127.0.0.1") -> WsgiClient:
        client = WsgiClient(self.app, remote_addr=remote_addr)
        reply = client.login(email, self.password)
        assert reply.status == 303, reply.text[:500]
        return client


def ui_app(runtime: UiRuntime, users: Mapping[str, str], password: str = PASSWORD) -> UiApp:
    """``runtime``'s application with ``users`` (e-mail → role) created in its database."""
    app = wsgi_app(runtime)
    # the app's own handle on its database (py4web imports the app as apps.waddleperf)
    accounts: Accounts = importlib.import_module("apps.waddleperf.common").accounts
    for email, role in users.items():
        accounts.create(email, password, role)
    return UiApp(app, accounts, password)
