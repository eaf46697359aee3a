"""Accuracy: the path MTU is the MTU of the narrowest link, IPv4 and IPv6, as ping agrees."""

from __future__ import annotations

import pytest

from waddleperf.probes.base import run_probe
from waddleperf.results.model import Status

pytestmark = pytest.mark.lab
NARROW = 1400


@pytest.mark.parametrize("lab", [2], indirect=True)
def test_narrowest_link_sets_the_path_mtu(lab, client_call, in_client):
    # Link 1 (router 1 — router 2) is the narrow one; the client's own link stays at 1500.
    lab.routers[0].ns.run(["ip", "link", "set", "eth-s", "mtu", str(NARROW)])
    lab.routers[1].ns.run(["ip", "link", "set", "eth-c", "mtu", str(NARROW)])
    for target, header in ((lab.server_ip, 28), (lab.server_ip6, 48)):
        r = client_call(run_probe, "mtu", {"target": target})
        assert r.status is Status.OK, r.error
        print(f"mtu {target}: {r.metrics['path_mtu_bytes']} in {r.metrics['probes_count']} probes")
        assert r.metrics["path_mtu_bytes"] == NARROW
        assert r.metrics["interface_mtu_bytes"] == 1500
        assert r.metrics["reported_mtu_bytes"] == NARROW  # router 1 said so
        # Reference: ping with DF set (-M do).
        fits = in_client(["ping", "-n", "-c", "1", "-W", "1", "-M", "do", "-s",
                          str(NARROW - header), target], check=False)  # fmt: skip
        too_big = in_client(["ping", "-n", "-c", "1", "-W", "1", "-M", "do", "-s",
                             str(NARROW - header + 1), target], check=False)  # fmt: skip
        assert fits.returncode == 0 and too_big.returncode != 0
