"""A throw-away network lab by hand: ``make lab-shell`` or ``python -m tests.lab.shell [options]``.

Builds client — r1 … rN — server, applies the impairments asked for, optionally starts the
WaddlePerf server, dnsmasq and sshd in the server namespace, and opens a shell in the client
namespace. Leaving the shell (or SIGTERM/SIGHUP) tears everything down.

Examples::

    python -m tests.lab.shell --routers 3 --delay-ms 20 --loss-pct 1
    python -m tests.lab.shell --set 1:up:rate_mbit=20,queue_bytes=30000 --server
    python -m tests.lab.shell --delay-ms 10 -- ping -c 3 10.250.1.2   # run one command instead

Impairments can be changed from inside the shell with the command the banner prints
(``python -m tests.lab.netlab.ctl``), or with tc/nft in the router namespaces.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from typing import Any

from tests.lab.netlab import Impairment, Lab, install_signal_handlers
from tests.lab.netlab.ns import REPO_ROOT
from tests.lab.netlab.services import start_dnsmasq, start_sshd, start_waddleperf_server

_FIELDS = {name: typ for name, typ in Impairment.__annotations__.items()}


def parse_set(spec: str) -> tuple[int, str, dict[str, Any]]:
    """``LINK:DIR:key=value,...`` (DIR up/down/both) → (link, direction, Impairment changes)."""
    try:
        link_s, direction, assignments = spec.split(":", 2)
        changes: dict[str, Any] = {}
        for item in assignments.split(","):
            key, value = item.split("=", 1)
            if key not in _FIELDS:
                raise ValueError(f"unknown impairment {key!r} (one of {', '.join(_FIELDS)})")
            changes[key] = int(value) if "bytes" in key else float(value)
        if direction not in ("up", "down", "both"):
            raise ValueError("direction must be up, down or both")
        return int(link_s), direction, changes
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--set {spec!r}: {exc}") from None


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the lab shell."""
    p = argparse.ArgumentParser(
        prog="python -m tests.lab.shell",
        description="Open a shell in the client namespace of a throw-away network lab.",
    )
    p.add_argument("--routers", type=int, default=1, help="routers between client and server")
    p.add_argument("--link", type=int, default=0, help="link the shortcut options apply to")
    p.add_argument("--delay-ms", type=float, default=0.0, help="one-way delay, each direction")
    p.add_argument("--jitter-ms", type=float, default=0.0, help="± uniform jitter, each direction")
    p.add_argument("--loss-pct", type=float, default=0.0, help="random loss, each direction")
    p.add_argument("--rate-mbit", type=float, default=None, help="tbf rate, each direction")
    p.add_argument("--queue-bytes", type=int, default=None, help="tbf queue (buffer) size")
    p.add_argument(
        "--set", action="append", type=parse_set, default=[], metavar="LINK:DIR:k=v,...",
        help="any impairment on any link, e.g. 1:up:loss_pct=5,rate_mbit=20 (repeatable)",
    )  # fmt: skip
    p.add_argument("--server", action="store_true", help="start waddleperf server (all services)")
    p.add_argument("--dns", action="store_true", help="start dnsmasq (server.lab.test, …)")
    p.add_argument("--ssh", action="store_true", help="start sshd on port 2222 (key login)")
    p.add_argument("--no-ipv6", action="store_true", help="IPv4 only")
    p.add_argument("command", nargs="*", help="run this in the client namespace instead of a shell")
    return p


def banner(lab: Lab, extra: list[str]) -> str:
    """What the user needs to know about the lab just built."""
    lines = [
        f"network lab {lab.tag}: client — {' — '.join(r.role for r in lab.routers)} — server",
        f"  client {lab.client_ip} {lab.client_ip6}   server {lab.server_ip} {lab.server_ip6}",
        f"  namespaces: {', '.join(n.name for n in lab.nodes)}",
    ]
    for (link, d), imp in sorted(lab.impairments.items()):
        changed = {k: v for k, v in vars(imp).items() if v not in (None, 0, 0.0)}
        if changed:
            lines.append(f"  link {link} {d}: {changed}")
    for k, handle in sorted(lab.delayers.items()):
        lines.append(
            f"  r{k} delayer ({handle.control}): python -m tests.lab.netlab.ctl r{k} set dly-up "
            "delay_ms=30 jitter_ms=2"
        )
    lines += extra
    lines.append("  exit the shell to tear the lab down")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Build the lab, run the shell or command, tear down; return the shell's exit code."""
    args = build_parser().parse_args(argv)
    if os.geteuid() != 0:
        print("the network lab needs root", file=sys.stderr)
        return 1
    install_signal_handlers()
    with Lab(routers=args.routers, ipv6=not args.no_ipv6) as lab:
        shortcut = {
            "delay_ms": args.delay_ms, "jitter_ms": args.jitter_ms, "loss_pct": args.loss_pct,
            "rate_mbit": args.rate_mbit, "queue_bytes": args.queue_bytes,
        }  # fmt: skip
        if any(v for v in shortcut.values()):
            lab.set_link(args.link, "both", **shortcut)
        for link, direction, changes in args.set:
            lab.set_link(link, direction, **changes)
        extra: list[str] = []
        if args.server:
            srv = start_waddleperf_server(lab)
            extra.append(f"  waddleperf server: {srv.base_url} (log {srv.log_path})")
        if args.dns:
            dns = start_dnsmasq(lab)
            extra.append(f"  dnsmasq: {dns.host}:{dns.port} names {', '.join(dns.records)}")
        if args.ssh:
            ssh = start_sshd(lab)
            extra.append(f"  sshd: {' '.join(ssh.ssh_argv())}")
        print(banner(lab, extra), file=sys.stderr, flush=True)
        env = dict(os.environ, PS1=f"[lab {lab.tag} client] \\w# ", WPL_LAB=lab.tag)
        # ctl accepts "r1" for $WPL_CTL_R1, so delayers can be changed without the socket path.
        env.update({f"WPL_CTL_R{k}": str(h.control) for k, h in lab.delayers.items()})
        cmd = args.command or [os.environ.get("SHELL", "/bin/bash")]
        # The shell handles Ctrl-C itself; we must not die of it and leave the lab behind. A
        # handler, not SIG_IGN: an ignored signal would stay ignored in the shell's children.
        old = signal.signal(signal.SIGINT, lambda *_: None)
        try:
            return subprocess.call(lab.client.ns.argv(cmd), env=env, cwd=REPO_ROOT)
        finally:
            signal.signal(signal.SIGINT, old)


if __name__ == "__main__":
    sys.exit(main())
