"""Change a running delayer by hand (from the lab shell)::

    python -m tests.lab.netlab.ctl SOCKET set dly-up delay_ms=30 jitter_ms=2 [reorder_pct=…]
    python -m tests.lab.netlab.ctl SOCKET stats

SOCKET may be ``r1`` etc.: the lab shell exports each delayer's socket as $WPL_CTL_R1, ….

``set`` replaces all stages of that direction with one stage (dly-up: client → server,
dly-dn: server → client). Rate and loss are tc/nft: see docs/lab.md.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tests.lab.netlab.tunpath import control_request


def main(argv: list[str] | None = None) -> int:
    """Parse ``SOCKET set TUN k=v…`` or ``SOCKET stats`` and print the delayer's reply."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2 or args[1] not in ("set", "stats") or (args[1] == "set" and len(args) < 3):
        print(__doc__, file=sys.stderr)
        return 2
    path = Path(os.environ.get(f"WPL_CTL_{args[0].upper()}", args[0]))
    if args[1] == "stats":
        print(json.dumps(control_request(path, {"cmd": "stats"}), indent=2))
        return 0
    stage = {key: float(value) for key, value in (a.split("=", 1) for a in args[3:])}
    print(json.dumps(control_request(path, {"cmd": "set", "tun": args[2], "stages": [stage]})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
