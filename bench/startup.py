"""Start-up cost of the ``waddleperf`` command: CPU seconds of a whole run, beside the floor.

The issue's bound: ``waddleperf --help`` and ``waddleperf probe tcp …`` use at most 0.3 s of
CPU (user + system). Each command runs ``--runs`` times one after the other; its CPU is read
from the kernel's accounting of waited-for children (``RUSAGE_CHILDREN``), so nothing is
sampled. The floor is the same interpreter doing nothing (``python -c pass``) and importing
only what the probe needs at least (``pydantic``), measured in the same run.

``--reference DIR`` also runs every command against another source tree (``git archive``
of an older commit unpacked in DIR: its ``client``, ``common`` and ``server`` go first on
``PYTHONPATH``), alternately with ours, and prints its minimum and the ratio ours/reference.
The table form runs with stdout not a terminal (no live lines), as a script would see it.

Run: ``.venv/bin/python -m bench.startup [--runs 7] [--reference DIR]``. Not a test (timed
tests are banned from the suite): it prints the minimum and the median of each command.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pty
import resource
import socket
import statistics
import subprocess
import sys
import threading
from pathlib import Path

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")
BOUND_S = 0.3


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_once(argv: list[str], env: dict[str, str] | None = None, tty: bool = False) -> float:
    """CPU seconds (user + system) of one run of ``argv``; ``tty``: its stdout and stderr on a
    pseudo-terminal (live lines, colour), read and thrown away as it writes."""
    before = _children_cpu_s()
    if not tty:
        quiet = subprocess.DEVNULL
        subprocess.run(argv, stdout=quiet, stderr=quiet, check=False, env=env)
        return _children_cpu_s() - before
    master, slave = pty.openpty()
    drain = threading.Thread(target=_drain, args=(master,), daemon=True)
    drain.start()
    subprocess.run(argv, stdout=slave, stderr=slave, check=False, env=env)
    os.close(slave)
    drain.join(5)
    os.close(master)
    return _children_cpu_s() - before


def _drain(fd: int) -> None:
    with contextlib.suppress(OSError):  # EIO once the command has closed the terminal
        while os.read(fd, 65_536):
            pass


def tree_env(tree: Path) -> dict[str, str]:
    """The environment that runs the command from source tree ``tree`` instead of ours."""
    paths = [str(tree / part) for part in ("client", "common", "server")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--reference", type=Path, help="another source tree to compare with")
    args = parser.parse_args()
    reference = tree_env(args.reference) if args.reference else None
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
        # As a person runs it: live lines, then the table, on a terminal.
        on_terminal = "waddleperf probe tcp … (terminal)"
        commands[on_terminal] = commands["waddleperf probe tcp … (table)"]
        head = f"{'command':34} {'min s':>7} {'median s':>9}"
        if reference is not None:
            head += f" {'ref min s':>10} {'ratio':>6}"
        print(f"{head}  (CPU, {args.runs} runs)")
        for name, argv in commands.items():
            ours, theirs = [], []
            for _ in range(args.runs):  # alternately, so both see the same machine
                tty = name == on_terminal
                ours.append(cpu_once(argv, tty=tty))
                if reference is not None and "waddleperf" in name:
                    theirs.append(cpu_once(argv, reference, tty))
            best, median = min(ours), statistics.median(ours)
            line = f"{name:34} {best:7.3f} {median:9.3f}"
            if theirs:
                line += f" {min(theirs):10.3f} {best / min(theirs):6.2f}"
            elif reference is not None:
                line += f" {'':>10} {'':>6}"
            if "waddleperf" in name and best > BOUND_S:
                line += f"  > {BOUND_S} s"
            print(line)


if __name__ == "__main__":
    main()
