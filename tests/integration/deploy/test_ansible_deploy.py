"""The server, agent and UI roles for real, over SSH, on throw-away copies of this machine:
ansible-runner (through ``waddleperf deploy``) reaches network namespaces running sshd whose /etc,
/opt and /var/lib are overlays kept in the test's directory (tests/support/mountns.py).
``--check`` first reports changes and makes none; the deploy installs the wheel offline from a
wheelhouse, writes configs, secrets and units; a second run changes nothing. Then the units'
ExecStart runs as their service users with their capabilities (PID 1 is not systemd): the
server answers and one agent cycle probes it and stores a bundle; the UI (on the agent's host)
lets its deployed admin log in and read History."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support import mountns, sshhosts, wheels
from tests.support.net import free_port, wait_until
from tests.support.require import require_root, require_tool
from waddleperf_common.procs import stop

# ~4 min alone: three deploys over SSH, all in the module fixture (the first test's setup);
# under the whole suite's load it may take longer than the suite's 300 s per-test timeout,
# which is for one test, not for three deploys.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")
SECRETS = {"waddleperf_udp_hmac_key": "udp-key-" + "5a" * 12,
           "waddleperf_stats_token": "stats-token-" + "6b" * 12}  # fmt: skip


ADMIN = {"waddleperf_ui_admin_email": "ops@example.org",
         "waddleperf_ui_admin_password": "Deploy-Horse-Battery-7!"}  # fmt: skip
SERVER_LINK, AGENT_LINK = "10.213.9.1", "10.213.9.2"
Deployed = tuple[list[sshhosts.Host], dict[str, dict[str, dict[str, int]]]]


def _inventory(
    work: Path, hosts: list[sshhosts.Host], key: Path, ports: dict[str, int], ui_port: int
) -> Path:
    known = sshhosts.known_hosts(work / "known_hosts", hosts, work)
    ssh = {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(key),
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_pipelining": True,
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={known} -o ConnectTimeout=5",
        # loopback links: no compression (ansible's default -C), files piped through the
        # multiplexed session instead of an sftp subsystem per copy
        "ansible_ssh_args": "-o ControlMaster=auto -o ControlPersist=120s",
        "ansible_ssh_transfer_method": "piped",
    }
    server_pins = wheels.export_pins(work, "server", ["server"])
    ui_pins = wheels.export_pins(work, "ui", ["ui"])
    # The pinned wheels in a directory the hosts see as it is (/tmp is not an overlay), so
    # they install with --no-index: the uv cache of a frozen sync has no index pages, and
    # shipping ~200 MB of wheels over SSH to every host would take minutes.
    pinned = wheels.wheelhouse(server_pins, ui_pins)
    everyone = {
        "waddleperf_install_wheelhouse": str(wheels.build_wheel(work).parent),
        "waddleperf_install_host_wheels": str(pinned),
        "waddleperf_install_requirements": str(server_pins),
        "waddleperf_install_uv": str(wheels.UV),
        "waddleperf_agent_store": "local",
        **SECRETS,
        **ssh,
    }
    srv = {
        "ansible_host": hosts[0].address,
        "waddleperf_server_ports": ports,
        "waddleperf_server_address": SERVER_LINK,
    }
    # agt is also the UI's host: the UI's venv gets the ui extra's pins, the agent's the host's.
    agt = {
        "ansible_host": hosts[1].address,
        "waddleperf_ui_requirements": str(ui_pins),
        "waddleperf_ui_port": ui_port,
        **ADMIN,
    }
    down = {"ansible_host": hosts[1].address, "ansible_port": free_port()}  # nobody listens
    inventory = {
        "all": {
            "vars": everyone,
            "children": {
                "servers": {"hosts": {"srv": srv}},
                "agents": {"hosts": {"agt": agt, "down": down}},
                "ui": {"hosts": {"agt": {}}},
            },
        }
    }
    path = work / "hosts.yml"
    path.write_text(json.dumps(inventory))
    return path


def _deploy(inventory: Path, *flags: str) -> tuple[int, dict[str, dict[str, int]]]:
    argv = [WADDLEPERF, "deploy", "--inventory", str(inventory), "--ansible-dir",
            str(wheels.CHECKOUT / "ansible"), "--json", *flags]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.stdout, done.stderr[-3000:]
    doc = json.loads(done.stdout)
    return done.returncode, {h.pop("host"): h for h in doc["hosts"]}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """Two machines over SSH (a server, an agent that also runs the UI) and an unreachable
    third; deployed with
    ``--check`` first, then for real, twice."""
    require_root("network and mount namespaces")
    for tool, package in (("unshare", "util-linux"), (sshhosts.SSHD, "openssh-server"),
                          ("ip", "iproute2")):  # fmt: skip
        require_tool(tool, package)
    if not wheels.UV.exists():
        pytest.skip("needs the checkout's uv (make venv)")
    work = tmp_path_factory.mktemp("fleet")
    key = sshhosts.keygen(work / "controller")
    authorized = work / "authorized_keys"
    authorized.write_text((work / "controller.pub").read_text())
    ports = {"http": free_port(), "tcp_echo": free_port(), "udp_echo": free_port(), "iperf": 0}
    with ExitStack() as stack:
        hosts = [stack.enter_context(sshhosts.machine(stack, work, i, authorized))
                 for i in (1, 2)]  # fmt: skip
        sshhosts.link(hosts[0].netns, hosts[1].netns, SERVER_LINK, AGENT_LINK)
        ui_port = free_port()
        inventory = _inventory(work, hosts, key, ports, ui_port)
        every_port = {**ports, "ui": ui_port}
        runs: dict[str, dict[str, dict[str, int]]] = {"ports": every_port}  # type: ignore[dict-item]
        rc, runs["check"] = _deploy(inventory, "--check")
        runs["check_written"] = {"opt": {"files": len(list(
            mountns.upper(hosts[0].root, "/opt").rglob("*")))}}  # fmt: skip
        for run in ("first", "second"):
            rc, runs[run] = _deploy(inventory)
            assert rc == 1, runs[run]  # the unreachable host
        yield hosts, runs


def test_an_unreachable_host_is_reported(deployed: Deployed) -> None:
    _, runs = deployed
    for run in ("check", "first", "second"):
        assert runs[run]["down"]["unreachable"] == 1, runs[run]
        assert runs[run]["srv"]["failed"] == runs[run]["agt"]["failed"] == 0, runs[run]


def test_check_reports_changes_and_makes_none(deployed: Deployed) -> None:
    _, runs = deployed
    assert runs["check"]["srv"]["changed"] > 0 and runs["check"]["agt"]["changed"] > 0
    assert runs["check"]["srv"]["failed"] == 0, runs["check"]
    assert runs["check_written"]["opt"]["files"] == 0


def test_a_second_run_changes_nothing(deployed: Deployed) -> None:
    _, runs = deployed
    assert runs["first"]["srv"]["changed"] > 0
    assert {h: t["changed"] for h, t in runs["second"].items()} == {"srv": 0, "agt": 0, "down": 0}


def test_secrets_are_0600_and_owned_as_planned(deployed: Deployed) -> None:
    hosts, _ = deployed
    key = mountns.upper(hosts[0].root, "/etc/waddleperf/server/udp.key")
    env = mountns.upper(hosts[1].root, "/etc/waddleperf/agent/agent.env")
    ui_env = mountns.upper(hosts[1].root, "/etc/waddleperf/ui/ui.env")
    assert key.read_text().strip() == SECRETS["waddleperf_udp_hmac_key"]
    assert key.stat().st_mode & 0o777 == 0o600 and env.stat().st_mode & 0o777 == 0o600
    assert env.stat().st_uid == 0 and key.stat().st_uid != 0
    assert ui_env.stat().st_mode & 0o777 == 0o600 and ui_env.stat().st_uid == 0
    assert f"WADDLEPERF_UDP_KEY={SECRETS['waddleperf_udp_hmac_key']}\n" in ui_env.read_text()


def _env_file(host: sshhosts.Host, path: str) -> list[str]:
    """The ``NAME=value`` lines of a unit's EnvironmentFile."""
    text = mountns.upper(host.root, path).read_text()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def _exec_start(root: Path, unit: str) -> tuple[str, list[str]]:
    text = mountns.upper(root, f"/etc/systemd/system/{unit}").read_text()
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return fields["User"], shlex.split(fields["ExecStart"])


