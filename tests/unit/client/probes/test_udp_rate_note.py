"""What the udp probe says about the server's rate limit, from its answer: pure."""

from __future__ import annotations

import pytest

from waddleperf.probes.udp import RateAnswer, rate_limit_note

RATE = "dropped by the server's per-source rate limit (udp_echo.rate_limit_pps; send slower or raise it)"  # noqa: E501
OLD = "the server does not report rate-limit drops (it predates the query)"
SILENT = "the server did not answer the rate-drop query: the cause is unknown"


@pytest.mark.parametrize(
    ("lost", "answer", "expected"),
    [
        (0, None, (0, None)),  # nothing lost: nothing asked, nothing to say
        (5, RateAnswer("answered", 0), (0, None)),  # lost, but not by the limit
        (5, RateAnswer("answered", 5), (5, f"all 5 {RATE}")),
        (5, RateAnswer("answered", 2), (2, f"2 of them {RATE}")),
        # never more explained than lost (a dropped datagram duplicated on the way)
        (3, RateAnswer("answered", 9), (3, f"all 3 {RATE}")),
        (4, RateAnswer("unsupported"), (None, OLD)),
        (4, RateAnswer("unanswered"), (None, SILENT)),
    ],
)
def test_rate_limit_note(
    lost: int, answer: RateAnswer | None, expected: tuple[object, ...]
) -> None:
    assert rate_limit_note(lost, answer) == expected
