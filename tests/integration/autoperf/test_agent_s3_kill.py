"""SIGKILL the real agent (``waddleperf autoperf``, S3 store) while an upload is in flight.

Everything on 127.0.0.1: the project's server (probed), moto's ThreadedMotoServer (the S3
endpoint) and, between agent and moto, the tests' fault proxy, which holds the agent's
``PutObject``:

1. **before S3 sees it**: the agent is killed while its PUT waits in the proxy; the proxy then
   finds the client gone and drops the request, as S3 drops an upload whose client vanished;
2. **after S3 stored it**: the next agent takes over the spool lock; its PUT reaches moto, the
   answer is held, and the agent is killed before it could remove the bundle from the spool;
3. a third agent runs one cycle and drains the spool.

Then every bundle any agent wrote is in the bucket exactly once (one key and, the bucket being
versioned, one version each), under the Hive layout, with the local bundle's SHA-256 in its
metadata and the manifest's tags; the spool is empty.
"""

from __future__ import annotations

import collections
import hashlib
import http.server
import os
import re
import select
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.agentconf import AgentRun, quick_tiers, server_entry, write_agent
from tests.support.agentproc import AgentProcess
from tests.support.net import wait_until
from tests.support.s3support import (
    AWS_ENV,
    FaultProxy,
    Moto,
    admin_client,
    object_versions,
    proxied_bucket,
    stored_keys,
)
from waddleperf.localstack import LocalServer
from waddleperf.results.reader import read_manifest, verify_bundle
from waddleperf.results.stores import bundle_tags, hive_key

PREFIX = "waddle"
AGENT = "kill-agent"
#: The longest the proxy holds a PUT waiting for its client to go away.
HOLD_MAX_S = 30.0
KEY_RE = re.compile(
    rf"^{PREFIX}/v1/date=(\d{{4}}-\d{{2}}-\d{{2}})/agent={AGENT}/([0-9a-f]{{32}})\.tar\.gz$"
)


