"""Option validation and the registry: bad usage is a ValidationError naming the problem."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic import ValidationError

from waddleperf.probes import base
from waddleperf.probes.base import ProbeOptions, Recording, UnknownProbeError, status_of
from waddleperf.results.model import SAMPLES_CAP, Status


def opts(kind: str, **kw: Any) -> Any:
    return base.get(kind).options(kw)


def test_registry_names_and_lazy_get():
    assert {"dns", "http", "icmp", "ssh", "tcp", "udp"} <= set(base.names())
    probe = base.get("tcp")
    assert probe.kind == "probe.tcp" and probe.summary
    with pytest.raises(UnknownProbeError, match="known: dns"):
        base.get("nope")


def test_register_a_plugin():
    class EchoOptions(ProbeOptions):
        pass

    @base.register
    class Dummy(base.Probe[EchoOptions]):
        name = "dummy"
        options_model = EchoOptions
        summary = "test plug-in"

        def run(self, options, context=None):
            return Recording(self.kind, options, context).finish(status=Status.OK)

    try:
        r = base.run_probe("dummy", {"target": "x"})
        assert r.kind == "probe.dummy" and r.status is Status.OK
        assert r.params == {"timeout_s": 2.0}
    finally:
        base._REGISTRY.pop("dummy")


@pytest.mark.parametrize(
    ("kind", "kw", "fragment"),
    [
        ("icmp", {"target": "bad host"}, "label"),
        ("icmp", {"target": "127.0.0.1", "count": 0}, "greater than"),
        ("icmp", {"target": "127.0.0.1", "size_bytes": 8}, "greater than"),
        ("icmp", {"target": "127.0.0.1", "mode": "fast"}, "auto"),
        ("icmp", {"target": "127.0.0.1", "resolvers": []}, "Extra inputs"),
        ("tcp", {"target": "127.0.0.1:0"}, "outside"),
        ("udp", {"target": "127.0.0.1", "key_env": "WP_SURELY_UNSET_VAR"}, "not set"),
        ("udp", {"target": "127.0.0.1", "key_file": "/nonexistent/key"}, "does not exist"),
        ("http", {"target": "ftp://x/"}, "only http"),
        ("dns", {"target": "a..b"}, "not a DNS name"),
        ("dns", {"target": "x.test", "record_type": "BOGUS"}, "unknown record type"),
        ("dns", {"target": "x.test", "resolvers": ["dns.example"]}, "must be an IP"),
        ("ssh", {"target": "127.0.0.1", "password_env": "WP_SURELY_UNSET_VAR"}, "not set"),
        ("ssh", {"target": "127.0.0.1", "command": "true"}, "needs authentication"),
    ],
)
def test_invalid_options(kind, kw, fragment):
    with pytest.raises(ValidationError, match=fragment):
        opts(kind, **kw)


def test_udp_key_sources(tmp_path, monkeypatch):
    key_file = tmp_path / "key"
    key_file.write_bytes(b"secret\n")
    o = opts("udp", target="127.0.0.1", key_file=str(key_file))
    assert o.key() == b"secret"
    monkeypatch.setenv("WP_KEY", "k2")
    assert opts("udp", target="127.0.0.1", key_env="WP_KEY").key() == b"k2"
    with pytest.raises(ValidationError, match="not both"):
        opts("udp", target="127.0.0.1", key_env="WP_KEY", key_file=str(key_file))
    with pytest.raises(ValidationError, match="HMAC"):
        opts("udp", target="127.0.0.1", key_env="WP_KEY", size_bytes=40)


def test_params_never_hold_the_key(monkeypatch):
    monkeypatch.setenv("WP_KEY", "topsecret")
    o = opts("udp", target="127.0.0.1", key_env="WP_KEY")
    r = Recording("probe.udp", o, None).finish(status=Status.OK)
    assert "topsecret" not in r.to_json()
    assert r.params["key_env"] == "WP_KEY"


def test_recording_caps_samples():
    o = opts("tcp", target="127.0.0.1:1")
    samples: list[dict[str, Any]] = [{"i": i} for i in range(SAMPLES_CAP + 5)]
    r = Recording("probe.tcp", o, base.RunContext(tier=2, run_id="r1", agent="a1")).finish(
        status=Status.OK, samples=samples
    )
    assert r.samples is not None and len(r.samples) == SAMPLES_CAP
    assert r.samples_dropped == 5
    assert (r.tier, r.run_id, r.agent) == (2, "r1", "a1")


@pytest.mark.parametrize(
    ("ok", "total", "status"),
    [(3, 3, Status.OK), (0, 3, Status.FAILED), (1, 3, Status.DEGRADED), (0, 0, Status.FAILED)],
)
def test_status_of(ok, total, status):
    assert status_of(ok, total) is status


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("no reply.", "No reply."),
        ("x failed: Authentication failed..", "X failed: Authentication failed."),
        ("  ok ", "Ok."),
    ],
)
def test_sentence(text, want):
    assert base.sentence(text) == want


def test_paced_keeps_an_absolute_schedule(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    stamps = []
    for i in base.paced(4, 0.02):
        stamps.append(round(clock[0] - 100.0, 6))
        if i == 1:
            clock[0] += 0.03  # one slow iteration: the next is late, the one after on time
    assert stamps == [0.0, 0.02, 0.05, 0.06]
