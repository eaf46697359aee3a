"""A ``waddleperf autoperf`` process for tests, its output in files (no pipe can fill up), and
readers for the lines of its log that say where each bundle went."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: "spool disk nearly full: bundle NAME kept in memory, not lost (…); K bundle(s), B B pending"
KEPT = re.compile(r"bundle (\S+\.tar\.gz) kept in memory, not lost [^;]*; (\d+) bundle\(s\)")
#: "pending bundle NAME is in the store now, sent straight from memory"
FROM_MEMORY = re.compile(r"pending bundle (\S+\.tar\.gz) is in the store now, sent straight")
#: "uploaded NAME to LOCATION" (the uploader's INFO line, spooled or held bundles)
UPLOADED = re.compile(r"uploaded (\S+\.tar\.gz) to (\S+)")


def run_id_of(name: str) -> str:
    """``<start stamp>_<run id>.tar.gz`` (a spool name) → the run id."""
    return name.removesuffix(".tar.gz").split("_", 1)[1]


@dataclass
class AgentProcess:
    """One agent started by a test; stop it with :meth:`kill` or :meth:`terminate`."""

    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    @classmethod
    def start(
        cls, argv: Sequence[str], env: Mapping[str, str], cwd: Path, tag: str
    ) -> AgentProcess:
        out, err = cwd / f"{tag}.out", cwd / f"{tag}.err"
        with out.open("wb") as o, err.open("wb") as e:
            proc = subprocess.Popen(list(argv), env=dict(env), stdout=o, stderr=e, cwd=cwd)
        return cls(proc, out, err)

    def log(self) -> str:
        return self.err.read_text(errors="replace")

    def kept(self, since: int = 0) -> list[tuple[str, int]]:
        """(bundle name, bundles pending in memory then) for each bundle kept in memory."""
        return [(m[1], int(m[2])) for m in KEPT.finditer(self.log(), since)]

    def uploaded(self, since: int = 0) -> list[str]:
        """Bundle names in the order the agent says it stored them."""
        return [m[1] for m in UPLOADED.finditer(self.log(), since)]

    def summaries(self) -> list[dict[str, Any]]:
        """The ``--json`` cycle lines it printed (a line cut by SIGKILL is left out)."""
        found = []
        for line in self.out.read_text().splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
        return found

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)  # only the agent this test started
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)
