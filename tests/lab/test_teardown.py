"""Teardown: nothing of a lab outlives it — not after an exception, a signal, or a kill -9."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.lab.netlab import DelayerDied, Lab, cleanup_stale
from tests.lab.netlab.ns import REPO_ROOT
from tests.lab.netlab.refstats import parse_ping

pytestmark = pytest.mark.lab


def netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def test_exception_inside_lab_leaves_nothing():
    lab = Lab(routers=2)
    with pytest.raises(ZeroDivisionError), lab:
        lab.set_link(0, "both", delay_ms=5)
        lab.client.ns.popen(["sleep", "60"])
        pids = [lab.delayers[1].proc.pid]
        assert {n.name for n in lab.nodes} <= netns_names()
        _ = 1 / 0
    assert not {n for n in netns_names() if n.startswith(lab.tag)}
    assert not lab.workdir.exists()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    lab.close()  # idempotent


def test_crashed_delayer_then_teardown_leaves_nothing():
    lab = Lab(routers=2)
    with pytest.raises(DelayerDied), lab:
        lab.set_link(0, "both", delay_ms=5)
        victim = lab.delayers[1].proc
        others = [h.proc.pid for h in lab.delayers.values() if h.proc is not victim]
        victim.kill()  # the delayer crashes mid-test
        victim.wait(5)
        lab.set_link(0, "both", delay_ms=6)  # the next lab command notices, clearly
    assert not {n for n in netns_names() if n.startswith(lab.tag)}
    assert not lab.workdir.exists()
    for pid in others:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_concurrent_labs_do_not_collide():
    with Lab(routers=1) as a, Lab(routers=1) as b:
        assert a.tag != b.tag
        a.set_link(0, "up", delay_ms=10)
        argv = ["ping", "-n", "-q", "-c", "5", "-i", "0.05"]
        ping_a = parse_ping(a.client.ns.run([*argv, a.server_ip]).stdout)
        ping_b = parse_ping(b.client.ns.run([*argv, b.server_ip]).stdout)
        # a's delay holds every echo of a (none faster), and none of b's: b's fastest echo is
        # its kernel-only round trip (a stall of a busy machine can only make echoes slower).
        assert ping_a.rtt_min_ms is not None and ping_a.rtt_min_ms >= 10.0, ping_a
        assert ping_b.rtt_min_ms is not None and ping_b.rtt_min_ms < 1.0, ping_b
    assert not {n for n in netns_names() if n.startswith((a.tag, b.tag))}


SCRIPT = """
import sys, time
from tests.lab.netlab import Lab, install_signal_handlers
install_signal_handlers()
lab = Lab(routers=1).build()
lab.set_link(0, "both", delay_ms=1)
print(lab.tag, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_signals_leave_nothing(sig):
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    tag = proc.stdout.readline().strip()
    assert tag.startswith("wpl-")
    assert any(n.startswith(tag) for n in netns_names())
    proc.send_signal(sig)
    proc.wait(20)
    if sig == signal.SIGKILL:
        # Nothing in the dead process could clean up; its delayer died with it (PDEATHSIG) and
        # the next lab (or cleanup_stale) removes its namespaces.
        time.sleep(0.2)
        removed = cleanup_stale()
        assert any(name.startswith(tag) for name in removed)
    assert not any(n.startswith(tag) for n in netns_names())
    assert not (Path(tempfile.gettempdir()) / tag).exists()
    leftover = subprocess.run(["pgrep", "-f", "delayer.py.*" + tag], capture_output=True)
    assert leftover.returncode == 1


def test_lab_shell_runs_a_command_and_cleans_up():
    def shell(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tests.lab.shell", *args],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    out = shell("--routers", "2", "--delay-ms", "5", "--", "ping", "-n", "-c", "3", "-i", "0.2",
                "10.250.2.2")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "ttl=62" in out.stdout and "time=10." in out.stdout
    ctl = shell("--set", "1:up:delay_ms=3", "--", sys.executable, "-m", "tests.lab.netlab.ctl",
                "r1", "stats")  # fmt: skip
    assert ctl.returncode == 0, ctl.stderr
    assert '"dly-up"' in ctl.stdout
    for run in (out, ctl):
        tag = re.search(r"network lab (wpl-\S+):", run.stderr)
        assert tag, run.stderr
        assert not any(n.startswith(tag.group(1)) for n in netns_names())


PYTEST_FILE = """
import time
import pytest

@pytest.mark.lab
def test_hangs(lab, dns_server):
    lab.set_link(0, "both", delay_ms=1)
    print("TAG", lab.tag, flush=True)
    time.sleep(60)
"""


def test_sigterm_to_pytest_tears_labs_down(tmp_path):
    test_file = tmp_path / "test_hangs.py"
    test_file.write_text(PYTEST_FILE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "tests.lab.conftest",
         "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(test_file)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    tag = ""
    for line in proc.stdout:
        if line.startswith("TAG "):
            tag = line.split()[1]
            break
    assert tag.startswith("wpl-")
    inside = [
        int(pid)
        for ns in netns_names()
        if ns.startswith(tag)
        for pid in subprocess.run(
            ["ip", "netns", "pids", ns], capture_output=True, text=True
        ).stdout.split()
    ]
    assert len(inside) >= 2  # dnsmasq in the server namespace, the delayer in r1
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert not any(n.startswith(tag) for n in netns_names())
    for pid in inside:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
