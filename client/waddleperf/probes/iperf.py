"""Throughput with Debian's ``iperf3`` binary driven with ``-J`` (not a Python wrapper).

The target is resolved here so the record names the address measured and the family is ours
to choose; iperf3 then gets an address literal. The child runs in its own session with a hard
deadline (duration + omit + connect timeout + margin) and is killed — its whole process group —
when that passes or when the caller is interrupted, so a cancelled run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass
from typing import Literal, Self

from pydantic import Field, model_validator

from waddleperf.probes import progress
from waddleperf.probes.base import (
    EndpointTarget,
    Family,
    Probe,
    ProbeOptions,
    Recording,
    RunContext,
)
from waddleperf.probes.iperf_json import parse_report
from waddleperf.probes.netio import ResolveError, resolve
from waddleperf.probes.targets import TargetError, parse_endpoint
from waddleperf.results.model import MetricValue, Result, Sample, Scalar, Status

DEFAULT_PORT = 5201
#: Looked up on PATH; deliberately not an option, so no caller can choose what gets executed.
IPERF3 = "iperf3"
#: Beyond duration + omit + connect timeout: iperf3's own start-up and result exchange.
MARGIN_S = 10.0
_RAW_TEXT_CAP = 4000


class IperfOptions(ProbeOptions):
    """Options of the iperf probe (each maps to one iperf3 flag)."""

    target: EndpointTarget = Field(description="iperf3 server: host[:port] or [v6]:port.")
    port: int | None = Field(default=None, ge=1, le=65_535, description="Default 5201.")
    protocol: Literal["tcp", "udp"] = Field(default="tcp", description="-u for udp.")
    reverse: bool = Field(default=False, description="-R: the server sends.")
    bidir: bool = Field(default=False, description="--bidir: both directions at once.")
    parallel: int = Field(default=1, ge=1, le=128, description="-P streams.")
    duration_s: int = Field(default=10, ge=1, le=3600, description="-t seconds.")
    omit_s: int = Field(default=0, ge=0, le=60, description="-O: seconds not counted.")
    interval_s: float = Field(default=1.0, ge=0.1, le=60, description="-i report interval.")
    bitrate_mbps: float | None = Field(
        default=None, ge=0, le=1_000_000, description="-b target rate; 0 = unlimited."
    )
    length_bytes: int | None = Field(default=None, ge=16, le=1_048_576, description="-l.")
    timeout_s: float = Field(default=5.0, gt=0, le=120, description="Connect timeout.")
    family: Family = "any"

    @model_validator(mode="after")
    def _one_direction_mode(self) -> Self:
        if self.reverse and self.bidir:
            raise ValueError("reverse and bidir exclude each other (bidir already includes it)")
        return self

    @property
    def deadline_s(self) -> float:
        """The most the child may take, in seconds."""
        return self.duration_s + self.omit_s + self.timeout_s + MARGIN_S


def iperf3_argv(binary: str, address: str, port: int, options: IperfOptions) -> list[str]:
    """The iperf3 client command line for ``options`` (an argument list, never a shell)."""
    argv = [
        binary, "-c", address, "-p", str(port), "-J",
        "-t", str(options.duration_s), "-i", f"{options.interval_s:g}",
        "-P", str(options.parallel),
        "--connect-timeout", str(max(1, int(options.timeout_s * 1000))),
    ]  # fmt: skip
    if options.protocol == "udp":
        argv.append("-u")
    if options.reverse:
        argv.append("-R")
    if options.bidir:
        argv.append("--bidir")
    if options.omit_s:
        argv += ["-O", str(options.omit_s)]
    if options.bitrate_mbps is not None:
        argv += ["-b", str(int(options.bitrate_mbps * 1e6))]
    if options.length_bytes is not None:
        argv += ["-l", str(options.length_bytes)]
    return argv


@dataclass(frozen=True, slots=True)
class ChildOutcome:
    """How a bounded child process ended: exit code (None if killed), its output, timed out."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the child's whole process group (it leads its own session) and reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def run_bounded(argv: list[str], deadline_s: float) -> ChildOutcome:
    """Run ``argv`` to completion or for at most ``deadline_s`` seconds; never leaves it running.

    Raises OSError when the program cannot be started.
    """
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=deadline_s)
        return ChildOutcome(proc.returncode, out, err, False)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        return ChildOutcome(None, out or "", err or "", True)
    finally:
        # Interrupted (Ctrl-C, a cancelled thread's exception): the child must not outlive us.
        if proc.poll() is None:
            kill_group(proc)


