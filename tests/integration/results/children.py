"""Child processes the crash tests SIGKILL: a bundle writer and an uploader.

Run as ``python -m tests.integration.results.children writer SPOOL`` or
``... uploader SPOOL ENDPOINT BUCKET``; each prints ``ready`` once its imports are done.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from tests.support.builders import T0, filled_writer
from waddleperf.results.spool import Spool


def writer(spool_dir: Path) -> None:
    """Write bundles with a few MB of incompressible raw output each, until killed."""
    with Spool(spool_dir, min_free_bytes=0) as spool:
        print("ready", flush=True)
        for i in itertools.count():
            run = f"p{os.getpid()}-{i}"
            w = filled_writer(spool, run_id=run, started_at=T0 + timedelta(seconds=i))
            w.add_raw("noise.bin", os.urandom((1 + i % 2) << 20))
            w.finalize()


def uploader(spool_dir: Path, endpoint: str, bucket: str) -> None:
    """Drain the spool into S3 until it is empty, then exit 0."""
    # boto3 is imported here so that the writer child starts faster.
    from waddleperf.results.stores.s3 import S3Config, S3Store
    from waddleperf.results.uploader import RetryPolicy, Uploader

    config = S3Config(
        bucket=bucket,
        endpoint_url=endpoint,
        region="us-east-1",
        addressing_style="path",
        connect_timeout_s=1.0,
        read_timeout_s=10.0,
        client_attempts=1,
    )
    with Spool(spool_dir, min_free_bytes=0) as spool:
        up = Uploader(spool, S3Store(config), RetryPolicy(base_s=0.05, cap_s=0.2))
        print("ready", flush=True)
        while not up.drain_once().drained:
            time.sleep(0.02)


if __name__ == "__main__":
    role, *args = sys.argv[1:]
    if role == "writer":
        writer(Path(args[0]))
    else:
        uploader(Path(args[0]), args[1], args[2])