def _client_gone(sock: socket.socket) -> bool:
    """True when the peer closed its end (a SIGKILLed process's sockets are closed by the
    kernel) or reset it; False while it is still waiting for our answer."""
    try:
        readable, _, _ = select.select([sock], [], [], 0.05)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class HoldingProxy(FaultProxy):
    """The fault proxy, plus PUTs held until their client is gone.

    ``hold`` lists what to do with the next PUTs: ``"before"`` holds the request without
    forwarding it and drops it once the client is gone (S3 never sees it); ``"after"`` forwards
    it (S3 stores the object) and withholds the answer until the client is gone.
    """

    def __init__(self, upstream_port: int) -> None:
        super().__init__(upstream_port)
        self.hold: collections.deque[str] = collections.deque()
        self.holding: list[str] = []  # paths of PUTs being held right now
        self.dropped: list[str] = []  # held "before": never reached S3
        self.stored_unanswered: list[str] = []  # held "after": in S3, the answer never sent
        self.forwarded_puts: list[str] = []  # every PUT that reached S3

    def _forward(
        self, req: http.server.BaseHTTPRequestHandler, method: str, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        mode = None
        if method == "PUT":
            with self._lock:
                mode = self.hold.popleft() if self.hold else None
        if mode is None:
            answer = super()._forward(req, method, body)
            if method == "PUT":
                self.forwarded_puts.append(req.path)
            return answer
        if mode == "after":
            super()._forward(req, method, body)
            self.forwarded_puts.append(req.path)
            self.stored_unanswered.append(req.path)
        self.holding.append(req.path)
        deadline = time.monotonic() + HOLD_MAX_S
        while not _client_gone(req.connection) and time.monotonic() < deadline:
            pass
        self.holding.remove(req.path)
        if mode == "before":
            self.dropped.append(req.path)
        raise ConnectionAbortedError("the client went away while its PUT was held")


@dataclass
class Lab:
    run: AgentRun
    proxy: HoldingProxy
    moto: Moto
    bucket: str
    agents: list[AgentProcess] = field(default_factory=list)

    @property
    def spool(self) -> Path:
        return self.run.spool

    def start(self, *args: str) -> AgentProcess:
        tag = f"agent{len(self.agents)}"
        env = self.run.env(AWS_ENV)  # the test's environment is fake_aws's already
        agent = AgentProcess.start(self.run.argv("--json", *args), env, self.run.tmp, tag)
        self.agents.append(agent)
        return agent

    def bundles(self) -> list[Path]:
        return sorted(self.spool.glob("*.tar.gz"))

    def lock_holder(self) -> int | None:
        try:
            return int((self.spool / ".lock").read_text().strip() or 0)
        except (OSError, ValueError):
            return None


@pytest.fixture
def lab(tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    with proxied_bucket(monkeypatch, f"wp-kill-{os.getpid()}", HoldingProxy) as s3:
        probes = [{"probe": "tcp", "options": {"count": 2}},
                  {"probe": "http", "options": {"count": 1}}]  # fmt: skip
        run = write_agent(tmp_path, {
            "agent": {"id": AGENT},
            "servers": [server_entry(server)],
            "tiers": quick_tiers(tier1={"probes": probes}),
            "storage": {"spool_dir": str(tmp_path / "spool"),
                        "store": s3.agent_store(PREFIX, read_timeout_s=30)},
        })  # fmt: skip
        lab = Lab(run, s3.proxy, s3.moto, s3.bucket)
        try:
            yield lab
        finally:
            for agent in lab.agents:
                agent.kill()


def _snapshot(lab: Lab, into: Path) -> dict[str, str]:
    """Copy the spool's bundles aside (the agent is dead: they cannot change); name → sha256."""
    into.mkdir(exist_ok=True)
    shas = {}
    for bundle in lab.bundles():
        verify_bundle(bundle)  # whatever the kill interrupted, finished names are whole bundles
        shutil.copy2(bundle, into / bundle.name)
        shas[bundle.name] = hashlib.sha256(bundle.read_bytes()).hexdigest()
    return shas


def test_sigkill_mid_upload_then_restart_stores_each_bundle_once(lab: Lab, tmp_path: Path) -> None:
    began = time.monotonic()
    seen = tmp_path / "seen"
    local: dict[str, str] = {}  # bundle name → sha256 of the bytes the agent spooled

    # 1. Killed while its first PUT waits in the proxy, with more cycles spooled behind it.
    lab.proxy.hold.append("before")
    first = lab.start()
    assert wait_until(lambda: bool(lab.proxy.holding) and len(lab.bundles()) >= 3, 30), (
        first.err.read_text()
    )
    first.kill()
    local |= _snapshot(lab, seen)
    assert wait_until(lambda: bool(lab.proxy.dropped), 5)  # the held PUT never reached S3
    assert lab.proxy.forwarded_puts == [] and stored_keys(lab.moto.url, lab.bucket) == []
    oldest = lab.bundles()[0]

    # 2. A new agent takes over the lock (the kernel dropped the dead one's flock) and sends the
    #    oldest bundle again; S3 stores it, the answer is held, and this agent is killed too.
    lab.proxy.hold.append("after")
    second = lab.start()
    assert wait_until(lambda: lab.lock_holder() == second.proc.pid, 15), second.err.read_text()
    assert wait_until(lambda: bool(lab.proxy.stored_unanswered and lab.proxy.holding), 20), (
        second.err.read_text()
    )
    second.kill()
    local |= _snapshot(lab, seen)
    assert oldest.exists()  # stored in S3, but never confirmed: still in the spool
    (in_s3,) = stored_keys(lab.moto.url, lab.bucket)
    assert in_s3.endswith(f"/{read_manifest(oldest).run_id}.tar.gz")

    # 3. A third agent runs one cycle; its uploader finds the stored bundle by checksum,
    #    uploads the rest, and the final pass at exit leaves the spool empty.
    third = lab.start("--cycles", "1")
    assert third.proc.wait(timeout=40) == 0, third.err.read_text()
    elapsed = time.monotonic() - began

    assert lab.bundles() == [] and not list(lab.spool.glob(".*.tmp"))
    assert not list(lab.spool.glob("quarantine/*"))
    summaries = [s for agent in lab.agents for s in agent.summaries()]
    written = {Path(s["output"]).name for s in summaries if s.get("output")}
    assert written <= set(local) | {Path(s["output"]).name for s in third.summaries()}
    assert len(local) >= 3 and len(third.summaries()) == 1

    # Exactly once: one key per bundle, one version per key, every PUT to a different key.
    s3 = admin_client(lab.moto.url)
    keys = stored_keys(lab.moto.url, lab.bucket)
    expected = {f"{PREFIX}/{hive_key(read_manifest(seen / name))}": name for name in local}
    new = [Path(s["output"]).name for s in third.summaries()]
    assert set(expected) < set(keys) and len(keys) == len(local) + len(new)
    versions = object_versions(lab.moto.url, lab.bucket)
    assert sorted(k for k, ids in versions.items() for _ in ids) == keys, (
        "a bundle reached S3 twice"
    )
    assert len(lab.proxy.forwarded_puts) == len(set(lab.proxy.forwarded_puts)) == len(keys)

    for key in keys:
        match = KEY_RE.match(key)
        assert match, key
        data = s3.get_object(Bucket=lab.bucket, Key=key)["Body"].read()
        sha = hashlib.sha256(data).hexdigest()
        copy = tmp_path / "got.tar.gz"
        copy.write_bytes(data)
        manifest = verify_bundle(copy)  # what S3 holds is a whole, valid bundle
        assert key == f"{PREFIX}/{hive_key(manifest)}"
        assert match.group(1) == manifest.started_at.strftime("%Y-%m-%d")
        assert match.group(2) == manifest.run_id and manifest.agent == AGENT
        head = s3.head_object(Bucket=lab.bucket, Key=key)
        assert head["Metadata"]["sha256"] == sha and head["ContentLength"] == len(data)
        assert head["Metadata"]["run-id"] == manifest.run_id
        if key in expected:  # spooled by a killed agent: the very bytes it wrote
            assert sha == local[expected[key]]
        tags = s3.get_object_tagging(Bucket=lab.bucket, Key=key)["TagSet"]
        got = {t["Key"]: t["Value"] for t in tags}
        assert got == bundle_tags(manifest)
        assert got["agent"] == AGENT and got["tier"] == "1" and got["country"] == "loopback"
    print(f"{len(keys)} bundles, 2 kills, {elapsed:.1f} s")
    assert elapsed < 60
