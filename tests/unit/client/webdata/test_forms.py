"""Run-page forms from the probes' options models, the form check and the target policy."""

from __future__ import annotations

import pytest

from waddleperf.cli.probe_flags import flags_of
from waddleperf.probes.base import get, names
from waddleperf.webdata.forms import FormError, check_form, form_schema
from waddleperf.webdata.policy import TargetPolicy


def test_udp_form_has_the_models_fields_types_and_bounds() -> None:
    form = form_schema("udp")
    fields = {f["name"]: f for f in form["fields"]}
    assert form["fields"][0]["name"] == "target" and fields["target"]["required"]
    assert fields["count"] == {**fields["count"], "type": "integer", "default": 10, "ge": 1,
                               "le": 1_000_000, "flag": "--count"}  # fmt: skip
    assert fields["interval_s"]["type"] == "number" and fields["interval_s"]["unit"] == "seconds"
    assert fields["family"]["choices"] == ["any", "ipv4", "ipv6"]
    assert "Datagrams to send." in fields["count"]["help"]


@pytest.mark.parametrize("kind", names())
def test_every_kind_has_a_form_with_every_cli_flag(kind: str) -> None:
    form = form_schema(kind)
    flags = {f.field for f in flags_of(get(kind).options_model)}
    assert flags <= {f["name"] for f in form["fields"]}


def test_unknown_kind_is_one_line() -> None:
    with pytest.raises(ValueError, match="unknown probe 'nope'"):
        form_schema("nope")


def test_form_values_are_checked_as_the_cli_checks_them() -> None:
    options = check_form("udp", {"target": "127.0.0.1:9", "count": "3", "interval_s": "0.01",
                                 "family": "ipv4", "size_bytes": ""})  # fmt: skip
    assert (options.count, options.interval_s, options.family) == (3, 0.01, "ipv4")  # type: ignore[attr-defined]
    with pytest.raises(FormError) as err:
        check_form("udp", {"target": "127.0.0.1:9", "count": "-1", "bogus": "1"})
    assert err.value.errors["count"].startswith("Input should be greater than or equal to 1")
    assert err.value.errors["bogus"] == "does not apply to probe udp"
    with pytest.raises(FormError) as err:
        check_form("http", {"target": "ftp://x"})
    assert "target" in err.value.errors


def test_policy_allows_listed_networks_and_names_only() -> None:
    policy = TargetPolicy.parse(["127.0.0.0/8", "::1/128"], ["probe.example"])
    policy.check("127.0.0.1:4000")
    policy.check("[::1]:4000")
    policy.check("http://probe.example/x")
    for bad in ("10.0.0.1", "http://other.example/", "[2001:db8::1]:80"):
        with pytest.raises(ValueError, match="is not among the targets"):
            policy.check(bad)
    TargetPolicy().check("anything.example")
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300' is not a network"):
        TargetPolicy.parse(["10.0.0.300"])