def find_binary(name: str) -> str | None:
    """The iperf3 executable's path, or None when it is not installed."""
    return shutil.which(name)


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return f"{text[:1].upper()}{text[1:]}." if text else "Unknown error."


#: Sample fields renamed for a live line ("elapsed 3.000 s", "moved 1.12 MiB").
_LIVE_NAMES = {"end_s": "elapsed_s", "bytes": "moved_bytes"}


def interval_event(sample: Sample) -> progress.Interval:
    """The line of one iperf3 report interval: its end, throughput and bytes moved."""
    figures: dict[str, MetricValue] = {}
    for key in ("end_s", "throughput_mbps", "bytes", "retransmits_count", "loss_pct"):
        value = sample.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            figures[_LIVE_NAMES.get(key, key)] = value
    direction = sample.get("direction")
    return progress.Interval("reverse" if direction == "reverse" else "interval", figures)


class IperfProbe(Probe[IperfOptions]):
    """TCP/UDP throughput, retransmits, RTT, UDP jitter and loss as iperf3 measures them."""

    name = "iperf"
    options_model = IperfOptions
    summary = "iperf3 -J: TCP/UDP throughput (sent/received Mbit/s), retransmits, RTT, jitter, loss"

    def run(self, options: IperfOptions, context: RunContext | None = None) -> Result:
        """Run one iperf3 client test; throughput in Mbit/s (10⁶), RTT and jitter in ms."""
        rec = Recording(self.kind, options, context)
        binary = find_binary(IPERF3)
        if binary is None:
            return rec.failed("iperf3 is not installed or not on PATH (Debian package iperf3).")
        try:
            endpoint = parse_endpoint(options.target, options.port or DEFAULT_PORT)
            addr = resolve(endpoint.host, endpoint.port, socket.SOCK_STREAM, options.family)
        except (ResolveError, TargetError) as exc:
            return rec.failed(_sentence(str(exc)))
        argv = iperf3_argv(binary, addr.address, endpoint.port, options)
        rec.progress(0, 1)
        plan = f"iperf3 {options.protocol}, {options.duration_s} s" + (
            ", reverse" if options.reverse else ", both ways" if options.bidir else ""
        )
        rec.emit(progress.Start(f"{addr.address} port {endpoint.port}", plan))
        try:
            child = run_bounded(argv, options.deadline_s)
        except OSError as exc:
            return rec.failed(f"Could not start {binary}: {exc}.")
        rec.progress(1, 1)
        info: dict[str, Scalar] = {
            "address": addr.address,
            "port": endpoint.port,
            "command": " ".join(argv),
        }
        if child.timed_out:
            return rec.finish(
                status=Status.FAILED,
                error=f"iperf3 did not finish within {options.deadline_s:g} s and was stopped.",
                info=info,
                raw=child.stdout[-_RAW_TEXT_CAP:] or None,
            )
        try:
            doc = json.loads(child.stdout)
        except ValueError:
            why = (child.stderr or child.stdout).strip()[-500:] or f"exit code {child.returncode}"
            return rec.finish(
                status=Status.FAILED,
                error=f"iperf3 gave no JSON result: {why}",
                info=info,
                raw=child.stdout[-_RAW_TEXT_CAP:] or None,
            )
        report = parse_report(doc)
        if rec.live:  # -J reports the intervals at the end, so that is when they are shown
            for sample in report.samples:
                rec.emit(interval_event(sample))
        info.update(protocol=report.protocol, reverse=report.reverse, bidir=report.bidir)
        if report.error is not None:
            return rec.finish(
                status=Status.FAILED,
                error=f"iperf3: {_sentence(report.error)}",
                metrics=report.metrics or None,
                info=info,
                raw=doc,
            )
        return rec.finish(
            status=Status.OK,
            metrics=report.metrics,
            error=". ".join(report.notes) + "." if report.notes else None,
            samples=report.samples,
            info=info,
            raw=doc,
        )
