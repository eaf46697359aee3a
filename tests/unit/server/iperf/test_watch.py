"""The iperf3 supervisor's pure helpers: connection ages and the command line."""

from __future__ import annotations

from waddleperf_server.iperf.watch import ConnectionAges, build_argv, supports_max_duration


def test_connection_ages_track_first_seen_and_forget_closed() -> None:
    ages = ConnectionAges()
    assert ages.oldest(0.0) is None
    ages.update(0.0, [("10.0.0.1", 1)])
    ages.update(2.0, [("10.0.0.1", 1), ("10.0.0.2", 2)])
    assert ages.oldest(5.0) == (("10.0.0.1", 1), 5.0)
    ages.update(6.0, [("10.0.0.2", 2)])
    assert ages.oldest(6.0) == (("10.0.0.2", 2), 4.0)
    ages.update(7.0, [])
    assert ages.oldest(7.0) is None


def test_argv_binds_only_specific_addresses() -> None:
    assert build_argv("iperf3", 5201, "0.0.0.0", 30, None) == [
        "iperf3",
        "-s",
        "-p",
        "5201",
        "--idle-timeout",
        "30",
    ]
    assert build_argv("iperf3", 5201, "::", 30, None)[-1] == "30"
    assert build_argv("iperf3", 1, "127.0.0.1", 5, 60)[-4:] == [
        "--server-max-duration",
        "60",
        "-B",
        "127.0.0.1",
    ]


def test_native_max_duration_detection() -> None:
    assert supports_max_duration("  --server-max-duration #  max time in seconds")
    assert not supports_max_duration("  --idle-timeout #  restart idle server")
