"""``notify.command`` from the real agent: each escalation's event JSON on the command's stdin,
in event order, as an argument list (no shell); a failing command is logged, never fatal."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.support.agentconf import quick_tiers, server_entry, write_agent
from waddleperf.localstack import LocalServer
from waddleperf.results.reader import read_bundle

#: Tier 1 and tier 2 always breach on loopback: one ``--once`` cycle escalates 1 → 2 → 3.
CLIMB = {
    "tier1": {"thresholds": {"rtt_ms": 0.0001}},
    "tier2": {"thresholds": {"rtt_ms": 0.0001}, "probes": [
        {"probe": "udp", "label": "udp_long",
         "options": {"count": 20, "interval_s": 0.005, "timeout_s": 1}},
    ]},
    "tier3": {"probes": [], "load": False},
}  # fmt: skip

#: Appends one line per call: its argv and the JSON it read on stdin.
RECORDER = (
    "import json, sys; event = json.loads(sys.stdin.buffer.read()); "
    "out = open(sys.argv[1], 'a'); out.write(json.dumps({'argv': sys.argv[2:], 'event': event})"
    " + '\\n'); out.close()"
)


def _calls(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_command_gets_each_escalation_event_on_stdin(tmp_path: Path, server: LocalServer) -> None:
    out = tmp_path / "events.ndjson"
    # Characters a shell would act on arrive verbatim: the argument list is not a command line.
    literal = "$HOME; echo pwned > x | `id`"
    command = {"argv": [sys.executable, "-c", RECORDER, str(out), literal], "timeout_s": 10}
    run = write_agent(tmp_path, {"servers": [server_entry(server)], "agent": {"id": "cmd-agent"},
                                 "tiers": quick_tiers(**CLIMB),
                                 "notify": {"command": command}})  # fmt: skip
    proc = run.run("--once", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert [(e["from_tier"], e["to_tier"]) for e in summary["events"]] == [(1, 2), (2, 3)]

    calls = _calls(out)  # the agent waited for the queued notifications before it exited
    assert [c["argv"] for c in calls] == [[literal], [literal]]
    assert not (tmp_path / "x").exists()
    events = [c["event"] for c in calls]
    assert [(e["info"]["from_tier"], e["info"]["to_tier"]) for e in events] == [(1, 2), (2, 3)]
    for event in events:
        assert event["kind"] == "autoperf.event" and event["schema_version"] == "1.0"
        assert event["agent"] == "cmd-agent" and event["run_id"] == summary["run_id"]
        assert event["info"]["event"] == "escalation" and event["info"]["server"] == "lo"
        assert event["info"]["threshold"] == 0.0001 and event["info"]["value"] > 0.0001
        assert event["info"]["reason"] and event["target"] == server.host

    # What the command got is the very record the bundle keeps.
    (bundle,) = run.bundles()
    kept = [r.to_dict() for r in read_bundle(bundle).results if r.kind == "autoperf.event"]
    assert events == json.loads(json.dumps(kept))


def test_failing_or_hanging_command_is_logged_not_fatal(
    tmp_path: Path, server: LocalServer
) -> None:
    marker = tmp_path / "ran"
    code = f"import sys, time; open({str(marker)!r}, 'a').write('x'); sys.stdin.read(); "
    code += "sys.stderr.write('receiver down'); time.sleep(int(sys.argv[1])); sys.exit(7)"
    for hang, expect in (("0", "exited 7: receiver down"), ("30", "timed out after 0.5 s")):
        run = write_agent(tmp_path, {"servers": [server_entry(server)],
                                     "tiers": quick_tiers(**CLIMB), "notify": {"command": {
                                         "argv": [sys.executable, "-c", code, hang],
                                         "timeout_s": 0.5}}})  # fmt: skip
        proc = run.run("--once", "--json", timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["max_tier"] == 3  # the cycle went on regardless
        assert "notify command" in proc.stderr and expect in proc.stderr, proc.stderr
    assert marker.read_text() == "xxxx"  # both events tried, each run
