"""IPv6 sources counted by /64, for real: in a namespace of the test's own, clients from two
addresses of one /64 share one HTTP cap, one TCP echo cap and one UDP bucket, while an
address of another /64 has its own (the probe: prefix64_probe.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.integration.server import prefix64_probe as probe
from tests.support import netns
from tests.support.require import require

REPO = Path(__file__).resolve().parents[3]


def test_one_64_is_one_source_for_every_service() -> None:
    require(netns.available(), "needs root and iproute2 for a network namespace")
    with netns.namespace(probe.ADDRESSES) as inside:
        run = subprocess.run(
            [*inside, sys.executable, "-m", "tests.integration.server.prefix64_probe"],
            capture_output=True, text=True, timeout=120, cwd=REPO,
            env={k: v for k, v in os.environ.items() if not k.startswith("WADDLEPERF_")},
        )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    # HTTP: ::a, ::b fill their /64's cap of 2; ::a again is refused; the other /64 is served.
    assert out["http"] == [200, 200, 429, 200]
    # TCP echo: the same, a third connection from the /64 closed at once.
    assert out["tcp"] == [True, True, False, True]
    # UDP: a bucket of 2 for the /64: ::a takes both, ::b gets nothing; the other /64 gets 2.
    assert out["udp"] == [2, 0, 2]
    health = out["health"]
    assert health["udp_echo"]["tracked_sources"] == 2
    assert health["http"]["source_rejected"] == 1 and health["tcp_echo"]["source_rejected"] == 1
