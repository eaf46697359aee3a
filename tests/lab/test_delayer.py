"""The TUN delayer: keeps order under jitter, reorders and duplicates only when asked, sustains
tens of Mbit/s with little error of its own, and a crash fails the test instead of hiding."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.lab.netlab import DelayerDied
from tests.lab.netlab.refstats import binomial_bounds, parse_ping, second_chance
from tests.lab.netlab.services import start_iperf3_server

pytestmark = pytest.mark.lab
PORT = 9999


def send_numbered(host: str, count: int, interval_s: float) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        start = time.monotonic()
        for seq in range(count):
            sock.sendto(struct.pack("!I", seq) + b"x" * 60, (host, PORT))
            # Paced against the start time, so sleep overshoot does not slow the stream down.
            pause = start + (seq + 1) * interval_s - time.monotonic()
            if pause > 0:
                time.sleep(pause)


def receive_numbered(host: str, ready, idle_s: float = 1.0) -> list[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((host, PORT))
        sock.settimeout(5.0)
        ready.append(True)
        got: list[int] = []
        while True:
            try:
                data = sock.recv(2048)
            except TimeoutError:
                return got
            got.append(struct.unpack("!I", data[:4])[0])
            sock.settimeout(idle_s)


def stream(lab, count: int = 1000, interval_s: float = 0.001):
    """Send ``count`` numbered datagrams client → server; the sequence numbers as received."""
    ready: list[bool] = []
    with ThreadPoolExecutor(1) as pool:
        receiving = pool.submit(lab.server.ns.call, receive_numbered, lab.server_ip, ready)
        while not ready:
            time.sleep(0.01)
        lab.client.ns.call(send_numbered, lab.server_ip, count, interval_s)
        return receiving.result(timeout=60)


def test_jitter_does_not_reorder(lab):
    lab.set_link(0, "up", delay_ms=10, jitter_ms=8)
    got = stream(lab, count=2000, interval_s=0.0005)
    assert got == list(range(2000))


def test_reorder_pct_reorders_that_share(lab_factory):
    lab = lab_factory(seed=7)  # the delayer's draws are then the same every run
    lab.set_link(0, "up", delay_ms=10, reorder_pct=10)
    got = stream(lab, count=1000)
    assert sorted(got) == list(range(1000))  # nothing lost, nothing doubled
    early = sum(1 for i in range(1, len(got)) if got[i] < got[i - 1])
    reordered = lab.delayers[1].stats()["tuns"]["dly-up"]["reordered"]
    lo, hi = binomial_bounds(1000, 0.10, 0.99)
    assert lo <= reordered <= hi
    # Each packet sent on early overtakes the ~10 held behind it: one descent in the sequence.
    assert early == pytest.approx(reordered, abs=reordered * 0.1 + 2)


def test_duplicate_pct_duplicates_that_share_in_order(lab_factory):
    lab = lab_factory(seed=7)
    lab.set_link(1, "up", delay_ms=1, duplicate_pct=5)
    got = stream(lab, count=1000)
    assert set(got) == set(range(1000))
    dups = len(got) - 1000
    lo, hi = binomial_bounds(1000, 0.05, 0.99)
    assert lo <= dups <= hi
    assert got == sorted(got)  # the copy follows its original


def test_sustains_50_mbits_with_small_own_error(lab):
    start_iperf3_server(lab)
    lab.set_link(0, "up", delay_ms=10)

    def measure():
        before = lab.delayers[1].stats(reset=True)  # each run judged on its own packets
        out = lab.client.ns.run(
            # -w 4M: the receiver's socket buffer must ride out moments when a busy machine
            # does not schedule iperf3, else its drops (not the delayer's) are what is measured.
            ["iperf3", "-c", lab.server_ip, "-u", "-b", "50M", "-l", "1400", "-t", "3", "-J",
             "-w", "4M"],
            timeout=30,
        ).stdout  # fmt: skip
        return json.loads(out)["end"]["sum"], lab.delayers[1].stats(), before

    def on_time(run) -> bool:
        # The delayer's own error: the median write within 0.2 ms of its release time; the
        # mean also carries the machine's scheduling stalls, so a stalled run is measured again.
        stats = run[1]["tuns"]["dly-up"]
        return bool(stats["late_p50_ms"] <= 0.2 and stats["late_mean_ms"] < 0.5)

    def ok(run) -> bool:
        # Everything a stall of the machine can spoil (iperf3's own receiver included).
        end = run[0]
        rate_ok = abs(end["bits_per_second"] / 50e6 - 1) <= 0.03
        return on_time(run) and end["lost_percent"] < 0.5 and rate_ok

    runs = second_chance(measure, ok)
    end, reply, before = runs[-1]
    assert end["lost_percent"] < 0.5, end
    assert end["bits_per_second"] / 1e6 == pytest.approx(50, rel=0.03)
    stats = reply["tuns"]["dly-up"]
    assert stats["rx"] > 3 * 50e6 / 8 / 1428 * 0.9
    # The delayer itself lost nothing: what came in since the reset either went out or is held
    # (less what it held at the reset, which went out after it).
    held_before = before["tuns"]["dly-up"]["held"]
    print("delayer dly-up:", stats, "held at reset:", held_before)
    assert stats["rx"] - stats["tx"] == stats["held"] - held_before, (stats, held_before)
    tun = json.loads(lab.routers[0].ns.run(["ip", "-s", "-j", "link", "show", "dly-up"]).stdout)
    assert tun[0]["stats64"]["tx"]["dropped"] == 0  # nor did its device queue overflow
    assert on_time(runs[-1]), [r[1]["tuns"]["dly-up"] for r in runs]


def test_crashed_delayer_fails_clearly(lab):
    lab.set_link(0, "both", delay_ms=5)
    handle = lab.delayers[1]
    os.kill(handle.proc.pid, signal.SIGKILL)
    handle.proc.wait(5)
    with pytest.raises(DelayerDied, match="exited with code -9"):
        lab.check()
    with pytest.raises(DelayerDied):
        lab.client.ns.run(["true"])
    # Fail-closed: without the delayer, the router drops instead of forwarding undelayed.
    lab.delayers.clear()  # stop the watchdog so the probe below can run
    out = lab.client.ns.run(["ping", "-n", "-c", "3", "-i", "0.1", "-W", "1", lab.server_ip],
                            check=False)  # fmt: skip
    assert parse_ping(out.stdout).received == 0


def test_delayer_started_from_a_short_lived_thread_survives_it(lab):
    import threading

    worker = threading.Thread(target=lab.set_link, args=(0, "up"), kwargs={"delay_ms": 5})
    worker.start()
    worker.join()
    time.sleep(0.3)
    lab.check()  # raises DelayerDied if PDEATHSIG had fired with the thread

    def avg_ms() -> float | None:
        out = lab.client.ns.run(["ping", "-n", "-c", "3", "-i", "0.1", lab.server_ip]).stdout
        return parse_ping(out).rtt_avg_ms

    def ok(avg: float | None) -> bool:
        return avg is not None and abs(avg - 5.0) <= 1.0

    # Three pings: one stall of the machine moves their average (6.4 ms seen in CI), so a run
    # that misses is measured again; a delayer that died or lost its delay misses every time.
    runs = second_chance(avg_ms, ok)
    assert ok(runs[-1]), runs
