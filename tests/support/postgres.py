"""A throw-away PostgreSQL on loopback (Debian's postgresql package), for the UI's tests.

PostgreSQL refuses to run as root: the cluster lives in a directory of its own under /tmp
(pytest's temporary directories are root's, mode 0700), owned by the package's ``postgres``
user, and the server runs as that user through ``setpriv`` (no intermediate process, so a
signal to the child is a signal to the server). Trust authentication on loopback only, no
fsync: nothing in it outlives the test.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.net import free_port, wait_until
from waddleperf_common.procs import stop

USER = "postgres"


def server_bin() -> Path | None:
    """The newest installed PostgreSQL's bin directory (None when there is none)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)  # fmt: skip
    return found[-1].parent if found else None


@dataclass
class Postgres:
    """A running cluster: its server process, folder, port and log."""

    proc: subprocess.Popen[bytes]
    folder: Path
    port: int

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def uri(self, database: str) -> str:
        return f"postgres://{USER}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        try:
            stop(self.proc, 15)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def _as_postgres(argv: list[str]) -> list[str]:
    return ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups", "--", *argv]


def start_postgres(databases: tuple[str, ...], extra: tuple[str, ...] = ()) -> Postgres:
    """A new cluster on a free loopback port with ``databases`` created; ``extra`` are more
    ``-c name=value`` server settings (``log_statement=all``, say)."""
    import psycopg2  # type: ignore[import-untyped]

    bin_dir = server_bin()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server (Debian package postgresql)")
    account = pwd.getpwnam(USER)
    folder = Path(tempfile.mkdtemp(prefix="waddleperf-pg-"))
    try:
        os.chown(folder, account.pw_uid, account.pw_gid)
        data = folder / "data"
        init = subprocess.run(_as_postgres([str(bin_dir / "initdb"), "-D", str(data),
                                            "--auth=trust", f"--username={USER}", "-E", "UTF8",
                                            "--no-sync"]),
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr[-2000:]}")
        port = free_port()
        settings = ["listen_addresses=127.0.0.1", f"port={port}",
                    f"unix_socket_directories={folder}", "fsync=off", *extra]  # fmt: skip
        argv = [str(bin_dir / "postgres"), "-D", str(data)]
        for setting in settings:
            argv += ["-c", setting]
        with (folder / "postgres.log").open("wb") as out:
            proc = subprocess.Popen(_as_postgres(argv), stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)  # fmt: skip
        run = Postgres(proc, folder, port)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    ready = "database system is ready to accept connections"
    if not wait_until(lambda: proc.poll() is not None or ready in run.text(), 30) or (
        proc.poll() is not None
    ):
        text = run.text()
        run.stop()
        raise RuntimeError(f"postgres did not start: {text[-2000:]}")
    conn = psycopg2.connect(host="127.0.0.1", port=port, user=USER, dbname="postgres")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for name in databases:
                cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return run
