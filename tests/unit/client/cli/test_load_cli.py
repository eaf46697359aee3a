"""``waddleperf load``'s usage: plan flags generated from the plan model, bad values one line.

Every case here is refused before anything runs (exit 2, no record, no Locust).
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from waddleperf.cli import app
from waddleperf.cli.probe_flags import flags_of
from waddleperf.load.plan import LoadOptions

RUN = ["load", "run", "--host", "http://127.0.0.1:9"]
COMPARE = ["load", "compare", "--a", "http://127.0.0.1:9", "--b", "http://127.0.0.1:9"]


@pytest.mark.parametrize("command", ["run", "compare"])
def test_help_lists_every_plan_field_as_a_flag(command: str) -> None:
    result = CliRunner().invoke(app, ["load", command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    flags = flags_of(LoadOptions)
    assert len(flags) == len(LoadOptions.model_fields)
    text = " ".join(result.output.split())
    for flag in flags:
        # the flag, then the model's description, bounds and default as the model says them
        assert f"{flag.name} {flag.metavar} {flag.help}" in text, flag
    assert "--duration SECONDS" in result.output and "[default: light]" in result.output


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        ([*RUN, "--users", "0"], "waddleperf load: --users: Input should be greater than or "
                                 "equal to 1"),
        ([*RUN, "--users", "abc"], "waddleperf load: --users: Input should be a valid integer, "
                                   "unable to parse string as an integer"),
        ([*RUN, "--wait", "0.9,0.1"], "waddleperf load: --wait: Value error, think time min,max "
                                      "must be 0 ≤ min ≤ max, got 0.9,0.1"),
        ([*RUN, "--rate", "5", "--shape", "ramp"],
         "waddleperf load: --rate (open model) runs at a constant rate: drop --shape"),
        ([*RUN, "--user", "robot"], "waddleperf load: --user: Value error, unknown user 'robot'; "
                                    "choose one of web, heavy, burst, database, endpoint"),
        ([*COMPARE, "--profile", "giant"], "waddleperf load: --profile: Value error, unknown "
                                           "profile 'giant'; choose one of light, medium, heavy, "
                                           "burst"),
        ([*COMPARE, "--baseline", "x.json"], "waddleperf load: give exactly one of --a and "
                                             "--baseline"),
        (["load", "run", "--master", "--worker"],
         "waddleperf load: --master and --worker exclude each other"),
        (["load", "run", "--users", "3"], "waddleperf load: --host is required (except for "
                                          "--worker)"),
    ],
)  # fmt: skip
def test_bad_usage_is_one_line_and_exit_2(argv: list[str], line: str) -> None:
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == line.replace("Value error, ", "")
    assert result.exception is None or isinstance(result.exception, SystemExit)
