"""Messages between the supervisor and one HTTP worker: newline-delimited JSON over a
socketpair, both ways. A side *asks* (``{"ask": what, "id": n}``) and gets a reply
(``{"reply": n, "data": …}``) from the other side's handler for ``what``, or sends an
*event* (``{"event": what}``) that is handled without a reply. Greenlet-based: asks wait
cooperatively, each with its own timeout; a line over MAX_LINE_BYTES closes the channel."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import AsyncResult
from gevent.lock import Semaphore

MAX_LINE_BYTES = 1 << 20

Handler = Callable[[], Any]


class ChannelError(OSError):
    """The other side did not answer in time, or the channel is closed."""


class Channel:
    """One end of a supervisor↔worker channel; ``handlers`` answer the other side's asks
    and events by name; ``on_close`` runs once when the other side goes away."""

    def __init__(
        self,
        sock: Any,
        handlers: dict[str, Handler],
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._sock = sock
        self._handlers = handlers
        self._on_close = on_close
        self._ids = itertools.count(1)
        self._pending: dict[int, AsyncResult] = {}
        self._write_lock = Semaphore()
        self._reader: gevent.Greenlet | None = None
        self.closed = False

    def start(self) -> Channel:
        """Begin reading the other side's messages on a greenlet."""
        self._reader = gevent.spawn(self._read)
        return self

    def ask(self, what: str, timeout: float) -> Any:
        """The other side's answer to ``what``; ChannelError if none within ``timeout`` s."""
        if self.closed:
            raise ChannelError("channel closed")
        ident = next(self._ids)
        result = AsyncResult()
        self._pending[ident] = result
        try:
            self._send({"ask": what, "id": ident})
            return result.get(timeout=timeout)
        except gevent.Timeout:
            raise ChannelError(f"no answer to {what!r} within {timeout:g} s") from None
        finally:
            self._pending.pop(ident, None)

    def notify(self, what: str) -> None:
        """Send the event ``what`` (no answer expected)."""
        self._send({"event": what})

    def close(self) -> None:
        """Close this end; pending asks fail at once."""
        if self._reader is not None and self._reader is not gevent.getcurrent():
            self._reader.kill(block=False)
        self._closed()
        with contextlib.suppress(OSError):
            self._sock.close()

    def _send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"
        with self._write_lock:
            try:
                self._sock.sendall(data)
            except OSError as exc:
                self._closed()
                raise ChannelError(f"channel closed: {exc}") from None

    def _read(self) -> None:
        stream = self._sock.makefile("rb")
        try:
            while True:
                line = stream.readline(MAX_LINE_BYTES + 1)
                if not line or len(line) > MAX_LINE_BYTES:
                    return
                self._dispatch(json.loads(line))
        except (OSError, ValueError):
            return
        finally:
            self._closed()

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "reply" in message:
            pending = self._pending.get(message["reply"])
            if pending is not None:
                pending.set(message.get("data"))
        elif "ask" in message:
            gevent.spawn(self._answer, str(message["ask"]), message.get("id"))
        elif "event" in message and (handler := self._handlers.get(message["event"])):
            handler()

    def _answer(self, what: str, ident: Any) -> None:
        handler = self._handlers.get(what)
        data = handler() if handler is not None else None
        with contextlib.suppress(ChannelError):
            self._send({"reply": ident, "data": data})

    def _closed(self) -> None:
        if self.closed:
            return
        self.closed = True
        for pending in self._pending.values():
            pending.set_exception(ChannelError("channel closed"))
        if self._on_close is not None:
            self._on_close()
