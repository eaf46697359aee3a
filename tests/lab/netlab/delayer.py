"""The lab's packet delayer: holds IP packets read from TUN devices, then writes them back.

This module is the process and its event loop (TUN devices, control socket, scheduling
priority); what happens to each packet is ``delaysched`` (no I/O).

Run as its own process inside a router namespace (standard library only, so it starts fast)::

    python delayer.py --parent-pid PID --control SOCK --tun dly-up --tun dly-dn

Each TUN device is one direction of one router. Policy routing in the router sends packets
arriving from one side into the device; this program reads each packet, keeps it until its release
time, restores the hop count the extra pass through the kernel took, and writes it back, after
which the kernel forwards it by the main table. A device carries a chain of *stages* (one per lab
link whose delay this router emulates); each stage has delay, jitter, duplicate and reorder.

Order: a packet's release time is never earlier than the previous packet's on the same stage
(``max(prev, now + delay ± jitter)``), so jitter does not reorder; only ``reorder_pct`` does, by
sending a chosen packet on without that stage's delay so it overtakes the ones held.

Control: a UNIX stream socket, one JSON request per connection, one JSON reply:
``{"cmd": "set", "tun": NAME, "stages": [{...}]}``, ``{"cmd": "stats", "reset": false}``,
``{"cmd": "ping"}``. It exits when its parent dies (PR_SET_PDEATHSIG plus a parent-pid check).
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import errno
import fcntl
import heapq
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING or __package__:
    from tests.lab.netlab.delaysched import Schedule, Stage, Tun, recv_line, restore_hop
    from tests.lab.netlab.delaytruth import SNAP
else:  # run as a script (``python delayer.py``): this folder is sys.path[0]; stdlib only
    from delaysched import Schedule, Stage, Tun, recv_line, restore_hop
    from delaytruth import SNAP

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
PR_SET_PDEATHSIG = 1
PR_SET_TIMERSLACK = 29
READ_BATCH = 256
# A wake-up from select() comes late on this kind of VM, so the loop sleeps until this close to
# a release and then polls. Measured by the kernel's truth (docs/lab.md, 20 runs of the
# 3-router path): 0.1 ms left the writes 0.05 ms late per device on average, 0.3 ms 0.015.
# At high packet rates that is near-constant polling, which the CPU guard below keeps from
# running as real-time.
# WPL_SPIN_S and WPL_SCHED (normal/nice/fifo) exist to measure the alternatives (docs/lab.md).
SPIN_S = float(os.environ.get("WPL_SPIN_S", "0.0003"))
# Real-time priority only while the delayer needs little CPU: one that is CPU-bound (unshaped
# TCP through it) would hit the kernel's RT throttling — 50 ms stalls for every RT task on that
# CPU, other labs' delayers included — and starve the machine. Measured every GUARD_S.
GUARD_S = 0.1
DEMOTE_ABOVE = 0.5  # share of one CPU
PROMOTE_BELOW = 0.25
MAX_PACKET = 65_536
RT_PRIORITY = 10
# The truth socket (delaytruth): a packet socket on each device, kernel-timestamped copies.
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_OUTGOING = 4  # a copy of what the kernel sends into the device: an arrival
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
ETH_P_ALL = 0x0003
TRUTH_RCVBUF = 64 << 20
TRUTH_BATCH = 256
# Copies are read in the slack before the next release — as many as its time allows at
# TRUTH_COST_S each (a steady stream leaves room between its packets) — and all of them for
# every stats request; reading them never makes a release late. Their kernel stamps do not age
# in the queue. WPL_TRUTH=stats reads them only for stats requests (the loop as it is without
# them, to measure it); WPL_TRUTH=0 opens no truth sockets at all.
TRUTH_COST_S = 10e-6
TRUTH_MODE = os.environ.get("WPL_TRUTH", "slack")


def open_tun(name: str) -> int:
    """Create TUN device ``name`` (no packet-info header) and return its non-blocking fd."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    ifr = struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    return fd


