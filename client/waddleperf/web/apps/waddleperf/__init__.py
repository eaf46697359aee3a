"""The WaddlePerf UI, a py4web app (started by ``waddleperf ui``; see docs/ui.md).

Its state lives in the runtime ``waddleperf ui`` installs (:mod:`waddleperf.web.runtime`) and
in its users' database; its pages and JSON actions are thin layers over
:mod:`waddleperf.webdata`, the library the CLI's report also reads through.
"""

from __future__ import annotations

from . import api_fleet, api_history, api_run, login, pages, users

__all__ = ["api_fleet", "api_history", "api_run", "login", "pages", "users"]
