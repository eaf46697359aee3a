"""netlab: emulated networks in Linux network namespaces, for measuring against a known truth.

Build a lab (root needed)::

    from tests.lab.netlab import Lab

    with Lab(routers=2) as lab:                      # client — r1 — r2 — server
        lab.set_link(0, "up", delay_ms=20)           # client → r1: 20 ms one way
        lab.set_link(1, "both", loss_pct=5, rate_mbit=20, queue_bytes=30_000)
        print(lab.client.ns.run(["ping", "-c", "3", lab.server_ip]).stdout)
        lab.set_link(0, "up", delay_ms=0)            # live changes

See docs/lab.md for what it can and cannot emulate and its measured precision.
"""

from __future__ import annotations

from tests.lab.netlab.impair import Shaping
from tests.lab.netlab.lifecycle import cleanup_stale, close_all, install_signal_handlers
from tests.lab.netlab.ns import LabCommandError, Namespace
from tests.lab.netlab.topology import Impairment, Lab, Node, link_addr
from tests.lab.netlab.tunpath import DelayerDied, DelayerHandle

__all__ = [
    "DelayerDied",
    "DelayerHandle",
    "Impairment",
    "Lab",
    "LabCommandError",
    "Namespace",
    "Node",
    "Shaping",
    "cleanup_stale",
    "close_all",
    "install_signal_handlers",
    "link_addr",
]
