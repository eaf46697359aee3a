"""Failed-login limits: per client address and per account, over a sliding window.

Pure (the clock is a parameter). A login is refused before the password is even checked when
the address or the account has had ``limit`` failures within ``window_s``; the answer says
how long to wait. Memory is bounded: at most :data:`MAX_KEYS` addresses and accounts are
remembered (the stalest forgotten first), each with at most ``limit`` failure times.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_KEYS = 10_000


class _Window:
    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self.fails: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, key: str, now: float) -> float:
        times = self.fails.get(key)
        if times is None:
            return 0.0
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self.fails[key]
            return 0.0
        return times[0] + self.window_s - now if len(times) >= self.limit else 0.0

    def fail(self, key: str, now: float) -> None:
        times = self.fails.setdefault(key, deque(maxlen=self.limit))
        times.append(now)
        self.fails.move_to_end(key)
        while len(self.fails) > MAX_KEYS:
            self.fails.popitem(last=False)


class LoginLimiter:
    """``per_address`` and ``per_account`` failures within ``window_s`` seconds."""

    def __init__(self, per_address: int, per_account: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._address = _Window(per_address, window_s)
        self._account = _Window(per_account, window_s)
        self._clock = clock
        self._lock = threading.Lock()

    def refusal(self, address: str, account: str) -> str | None:
        """Why a login attempt is refused now (with the wait), or None."""
        now = self._clock()
        with self._lock:
            wait_address = self._address.wait(address, now)
            wait_account = self._account.wait(account.lower(), now)
        if wait_address > 0:
            return (
                f"too many failed logins from {address}: try again in {math.ceil(wait_address)} s"
            )
        if wait_account > 0:
            return (
                f"too many failed logins for this account: try again in {math.ceil(wait_account)} s"
            )
        return None

    def failed(self, address: str, account: str) -> None:
        """Count a failed attempt against both."""
        now = self._clock()
        with self._lock:
            self._address.fail(address, now)
            self._account.fail(account.lower(), now)

    def succeeded(self, account: str) -> None:
        """A good password: the account's count starts again (the address's does not)."""
        with self._lock:
            self._account.fails.pop(account.lower(), None)
