"""A bare page that loads the UI's speed test client (``static/js/speedtest/``) and, when
given, LibreSpeed's worker, for the browser tests of the client and ``bench.ui_speedtest``.

The page is served from a static site of its own (another origin than the server, as the UI
is), so CORS is exercised as in the UI. ``window.runOurs(base, options)`` resolves with our
client's result; ``window.runOfficial(base, seconds)`` with LibreSpeed's last status.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
JS_DIR = REPO / "client/waddleperf/web/apps/waddleperf/static/js/speedtest"
HARNESS = """<!doctype html><meta charset="utf-8"><title>speed test harness</title>
<script type="module">
import { startSpeedTest } from "./speedtest/client.js";
window.runOurs = (base, options) => startSpeedTest(base, options).result;
window.runOfficial = (base, seconds) => new Promise((resolve) => {
  const w = new Worker("./official/speedtest_worker.js");
  const dir = base.endsWith("/") ? base : base + "/";
  w.onmessage = (e) => {
    const s = JSON.parse(e.data);
    if (s.testState >= 4) { clearInterval(timer); w.terminate(); resolve(s); }
  };
  const timer = setInterval(() => w.postMessage("status"), 200);
  const settings = { url_dl: dir + "garbage.php?cors=true", url_ul: dir + "empty.php?cors=true",
    url_ping: dir + "empty.php?cors=true", url_getIp: dir + "getIP.php?cors=true",
    time_dl_max: seconds, time_ul_max: seconds, time_auto: false, count_ping: 20,
    telemetry_level: 0 };
  w.postMessage("start " + JSON.stringify(settings));
});
window.harnessReady = true;
</script>
"""


def write_site(root: Path, official: Path | None = None) -> Path:
    """The harness page and the client's scripts (and ``official``'s files) under ``root``;
    returns the page's path."""
    shutil.copytree(JS_DIR, root / "speedtest")
    if official is not None:
        shutil.copytree(official, root / "official")
    page = root / "harness.html"
    page.write_text(HARNESS)
    return page