def open_truth(name: str) -> socket.socket:
    """A packet socket on device ``name`` that gets a kernel-stamped copy (the first SNAP
    bytes) of every packet going into it and coming out of it."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, TRUTH_RCVBUF)
    sock.bind((name, ETH_P_ALL))
    sock.setblocking(False)
    return sock


def drain_truth(sock: socket.socket, tun: Tun, limit: int) -> bool:
    """Hand up to ``limit`` queued copies to ``tun.truth``; True when none is left."""
    truth = tun.truth
    for _ in range(limit):
        try:
            data, ancillary, _flags, addr = sock.recvmsg(SNAP, 64)
        except BlockingIOError:
            return True
        except OSError as exc:  # ENETDOWN until the device is up: nothing went through it
            if exc.errno != errno.ENETDOWN:
                raise
            return True
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", payload[:16])
                truth.sniffed(data, sec + nsec * 1e-9, addr[2] == PACKET_OUTGOING)
    return False


def truth_drops(sock: socket.socket) -> int:
    """Copies the kernel dropped for want of buffer since the last call."""
    _packets, drops = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    return int(drops)


class Delayer:
    """The event loop: read packets, schedule them on a heap by release time, write them back."""

    def __init__(
        self,
        tuns: list[Tun],
        control: socket.socket,
        parent_pid: int,
        seed: int,
        truth: dict[str, socket.socket] | None = None,
    ) -> None:
        self.tuns = {t.name: t for t in tuns}
        self.truth = truth or {}
        self.by_fd = {t.fd: t for t in tuns}
        self.control = control
        self.parent_pid = parent_pid
        self.schedule = Schedule(seed)
        self.heap = self.schedule.heap  # the hot loops pop it directly
        self.running = True
        self.realtime = False  # SCHED_FIFO granted at start-up
        self.promoted = False  # currently SCHED_FIFO
        self.demotions = 0

    def release_due(self) -> None:
        """Write every packet whose time has come."""
        heap = self.heap
        while heap:
            now = time.monotonic()
            if heap[0][0] > now:
                return
            release, _, tun, data, injected = heapq.heappop(heap)
            try:
                os.write(tun.fd, data)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EINVAL, errno.EIO):
                    raise
                continue
            tun.record_write(data, now - release, injected)

    def read_tun(self, tun: Tun) -> None:
        """Drain what the kernel queued on the device (bounded so releases are not starved)."""
        for _ in range(READ_BATCH):
            try:
                pkt = os.read(tun.fd, MAX_PACKET)
            except BlockingIOError:
                return
            tun.rx += 1
            if tun.stages:
                self.schedule.add(tun, pkt, time.monotonic())
            else:
                buf = bytearray(pkt)
                restore_hop(buf)
                os.write(tun.fd, buf)
                tun.record_write(bytes(buf), 0.0, 0.0)

    def handle_control(self) -> None:
        """Answer one control request."""
        conn, _ = self.control.accept()
        with conn:
            conn.settimeout(2.0)
            raw = recv_line(conn)
            try:
                reply = self.command(json.loads(raw or b"{}"))
            except (ValueError, KeyError, TypeError) as exc:
                reply = {"ok": False, "error": str(exc)}
            conn.sendall(json.dumps(reply).encode() + b"\n")

    def command(self, req: dict[str, object]) -> dict[str, object]:
        """Apply one control request; return the reply document."""
        cmd = req.get("cmd")
        if cmd == "ping":
            return {"ok": True, "pid": os.getpid(), "held": len(self.heap)}
        if cmd == "set":
            tun = self.tuns[str(req["tun"])]
            stages_raw = req.get("stages", [])
            if not isinstance(stages_raw, list):
                raise TypeError("stages must be a list")
            new = [Stage.from_dict(s) for s in stages_raw]
            # Carry the release horizon over so a change while packets are held keeps order.
            horizon = max((s.prev_release for s in tun.stages), default=0.0)
            for stage in new:
                stage.prev_release = horizon
            tun.stages = new
            return {"ok": True}
        if cmd == "stats":
            for name, sock in self.truth.items():
                tun = self.tuns[name]
                while not drain_truth(sock, tun, 10_000):
                    pass
                tun.truth.dropped += truth_drops(sock)
            out = {name: t.stats() for name, t in self.tuns.items()}
            for name, t in self.tuns.items():  # packets of this device held right now
                out[name]["held"] = self.schedule.held(t)
            if req.get("reset"):
                for t in self.tuns.values():
                    t.reset()
            return {
                "ok": True,
                "tuns": out,
                "held": len(self.heap),
                "realtime": self.promoted,
                "demotions": self.demotions,
            }
        if cmd == "stop":
            self.running = False
            return {"ok": True}
        raise ValueError(f"unknown command {cmd!r}")

    def guard_cpu(self, wall: float, cpu: float) -> None:
        """Drop from SCHED_FIFO while busy above DEMOTE_ABOVE of a CPU; return when calm."""
        if not self.realtime:
            return
        share = cpu / wall if wall > 0 else 0.0
        try:
            if self.promoted and share > DEMOTE_ABOVE:
                os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
                self.promoted = False
                self.demotions += 1
            elif not self.promoted and share < PROMOTE_BELOW:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
                self.promoted = True
        except OSError:
            self.realtime = False

    def loop(self) -> None:
        """Run until stopped, signalled, or orphaned."""
        fds = [*self.by_fd, self.control.fileno()]
        ctl_fd = self.control.fileno()
        last_parent_check = last_guard = time.monotonic()
        last_cpu = time.process_time()
        while self.running:
            self.release_due()
            now = time.monotonic()
            if self.truth and TRUTH_MODE != "stats":
                slack = self.heap[0][0] - now - SPIN_S if self.heap else 1.0
                budget = min(TRUTH_BATCH, int(slack / TRUTH_COST_S)) // len(self.truth)
                if budget > 0:
                    for name, sock in self.truth.items():
                        drain_truth(sock, self.tuns[name], budget)
                    now = time.monotonic()
            timeout = 0.5
            if self.heap:
                timeout = min(timeout, max(0.0, self.heap[0][0] - now - SPIN_S))
            # select() takes a microsecond timeval; epoll/poll would round up to whole ms.
            readable, _, _ = select.select(fds, [], [], timeout)
            for fd in readable:
                if fd == ctl_fd:
                    self.handle_control()
                else:
                    self.read_tun(self.by_fd[fd])
            if now - last_guard > GUARD_S:
                cpu = time.process_time()
                self.guard_cpu(now - last_guard, cpu - last_cpu)
                last_guard, last_cpu = now, cpu
            if now - last_parent_check > 0.5:
                last_parent_check = now
                if os.getppid() != self.parent_pid:
                    return


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0)


def main(argv: list[str] | None = None) -> int:
    """Entry point: create the devices, say ``ready``, run the loop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tun", action="append", required=True, help="TUN device to create")
    parser.add_argument("--control", required=True, help="UNIX socket path for control")
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--sched", choices=["normal", "nice", "fifo"], default=os.environ.get("WPL_SCHED", "fifo")
    )
    args = parser.parse_args(argv)

    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != args.parent_pid:
        return 3  # the parent died before PDEATHSIG was armed
    # Default timer slack (50 µs) would be added to every hold; 1 ns keeps wake-ups on time.
    _prctl(PR_SET_TIMERSLACK, 1)
    # The delayer's error is its wake-up latency; on a busy machine other processes delay it
    # unless it is preferred by the scheduler. Best effort: without the right it runs as is.
    realtime = False
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10 if args.sched != "normal" else 0)
        if args.sched == "fifo":
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
            realtime = True
    except OSError:
        pass
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    tuns = [Tun(name, open_tun(name)) for name in args.tun]
    # Opened before any traffic: the kernel switches receive stamps on with a delay, and a copy
    # queued before that would be stamped when read. WPL_TRUTH=0 measures the delayer without.
    truth = {} if TRUTH_MODE == "0" else {t.name: open_truth(t.name) for t in tuns}
    for t in tuns:
        t.truth.enabled = bool(truth)
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    control.bind(args.control)
    control.listen(16)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    delayer = Delayer(tuns, control, args.parent_pid, seed, truth)
    delayer.realtime = delayer.promoted = realtime
    print("ready", flush=True)
    try:
        delayer.loop()
    finally:
        control.close()
        for t in tuns:
            os.close(t.fd)
        for sock in truth.values():
            sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
