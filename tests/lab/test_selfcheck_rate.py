"""Self-check: iperf3 throughput matches the tbf rate; the queue size sets the standing delay."""

from __future__ import annotations

import time

import pytest

from tests.lab.netlab.refstats import iperf3_mbps, parse_ping
from tests.lab.netlab.services import start_iperf3_server

pytestmark = pytest.mark.lab
RATE = 20.0
# tbf counts whole frames (1500-byte IP packet + 14-byte Ethernet header); TCP with timestamps
# carries 1448 payload bytes in each, which is what iperf3 reports.
TCP_GOODPUT = RATE * 1448 / 1514


@pytest.mark.parametrize("direction", ["up", "down"])
def test_iperf3_tcp_throughput_matches_tbf_rate(lab, direction):
    start_iperf3_server(lab)
    # The bottleneck sits in r1 (its egress toward the receiver), as on a real path: a qdisc on
    # the sending host itself would push back on TCP instead of queueing and dropping.
    link = 1 if direction == "up" else 0
    # A 200 ms buffer: a sender that this busy machine does not schedule for a while must not
    # let the bottleneck run dry, or the test would measure the machine, not the bucket.
    lab.set_link(link, direction, rate_mbit=RATE, queue_bytes=500_000)
    # Cubic keeps the bottleneck queue from draining (the queue is far above the path's ~0 BDP),
    # so the link stays busy; BBR (this kernel's default) paces by its own estimate, which a
    # loaded machine's scheduling noise pulls below the rate.
    argv = ["iperf3", "-c", lab.server_ip, "-J", "-t", "4", "-O", "1", "-C", "cubic", "-w", "2M"]
    if direction == "down":
        argv.append("-R")
    mbps = iperf3_mbps(lab.client.ns.run(argv, timeout=30).stdout)
    assert mbps == pytest.approx(RATE, rel=0.05)
    assert mbps == pytest.approx(TCP_GOODPUT, rel=0.01)


def test_queue_size_sets_delay_under_load(lab):
    """A full 100 ms buffer adds ~100 ms to an RTT; a 6 ms buffer only ~6 ms (bufferbloat)."""
    start_iperf3_server(lab)
    results = {}
    for queue_bytes in (250_000, 15_000):
        # On r1, not on the client: a qdisc on the sender itself pushes back on TCP (TSQ) and
        # never fills, where a router queue fills until it drops.
        lab.set_link(1, "up", rate_mbit=RATE, queue_bytes=queue_bytes)
        # Cubic fills a buffer until it drops, which is the point here (this kernel defaults to
        # BBR, which avoids doing so); -w: receive autotuning on a ~0 ms path stays small.
        load = lab.client.ns.popen(
            ["iperf3", "-c", lab.server_ip, "-t", "6", "-w", "1M", "-C", "cubic"]
        )
        try:
            time.sleep(1.0)  # TCP needs a moment to fill the buffer
            out = lab.client.ns.run(
                ["ping", "-n", "-q", "-c", "60", "-i", "0.05", lab.server_ip], check=False
            )
        finally:
            load.wait(15)
        results[queue_bytes] = parse_ping(out.stdout)
    big, small = results[250_000], results[15_000]
    assert big.rtt_max_ms is not None and small.rtt_max_ms is not None
    # A full 250 000-byte buffer drains in 100 ms: the peak RTT is about that (cubic refills it
    # after each loss, and the peak of 60 echoes over 3 s catches a full buffer).
    assert big.rtt_max_ms == pytest.approx(100.0, rel=0.3), results
    # A 15 000-byte buffer holds 9 full frames, 5.4 ms: it can never add more than that.
    assert small.rtt_max_ms <= 9 * 1514 * 8 / (RATE * 1e6) * 1000 + 1.5, results
