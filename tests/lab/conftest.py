"""Fixtures of the network lab (see docs/lab.md).

Tests marked ``@pytest.mark.lab`` skip, with the reason, when the machine cannot run the lab
(not root, a tool missing) — except under ``CI=true``, where they fail instead: CI installs
everything and runs as root, so a lab test that does not run there is a broken CI.

- ``lab_factory(routers=1, ipv6=True, seed=None) -> Lab``: build labs; all torn down after.
- ``lab -> Lab``: one router (``@pytest.mark.parametrize("lab", [3], indirect=True)`` for 3).
- ``lab_server -> LabServer``: ``waddleperf server`` with every service on ``lab.server_ip``;
  ``lab_server_factory(**kwargs) -> LabServer`` for other binds (IPv6), ports, flags or env.
- ``dns_server -> DnsServer``: dnsmasq with A/AAAA records (server.lab.test, …).
- ``ssh_server -> SshServer``: sshd on port 2222, root by generated key only.
- ``in_client(argv, check=True, timeout=60) -> CompletedProcess[str]``: a tool in the client ns;
  ``in_server`` the same in the server ns.
- ``client_call(fn, *args, **kwargs)``: run Python ``fn`` in a thread inside the client ns.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any

import pytest

from tests.lab.netlab import DelayerDied, Lab
from tests.lab.netlab.env import missing_requirements
from tests.lab.netlab.lifecycle import close_all, leftovers
from tests.lab.netlab.services import (
    DnsServer,
    LabServer,
    SshServer,
    start_dnsmasq,
    start_sshd,
    start_waddleperf_server,
)
from tests.lab.netlab.topology import Node
from tests.support.factory import stopping
from tests.support.require import require


def pytest_configure(config: pytest.Config) -> None:
    """Let SIGTERM stop a test run the way Ctrl-C does, so fixtures tear the labs down.

    By default SIGTERM ends Python without finalizers or atexit, which would leave namespaces
    and the services in them running until the next lab's stale clean-up.
    """
    del config
    if threading.current_thread() is threading.main_thread() and (
        signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, _terminate)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The whole run, not only each lab, must leave nothing: a namespace or temp dir of a lab
    this process made that is still there at the end fails the run."""
    del exitstatus
    left = leftovers(os.getpid())
    if left:
        close_all()  # what is still open in this process goes now, at the latest
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"network lab left behind: {', '.join(left)}", red=True)


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def lab_unavailable_reason() -> str | None:
    """Why lab tests cannot run on this machine, or None."""
    reasons = missing_requirements()
    return "; ".join(reasons) if reasons else None


def require_lab() -> None:
    """Skip (or, under CI=true, fail) the current test when the lab cannot run here."""
    reason = lab_unavailable_reason()
    require(reason is None, f"network lab unavailable: {reason}")


@pytest.fixture(autouse=True)
def _lab_requirements(request: pytest.FixtureRequest) -> None:
    # Marked tests are checked even if they build labs themselves; lab_factory checks the rest.
    if request.node.get_closest_marker("lab") is not None:
        require_lab()


@pytest.fixture
def lab_factory(_lab_requirements: None) -> Iterator[Callable[..., Lab]]:
    """Build labs on demand; each is torn down at the end of the test, whatever happened."""
    require_lab()
    labs: list[Lab] = []

    def make(routers: int = 1, ipv6: bool = True, seed: int | None = None) -> Lab:
        lab = Lab(routers=routers, ipv6=ipv6, seed=seed)
        labs.append(lab)
        return lab.build()

    yield make
    problems: list[str] = []
    for lab in labs:  # every lab is closed, whatever the check or another close raised
        try:
            lab.check()
        except DelayerDied as exc:
            problems.append(str(exc))
        except Exception as exc:
            problems.append(f"checking {lab.tag}: {exc!r}")
        finally:
            try:
                lab.close()
            except Exception as exc:
                problems.append(f"closing {lab.tag}: {exc!r}")
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture
def lab(request: pytest.FixtureRequest, lab_factory: Callable[..., Lab]) -> Lab:
    """A lab with one router, or ``request.param`` routers when parametrized indirectly."""
    routers = int(getattr(request, "param", 1))
    return lab_factory(routers=routers)


@pytest.fixture
def lab_server_factory(lab: Lab) -> Iterator[Callable[..., LabServer]]:
    """Start more servers in the lab: ``make(bind=lab.server_ip6, http_port=8081, env=…)``.

    Keyword arguments are those of ``services.start_waddleperf_server`` (bind, the four ports,
    args, env, wait); each server is stopped at the end of the test.
    """
    yield from stopping(functools.partial(start_waddleperf_server, lab))


@pytest.fixture
def lab_server(lab: Lab) -> Iterator[LabServer]:
    """The real WaddlePerf server with every service, in the lab's server namespace."""
    srv = start_waddleperf_server(lab)
    yield srv
    srv.stop()


@pytest.fixture
def dns_server(lab: Lab) -> DnsServer:
    """dnsmasq serving the lab's names on the server's addresses, port 53."""
    return start_dnsmasq(lab)


@pytest.fixture
def ssh_server(lab: Lab) -> SshServer:
    """sshd on the server's addresses, port 2222, accepting the generated key for root."""
    return start_sshd(lab)


RunInNs = Callable[..., "subprocess.CompletedProcess[str]"]


def _runner(node: Node) -> RunInNs:
    def run(
        argv: Sequence[str], check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        return node.ns.run(argv, check=check, timeout=timeout)

    return run


@pytest.fixture
def in_client(lab: Lab) -> RunInNs:
    """Run a tool inside the client namespace: ``in_client(["ping", "-c", "1", addr])``."""
    return _runner(lab.client)


@pytest.fixture
def in_server(lab: Lab) -> RunInNs:
    """Run a tool inside the server namespace."""
    return _runner(lab.server)


@pytest.fixture
def client_call(lab: Lab) -> Callable[..., Any]:
    """Call Python code inside the client namespace: ``client_call(probe.run, options)``."""
    return lab.client.ns.call
