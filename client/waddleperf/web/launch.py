"""Start the UI: py4web in-process over an apps folder that holds only our app.

py4web serves every app of its apps folder and writes its own service files there, so the
folder is made in the UI's data directory (never the installed package): ``apps/__init__.py``
and ``apps/waddleperf`` → the package's app (a symbolic link). py4web's ``_dashboard`` and
sample apps are not in it, so they are not served. :func:`wsgi_app` wraps py4web's WSGI
application: ``/`` leads to the app, any other path is 404, request bodies are capped, and
every answer carries the UI's security headers. :func:`serve` runs it on Rocket3 (py4web's
threaded server), with TLS when a certificate is configured.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from waddleperf.web.runtime import UiRuntime, install
from waddleperf.web.secret import session_secret

APP_NAME = "waddleperf"
APP_DIR = Path(__file__).resolve().parent / "apps" / APP_NAME
MAX_BODY_BYTES = 4 << 20
log = logging.getLogger("waddleperf.ui")

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class LaunchError(RuntimeError):
    """The UI cannot start; one line."""


def apps_folder(data_dir: Path) -> Path:
    """``DATA_DIR/apps`` with our app linked in (made or repaired)."""
    folder = data_dir.resolve() / "apps"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").touch()
    link = folder / APP_NAME
    if link.is_symlink() and link.resolve() != APP_DIR:
        link.unlink()
    if not link.exists():
        link.symlink_to(APP_DIR, target_is_directory=True)
    for other in folder.iterdir():
        if other.is_dir() and not other.name.startswith((".", "_")) and other.name != APP_NAME:
            log.warning("ignoring %s: the UI serves only its own app", other)
    return folder


def csp(runtime: UiRuntime) -> str:
    """The Content-Security-Policy: our own assets only; the speed test may reach the
    configured servers' origins (and nothing else)."""
    origins = sorted(
        {f"{p.scheme}://{p.netloc}" for p in map(urlsplit, (s.url for s in runtime.servers))}
    )
    connect = " ".join(["'self'", *origins])
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src {connect}; worker-src 'self'; frame-ancestors 'none'; "
            "form-action 'self'; base-uri 'none'; object-src 'none'")  # fmt: skip


def _guard(app: Wsgi, policy: str) -> Wsgi:
    headers = [("Content-Security-Policy", policy), ("X-Content-Type-Options", "nosniff"),
               ("X-Frame-Options", "DENY"), ("Referrer-Policy", "same-origin"),
               ("Cache-Control", "no-store")]  # fmt: skip

    def plain(start: Callable[..., Any], status: str, text: str, extra: list[tuple[str, str]]
              ) -> list[bytes]:  # fmt: skip
        body = text.encode()
        start(status, [("Content-Type", "text/plain; charset=utf-8"),
                       ("Content-Length", str(len(body))), *headers, *extra])  # fmt: skip
        return [body]

    def guarded(environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path == "/":
            return plain(start, "303 See Other", "", [("Location", f"/{APP_NAME}/")])
        if path != f"/{APP_NAME}" and not path.startswith(f"/{APP_NAME}/"):
            return plain(start, "404 Not Found", "not found\n", [])
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return plain(start, "400 Bad Request", "bad Content-Length\n", [])
        if length > MAX_BODY_BYTES:
            return plain(start, "413 Content Too Large",
                         f"request body over {MAX_BODY_BYTES} bytes\n", [])  # fmt: skip

        def start_with_headers(status: str, response_headers: list[tuple[str, str]],
                               exc_info: Any = None) -> Any:  # fmt: skip
            names = {k.lower() for k, _ in response_headers}
            extra = [(k, v) for k, v in headers if k.lower() not in names]
            if path.startswith(f"/{APP_NAME}/static/"):
                extra = [(k, v) for k, v in extra if k != "Cache-Control"]
            return start(status, [*response_headers, *extra], exc_info)

        return app(environ, start_with_headers)

    return guarded


def wsgi_app(runtime: UiRuntime) -> Wsgi:
    """The UI's WSGI application over ``runtime`` (installed for the app to read)."""
    install(runtime)
    session_secret(runtime.ui.data_dir)  # SecretError here, in a sentence, not from the app
    folder = apps_folder(runtime.ui.data_dir)
    from py4web.core import wsgi

    with contextlib.redirect_stdout(io.StringIO()):  # py4web prints "[X] loaded …" per app
        app: Wsgi = wsgi(apps_folder=str(folder), yes=True, logging_level=logging.WARNING)
    from py4web.core import Reloader

    errors = getattr(Reloader, "ERRORS", {})
    if errors.get(APP_NAME):
        last = str(errors[APP_NAME]).strip().splitlines()[-1:] or ["unknown error"]
        log.error("the UI app failed to load:\n%s", errors[APP_NAME])
        raise LaunchError(f"the UI app failed to load: {last[0]}")
    settle_heap()
    return _guard(app, csp(runtime))


def settle_heap() -> None:
    """Move what start-up made (py4web, DuckDB, the app's modules: some 130 000 objects) out
    of the garbage collector's sight. They live as long as the process; without this every
    full collection walks them again, about 80 ms on this class of machine, landing on
    whichever request allocated last (a chart's JSON): the History API's p95 tail."""
    gc.collect()
    gc.freeze()


def check_listen(host: str, port: int) -> None:
    """LaunchError naming ``host:port`` when it cannot be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise LaunchError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def serve(runtime: UiRuntime, ready: Callable[[str], None] | None = None) -> None:
    """Serve the UI until SIGINT/SIGTERM (blocks)."""
    ui = runtime.ui
    check_listen(ui.host, ui.port)
    app = wsgi_app(runtime)
    from rocket3 import Rocket3

    interface: tuple[Any, ...] = (ui.host, ui.port)
    if ui.tls:
        for path in (ui.tls_cert, ui.tls_key):
            if path is not None and not os.access(path, os.R_OK):
                raise LaunchError(f"cannot read {path}")
        interface = (ui.host, ui.port, str(ui.tls_key), str(ui.tls_cert))
    server = Rocket3(interface, "wsgi", {"wsgi_app": app}, min_threads=4, max_threads=32,
                     timeout=60, handle_signals=False)  # fmt: skip
    # Our own handlers, installed before any server thread exists: a SIGINT or SIGTERM at any
    # moment from here on stops the server cleanly (Rocket3's own come only inside start(),
    # and an interrupt before them left its non-daemon threads running).
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda _s, _f: stopping.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}  # fmt: skip
    try:
        server.start(background=True)
        runtime.start_refresher()
        scheme = "https" if ui.tls else "http"
        host = f"[{ui.host}]" if ":" in ui.host else ui.host
        if ready is not None:
            ready(f"{scheme}://{host}:{ui.port}/")
        while not stopping.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        runtime.close()
