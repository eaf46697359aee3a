"""``python -m waddleperf`` runs the ``waddleperf`` command."""

from __future__ import annotations

from waddleperf.cli import main

main()
