"""Flags generated from the probe options models: names, kinds, help, raw options, errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from waddleperf.cli import probe_flags
from waddleperf.cli.probe_flags import flag_name, flags_of, option_of, raw_options, usage_errors
from waddleperf.probes import base


@pytest.mark.parametrize("kind", base.names())
def test_every_field_but_target_and_family_is_a_flag(kind):
    model = base.get(kind).options_model
    flags = flags_of(model)
    assert {f.field for f in flags} == set(model.model_fields) - {"target", "family"}
    assert all(f.name.startswith("--") for f in flags)
    # Every flag says something (the model's description, bounds or default).
    assert all(f.help for f in flags if f.kind != "switch"), [f for f in flags if not f.help]


def test_names_drop_units_lists_go_singular():
    assert flag_name("interval_s", float) == "--interval"
    assert flag_name("size_bytes", int) == "--size"
    assert flag_name("bitrate_mbps", float | None) == "--bitrate"
    assert flag_name("keep_alive", bool) == "--keep-alive"
    assert flag_name("resolvers", list[str]) == "--resolver"
    assert flag_name("record_type", str) == "--type"
    assert flag_name("chunk_mb", int) == "--chunk-mb"


def test_kinds_metavars_and_help_come_from_the_model():
    flags = {f.field: f for f in flags_of(base.get("icmp").options_model)}
    assert flags["count"].kind == "value" and flags["count"].metavar == "INTEGER"
    assert flags["interval_s"].metavar == "SECONDS"
    assert flags["mode"].metavar == "[auto|raw|dgram]"
    assert "[default: 5]" in flags["count"].help and "(1..10_000_000)" in flags["count"].help
    dns = {f.field: f for f in flags_of(base.get("dns").options_model)}
    assert dns["tcp"].kind == "switch" and dns["resolvers"].kind == "repeatable"
    assert "(> 0, ≤ 120)" in dns["timeout_s"].help


def test_raw_options_keep_only_what_was_given():
    raw = raw_options("h", {"count": "3", "interval_s": None, "tcp": False, "resolvers": []},
                      ipv6=True)  # fmt: skip
    assert raw == {"target": "h", "count": "3", "family": "ipv6"}
    with pytest.raises(ValueError, match="exclude each other"):
        raw_options("h", {}, ipv4=True, ipv6=True)


def test_option_pairs_reach_any_field_and_flags_win():
    raw = raw_options(
        "http://h/", {"count": "3"},
        extra=["download_streams=8", "tests=[download, ping]", "mebibits=true", "count=9"],
    )  # fmt: skip
    assert raw["download_streams"] == 8 and raw["tests"] == ["download", "ping"]
    assert raw["mebibits"] is True and raw["count"] == "3"
    with pytest.raises(ValueError, match="NAME=VALUE"):
        probe_flags.parse_extra(["no-equals-sign"])


def test_usage_errors_name_the_flags():
    probe = base.get("dns")
    spelled = option_of(flags_of(probe.options_model))
    with pytest.raises(ValidationError) as info:
        probe.options({"target": "x.test", "count": "abc", "mode": "raw", "record_type": "NOPE"})
    lines = usage_errors("dns", info.value, spelled)
    assert any(line.startswith("--count: Input should be a valid integer") for line in lines)
    assert "--option mode does not apply to probe dns" in lines
    assert any(line.startswith("--type: unknown record type") for line in lines)
    with pytest.raises(ValidationError) as info:
        probe.options({"target": "x.test", "count": -1})
    assert usage_errors("dns", info.value, spelled) == [
        "--count: Input should be greater than or equal to 1"
    ]


def test_tcp_without_a_port_is_bad_usage():
    with pytest.raises(ValidationError, match="a port is needed"):
        base.get("tcp").options({"target": "127.0.0.1"})
    assert base.get("tcp").options({"target": "127.0.0.1", "port": 80}).port == 80


def test_summaries_read_without_import_match_the_classes():
    for kind in base.names():
        assert base.summary_of(kind) == base.get(kind).summary
