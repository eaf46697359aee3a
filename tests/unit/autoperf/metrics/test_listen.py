"""``metrics.listen``: loopback unless an address says otherwise; bad values named."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from waddleperf.autoperf.metrics.listen import MetricsConfig, parse_listen


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("9427", ("127.0.0.1", 9427)),
        ("127.0.0.1:9427", ("127.0.0.1", 9427)),
        ("localhost:9000", ("127.0.0.1", 9000)),
        ("0.0.0.0:9427", ("0.0.0.0", 9427)),
        ("[::1]:9427", ("::1", 9427)),
    ],
)
def test_accepted_addresses(text: str, address: tuple[str, int]) -> None:
    assert parse_listen(text) == address


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0", "port '0' is not 1-65535"),
        ("70000", "not 1-65535"),
        ("metrics.example:9427", "is not an IP address"),
        ("::1:9427", "in brackets"),
        ("127.0.0.1:", "port '' is not"),
    ],
)
def test_refused_addresses_say_why(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("(", r"\(")):
        parse_listen(text)


def test_off_by_default_and_checked_in_the_model() -> None:
    assert MetricsConfig().listen is None
    with pytest.raises(ValidationError, match="not an IP address"):
        MetricsConfig(listen="nowhere:1")


def test_a_bare_number_is_a_port_on_loopback() -> None:
    assert MetricsConfig.model_validate({"listen": 9427}).listen == "9427"
    with pytest.raises(ValidationError):
        MetricsConfig.model_validate({"listen": True})
