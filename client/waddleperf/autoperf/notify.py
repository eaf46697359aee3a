"""Escalation notifications: an HTTP POST of the event JSON and/or a command fed it on stdin.

Both are bounded (timeout per try, a fixed number of retries) and run on one background
thread, so a slow receiver never delays a measurement; ``flush`` waits for what is queued, up
to a deadline, before the agent exits. A failure is logged, never raised.
"""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from waddleperf.autoperf.config import CommandConfig, NotifyConfig, WebhookConfig

log = logging.getLogger("waddleperf.autoperf.notify")
#: Seconds between webhook retries (doubling).
BACKOFF_S = 0.5


def post_webhook(cfg: WebhookConfig, payload: dict[str, Any]) -> bool:
    """POST ``payload`` as JSON; retry on errors and 5xx; True once a 2xx arrives."""
    body = json.dumps(payload).encode()
    delay = BACKOFF_S
    for attempt in range(cfg.retries + 1):
        req = urllib.request.Request(  # noqa: S310 — the config admits http(s) URLs only
            cfg.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=cfg.timeout_s) as resp:  # noqa: S310
                if 200 <= resp.status < 300:
                    return True
                problem = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code}"
            if exc.code < 500:  # the receiver refuses this payload: retrying will not help
                log.warning("webhook %s refused the event: %s", cfg.url, problem)
                return False
        except (OSError, ValueError) as exc:
            problem = str(exc)
        log.warning("webhook %s try %d/%d failed: %s", cfg.url, attempt + 1, cfg.retries + 1,
                    problem)  # fmt: skip
        if attempt < cfg.retries:
            time.sleep(delay)
            delay *= 2
    return False


def run_command(cfg: CommandConfig, payload: dict[str, Any]) -> bool:
    """Run the argument list with the event JSON on stdin; True if it exits 0 in time."""
    try:
        proc = subprocess.run(
            cfg.argv,
            input=json.dumps(payload).encode(),
            capture_output=True,
            timeout=cfg.timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        log.warning("notify command %s timed out after %g s", cfg.argv[0], cfg.timeout_s)
        return False
    except OSError as exc:
        log.warning("notify command %s could not run: %s", cfg.argv[0], exc)
        return False
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()[-300:]
        log.warning("notify command %s exited %d: %s", cfg.argv[0], proc.returncode, err)
        return False
    return True


class Notifier:
    """Delivers event payloads in the background, in order."""

    def __init__(self, cfg: NotifyConfig) -> None:
        self.cfg = cfg
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.delivered = 0

    @property
    def enabled(self) -> bool:
        """True when a webhook or a command is configured."""
        return self.cfg.webhook is not None or self.cfg.command is not None

    def wants(self, escalation: bool) -> bool:
        """Whether an escalation (or, if configured, a de-escalation) is notified."""
        return self.enabled and (escalation or self.cfg.on_deescalation)

    def submit(self, payload: dict[str, Any]) -> None:
        """Queue ``payload`` for delivery (starts the worker on first use)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="notify", daemon=True)
            self._thread.start()
        self._queue.put(payload)

    def _work(self) -> None:
        while (payload := self._queue.get()) is not None:
            try:
                if self.cfg.webhook is not None:
                    self.delivered += post_webhook(self.cfg.webhook, payload)
                if self.cfg.command is not None:
                    run_command(self.cfg.command, payload)
            except Exception:
                log.exception("notification failed")
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def flush(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for queued deliveries; True if all were attempted."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self._queue.unfinished_tasks
