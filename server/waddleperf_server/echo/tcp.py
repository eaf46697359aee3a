"""TCP echo: every byte received is sent back, within limits that keep the server safe.

Limits: an idle timeout per connection (no byte received, or the peer not reading our echo,
for ``idle_timeout_s``), a total lifetime per connection (``max_lifetime_s``: a peer that
trickles a byte just inside the idle timeout is still closed then), a cap on concurrent
connections overall and another per source (an IPv4 address or an IPv6 /64; the excess is
closed at once and counted), and a cap on bytes per connection (the connection is closed
once that many have been echoed). At the global cap the slots are shared fairly
(``net/fairshare.py``): a new source is served by shedding the idlest connection of the
source holding the most, or a connection idle ``idle_shed_s``, so a few sources at their
cap cannot deny the echo to everyone else. Memory per connection is one fixed buffer: each
chunk is fully sent before the next is read, so a peer that writes but never reads stalls
itself, not our memory.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import gevent
from gevent.server import StreamServer

from waddleperf_server import logs
from waddleperf_server.config import TcpEchoConfig
from waddleperf_server.net.conncap import source_key
from waddleperf_server.net.fairshare import FairShare, Slot
from waddleperf_server.net.ratelimit import LogThrottle
from waddleperf_server.net.sockets import bind_socket, describe, discard_incoming

BUFFER_BYTES = 65536
# After the byte cap is reached we half-close and briefly discard what the peer still sends,
# so the close does not turn into a RST that destroys the echo the peer has yet to read.
LINGER_S = 1.0
LINGER_MAX_BYTES = 1 << 20
LOG_INTERVAL_S = 10.0


class _Shed(Exception):
    """Raised into a connection's greenlet: its slot was given to another source."""


class TcpEchoService:
    """The TCP echo service (see the module docstring for its limits)."""

    name = "tcp_echo"

    def __init__(self, cfg: TcpEchoConfig, bind: str) -> None:
        self.cfg = cfg
        self.bind = bind
        self._log = logs.get("tcp_echo")
        self._server: Any = None
        self._throttle = LogThrottle(LOG_INTERVAL_S)
        self._state = "stopped"
        self.active = 0
        self.total = 0
        self.rejected = 0
        self.source_rejected = 0
        self.bytes = 0
        self.idle_closed = 0
        self.limit_closed = 0
        self.lifetime_closed = 0
        self.shed = 0
        self._share: FairShare[gevent.Greenlet] = FairShare(
            cfg.max_connections, cfg.max_connections_per_source, cfg.idle_shed_s
        )

    def start(self) -> None:
        """Bind and listen; connections are served on greenlets. OSError if the port is taken."""
        listener = bind_socket(self.bind, self.cfg.port, socket.SOCK_STREAM)
        self._server = StreamServer(listener, self._handle)
        self._server.start()
        self._state = "running"
        self._log.info(
            "listening on %s port=%d max_connections=%d per_source=%d idle_timeout_s=%g "
            "max_lifetime_s=%g",
            self.bind,
            self.cfg.port,
            self.cfg.max_connections,
            self.cfg.max_connections_per_source,
            self.cfg.idle_timeout_s,
            self.cfg.max_lifetime_s,
        )

    def stop(self, timeout: float) -> None:
        """Stop accepting, then close every open connection within ``timeout`` seconds."""
        if self._server is not None:
            self._server.stop(timeout=timeout)
            self._server = None
        self._state = "stopped"

    def status(self) -> dict[str, Any]:
        """State, port and counters (connections; ``bytes`` echoed in total)."""
        return {
            "state": self._state,
            "port": self.cfg.port,
            "active": self.active,
            "total": self.total,
            "rejected": self.rejected,
            "source_rejected": self.source_rejected,
            "sources": len(self._share),
            "bytes": self.bytes,
            "idle_closed": self.idle_closed,
            "limit_closed": self.limit_closed,
            "lifetime_closed": self.lifetime_closed,
            "shed": self.shed,
        }

    def _handle(self, sock: Any, addr: Any) -> None:
        source = source_key(addr)
        admission = self._share.admit(source, gevent.getcurrent(), time.monotonic())
        slot = admission.slot
        if slot is None:
            self.rejected += 1
            if admission.refused == "source":
                self.source_rejected += 1
                self._event(
                    "source",
                    "rejected %s: %d connections open from that source",
                    describe(addr),
                    self._share.count(source),
                )
            else:
                self._event(
                    "rejected", "rejected %s: %d connections open", describe(addr), self.active
                )
            sock.close()
            return
        if admission.shed is not None:
            self.shed += 1
            admission.shed.handle.kill(_Shed(), block=False)
            self._event(
                "shed",
                "shed a connection of %s for %s: %d connections open",
                admission.shed.source,
                describe(addr),
                self.active,
            )
        self.active += 1
        self.total += 1
        lifetime = gevent.Timeout(self.cfg.max_lifetime_s)
        lifetime.start()
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self.cfg.idle_timeout_s)
            self._echo(sock, addr, slot)
        except TimeoutError:
            self.idle_closed += 1
        except _Shed:
            pass  # counted where it was decided
        except gevent.Timeout as exc:
            if exc is not lifetime:
                raise
            self.lifetime_closed += 1
            self._event("lifetime", "closing %s: lifetime reached", describe(addr))
        except OSError as exc:  # resets and the like are the peer's business
            self._event("error", "connection %s ended: %s", describe(addr), exc)
        finally:
            lifetime.close()
            self._share.release(slot)
            self.active -= 1
            sock.close()

    def _echo(self, sock: Any, addr: Any, slot: Slot[gevent.Greenlet]) -> None:
        buf = bytearray(BUFFER_BYTES)
        view = memoryview(buf)
        remaining = self.cfg.max_bytes_per_connection
        while remaining > 0:
            n = sock.recv_into(buf, min(BUFFER_BYTES, remaining))
            if n == 0:
                return
            slot.touch(time.monotonic())
            sock.sendall(view[:n])
            self.bytes += n
            remaining -= n
        self.limit_closed += 1
        self._event("limit", "closing %s: byte limit reached", describe(addr))
        sock.shutdown(socket.SHUT_WR)
        discard_incoming(sock, LINGER_S, LINGER_MAX_BYTES)

    def _event(self, kind: str, fmt: str, *args: object) -> None:
        self._throttle.log(self._log, kind, time.monotonic(), fmt, *args)
