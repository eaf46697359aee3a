// The speed test page: pick a server, start, watch the gauges, and the result is stored
// through the UI (POST of the browser's figures; the UI validates them and writes the
// record). The page's root element carries what the controller knows:
//   data-servers   JSON list of {name, url} (url: the backend base, ".../backend/")
//   data-save-url  where the result is POSTed (JSON)
//   data-csrf-header, data-csrf-token   the header the UI's JSON actions require

import { startSpeedTest } from "./client.js";
import { Gauge } from "./gauges.js";

const root = document.getElementById("speedtest");
const servers = JSON.parse(root.dataset.servers || "[]");
const select = document.getElementById("speed-server");
const duration = document.getElementById("speed-duration");
const startButton = document.getElementById("speed-start");
const stopButton = document.getElementById("speed-stop");
const status = document.getElementById("speed-status");
const stored = document.getElementById("speed-stored");
const gauges = {
  download: new Gauge(document.getElementById("gauge-download"), "Download", "Mbit/s", 10),
  upload: new Gauge(document.getElementById("gauge-upload"), "Upload", "Mbit/s", 10),
  ping: new Gauge(document.getElementById("gauge-ping"), "Ping", "ms", 10),
  jitter: new Gauge(document.getElementById("gauge-jitter"), "Jitter", "ms", 10),
};
let run = null;

for (const server of servers) {
  const option = document.createElement("option");
  option.value = server.url;
  option.textContent = server.name === server.url ? server.url : `${server.name} (${server.url})`;
  select.append(option);
}
startButton.disabled = servers.length === 0;
if (servers.length === 0) {
  status.textContent = "No server is configured: add one to the agent's configuration.";
}

function show(event) {
  if (event.kind === "phase") {
    status.textContent = { ip: "Asking the server who we are…", ping: "Ping…",
                           download: "Download…", upload: "Upload…" }[event.test]; // prettier-ignore
  } else if (event.kind === "ping") {
    gauges.ping.set(event.ping_ms);
    gauges.jitter.set(event.jitter_ms);
  } else if (event.kind === "download" || event.kind === "upload") {
    gauges[event.kind].set(event.mbps);
    const pct = Math.round(event.progress * 100);
    status.textContent = `${event.kind === "download" ? "Download" : "Upload"}: ${
      event.counting ? `${pct} %` : "warming up"}`; // prettier-ignore
  }
}

async function save(result) {
  const headers = { "Content-Type": "application/json" };
  if (root.dataset.csrfHeader) {
    headers[root.dataset.csrfHeader] = root.dataset.csrfToken;
  }
  const resp = await fetch(root.dataset.saveUrl, {
    method: "POST", headers, credentials: "same-origin", body: JSON.stringify(result),
  }); // prettier-ignore
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    throw new Error(body.error || `HTTP ${resp.status}`);
  }
  return body;
}

startButton.addEventListener("click", async () => {
  startButton.disabled = true;
  stopButton.disabled = false;
  stored.textContent = "";
  root.dataset.state = "running";
  Object.values(gauges).forEach((g) => g.set(null));
  const seconds = Number(duration.value) || 15;
  run = startSpeedTest(select.value, { durationS: seconds }, show);
  try {
    const result = await run.result;
    const m = result.metrics;
    ["download", "upload"].forEach((d) => gauges[d].set(m[`${d}_throughput_mbps`]));
    gauges.ping.set(m.ping_ms);
    gauges.jitter.set(m.jitter_ms);
    status.textContent = result.failures.length ? result.failures.join("; ") : "Done.";
    const saved = await save(result);
    stored.textContent = `Stored as ${saved.id || "a result"}.`;
    root.dataset.state = "stored";
  } catch (err) {
    status.textContent = `The speed test failed: ${err.message}`;
    root.dataset.state = "failed";
  } finally {
    run = null;
    startButton.disabled = false;
    stopButton.disabled = true;
  }
});

stopButton.addEventListener("click", () => {
  if (run !== null) {
    run.abort();
  }
});
