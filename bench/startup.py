"""Start-up cost of the ``waddleperf`` command: CPU seconds of a whole run, beside the floor.

The issue's bound: ``waddleperf --help`` and ``waddleperf probe tcp …`` use at most 0.3 s of
CPU (user + system). Each command runs ``--runs`` times one after the other; its CPU is read
from the kernel's accounting of waited-for children (``RUSAGE_CHILDREN``), so nothing is
sampled. The floor is the same interpreter doing nothing (``python -c pass``) and importing
only what the probe needs at least (``pydantic``), measured in the same run.

Run: ``.venv/bin/python -m bench.startup [--runs 7]``. Not a test (timed tests are banned
from the suite): it prints the minimum and the median of each command.
"""

from __future__ import annotations

import argparse
import resource
import socket
import statistics
import subprocess
import sys
from pathlib import Path

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")
BOUND_S = 0.3


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_of(argv: list[str], runs: int) -> list[float]:
    """CPU seconds (user + system) of each of ``runs`` runs of ``argv``."""
    figures = []
    for _ in range(runs):
        before = _children_cpu_s()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        figures.append(_children_cpu_s() - before)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        commands = {
            "python -c pass (floor)": [sys.executable, "-c", "pass"],
            "python -c 'import pydantic'": [sys.executable, "-c", "import pydantic"],
            "waddleperf --help": [WADDLEPERF, "--help"],
            "waddleperf probe --help": [WADDLEPERF, "probe", "--help"],
            "waddleperf probe tcp --help": [WADDLEPERF, "probe", "tcp", "--help"],
            "waddleperf probe tcp … --json": [
                WADDLEPERF, "probe", "tcp", f"127.0.0.1:{port}",
                "--count", "1", "--interval", "0", "--json",
            ],
            "waddleperf probe tcp … (table)": [
                WADDLEPERF, "probe", "tcp", f"127.0.0.1:{port}", "--count", "1", "--interval", "0",
            ],
        }  # fmt: skip
        print(f"{'command':34} {'min s':>7} {'median s':>9}  (CPU, {args.runs} runs)")
        for name, argv in commands.items():
            figures = cpu_of(argv, args.runs)
            best, median = min(figures), statistics.median(figures)
            flag = "" if "waddleperf" not in name or best <= BOUND_S else f"  > {BOUND_S} s"
            print(f"{name:34} {best:7.3f} {median:9.3f}{flag}")


if __name__ == "__main__":
    main()