def _as(host: sshhosts.Host, user: str, argv: list[str], state: str) -> list[str]:
    """argv on ``host`` as ``user`` with CAP_NET_RAW ambient, as the unit runs it, after
    making the state directory systemd's StateDirectory= would make."""
    made = ["install", "-d", "-o", user, "-g", user, "-m", "0750", state]
    subprocess.run(host.enter(made), check=True, timeout=30)
    setpriv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups",
               "--inh-caps=+net_raw", "--ambient-caps=+net_raw", "--no-new-privs"]  # fmt: skip
    return host.enter([*setpriv, *argv])


def test_the_deployed_server_answers_and_the_agent_stores_a_bundle(
    deployed: Deployed, tmp_path: Path
) -> None:
    (srv, agt), runs = deployed
    ports = runs["ports"]
    user, argv = _exec_start(srv.root, "waddleperf-server.service")
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(_as(srv, user, argv, "/var/lib/waddleperf-server"),
                              stdout=log, stderr=log)  # fmt: skip
    try:

        def answers() -> bool:
            probe = [
                "python3",
                "-c",
                "import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=1)",
                f"http://{SERVER_LINK}:{ports['http']}/health",
            ]
            return subprocess.run(agt.enter(probe), capture_output=True, timeout=10).returncode == 0

        assert wait_until(answers, 30), (tmp_path / "server.log").read_text()[-2000:]
        user, argv = _exec_start(agt.root, "waddleperf-agent.service")
        env = _env_file(agt, "/etc/waddleperf/agent/agent.env")
        agent = _as(agt, user, ["env", *env, *argv, "--once"], "/var/lib/waddleperf-agent")
        done = subprocess.run(agent, capture_output=True, text=True, timeout=180, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        results = mountns.upper(agt.root, "/var/lib/waddleperf-agent/results")
        bundles = list(results.rglob("*.tar.gz"))
        assert len(bundles) == 1, done.stderr[-2000:]
    finally:
        stop(server, 10)
        log.close()


#: Inside the UI's host: log in with the login form's key (the 303 not followed), then read
#: History with the session cookie and without it; prints the three statuses as JSON.
LOGIN = r"""
import http.cookiejar, json, re, sys, urllib.error, urllib.parse, urllib.request

base, email, password = sys.argv[1:4]


class Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def status(opener, url, data=None):
    try:
        with opener.open(url, data, timeout=20) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


jar = http.cookiejar.CookieJar()
browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), Stay)
code, page = status(browser, base + "/waddleperf/auth/login")
assert code == 200, code
key = re.search(r'name="_formname" value="login">.*?name="_formkey" value="([^"]+)"',
                page.decode(), re.S).group(1)
form = {"email": email, "password": password, "_formname": "login", "_formkey": key}
login, _ = status(browser, base + "/waddleperf/auth/login", urllib.parse.urlencode(form).encode())
history, body = status(browser, base + "/waddleperf/api/history")
anonymous, _ = status(urllib.request.build_opener(Stay), base + "/waddleperf/api/history")
print(json.dumps({"login": login, "history": history, "anonymous": anonymous,
                  "json": type(json.loads(body)).__name__ if history == 200 else None}))
"""


def test_the_deployed_ui_logs_the_admin_in_and_serves_history(
    deployed: Deployed, tmp_path: Path
) -> None:
    (_, agt), runs = deployed
    base = f"http://127.0.0.1:{runs['ports']['ui']}"
    user, argv = _exec_start(agt.root, "waddleperf-ui.service")
    assert argv[-3:] == ["ui", "--config", "/etc/waddleperf/ui/ui.yml"], argv
    state = "/var/lib/waddleperf-ui"
    env = [*_env_file(agt, "/etc/waddleperf/ui/ui.env"), f"HOME={state}"]
    log = (tmp_path / "ui.log").open("wb")
    ui = subprocess.Popen(_as(agt, user, ["env", f"--chdir={state}", *env, *argv], state),
                          stdout=log, stderr=log)  # fmt: skip
    try:

        def answers() -> bool:
            probe = ["python3", "-c", "import sys, urllib.request as u; u.urlopen(sys.argv[1], "
                     "timeout=1)", f"{base}/waddleperf/auth/login"]  # fmt: skip
            done = subprocess.run(agt.enter(probe), capture_output=True, timeout=10, check=False)
            return done.returncode == 0

        assert wait_until(answers, 60, 0.5), (tmp_path / "ui.log").read_text()[-3000:]
        script = ["python3", "-c", LOGIN, base, ADMIN["waddleperf_ui_admin_email"],
                  ADMIN["waddleperf_ui_admin_password"]]  # fmt: skip
        done = subprocess.run(agt.enter(script), capture_output=True, text=True, timeout=120,
                              check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        seen = json.loads(done.stdout)
        assert seen == {"login": 303, "history": 200, "anonymous": 401, "json": "dict"}, seen
    finally:
        stop(ui, 10)
        log.close()
