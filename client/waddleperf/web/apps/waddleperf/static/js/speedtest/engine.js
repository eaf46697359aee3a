// The browser speed test against a LibreSpeed-compatible backend (the WaddlePerf server's
// /backend/): client address (getIP.php), HTTP ping and jitter (empty.php), download
// (parallel garbage.php GETs) and upload (parallel POSTs to empty.php), the same protocol and
// arithmetic as the CLI's speedtest probe. Written for this project; plain ES module.
//
//   const test = new SpeedTest("http://host:8080/backend/", {durationS: 10});
//   const result = await test.run((event) => ...);   // {kind: "ping"|"download"|..., ...}
//   test.abort();
//
// Byte counts come from XHR progress events (the browser's own counters, no JS per chunk);
// a stream that finishes its request starts the next one at once.

import { Window, endpoint, pingJitter, speedMbps } from "./figures.js";

export const DEFAULTS = Object.freeze({
  tests: ["ip", "ping", "download", "upload"],
  durationS: 15,
  downloadGraceS: 1.5,
  uploadGraceS: 3,
  downloadStreams: 6,
  uploadStreams: 3,
  streamDelayMs: 300,
  chunkMiB: 100,
  uploadBlobMiB: 20,
  pingCount: 10,
  timeoutS: 10,
  tickMs: 200,
  downloadFetch: false,
});

const MIB = 1 << 20;

function randomBlob(mib) {
  const block = new Uint8Array(MIB);
  for (let off = 0; off < MIB; off += 65536) {
    crypto.getRandomValues(block.subarray(off, off + 65536));
  }
  return new Blob(new Array(mib).fill(block));
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class SpeedTest {
  constructor(base, options = {}) {
    this.base = base;
    this.options = { ...DEFAULTS, ...options };
    this.aborted = false;
    this.live = new Set();
    this._blob = null;
  }

  /** Stop whatever runs; run() then resolves with what was measured so far. */
  abort() {
    this.aborted = true;
    this.abortTransfers();
  }

  /** Run the selected tests in order; `onEvent` sees live figures. Resolves with the result. */
  async run(onEvent = () => {}) {
    const started = new Date();
    const result = { server: this.base, started_at: started.toISOString(), metrics: {},
                     info: {}, samples: [], failures: [] }; // prettier-ignore
    const order = ["ip", "ping", "download", "upload"].filter((t) =>
      this.options.tests.includes(t),
    );
    for (const test of order) {
      if (this.aborted) {
        result.failures.push(`${test}: aborted`);
        continue;
      }
      onEvent({ kind: "phase", test });
      try {
        if (test === "ip") {
          await this.getIp(result);
        } else if (test === "ping") {
          await this.ping(result, onEvent);
        } else {
          await this.transfer(test, result, onEvent);
        }
      } catch (err) {
        result.failures.push(`${test} failed: ${err.message || err}`);
      }
    }
    result.duration_s = (Date.now() - started.getTime()) / 1000;
    onEvent({ kind: "done", result });
    return result;
  }

  _request(method, url, setup) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this.live.add(xhr);
      xhr.open(method, url, true);
      xhr.timeout = this.options.timeoutS * 1000;
      const finish = (fn, arg) => {
        this.live.delete(xhr);
        fn(arg);
      };
      xhr.onload = () =>
        xhr.status === 200
          ? finish(resolve, xhr)
          : finish(reject, new Error(`HTTP ${xhr.status} from ${url.split("?")[0]}`));
      xhr.onerror = () => finish(reject, new Error(`cannot reach ${url.split("?")[0]}`));
      xhr.ontimeout = () => finish(reject, new Error(`no answer in ${this.options.timeoutS} s`));
      xhr.onabort = () => finish(reject, new Error("aborted"));
      setup(xhr);
    });
  }

  async getIp(result) {
    const xhr = await this._request("GET", endpoint(this.base, "getIP.php", { isp: "true" }),
                                    (x) => x.send()); // prettier-ignore
    let text = xhr.responseText.trim();
    try {
      const doc = JSON.parse(text);
      if (doc && typeof doc.processedString === "string") {
        text = doc.processedString.trim();
      }
    } catch (_) {
      // an old backend's plain text
    }
    const cut = text.indexOf(" - ");
    result.info.client_ip = (cut >= 0 ? text.slice(0, cut) : text).trim() || null;
    result.info.isp = cut >= 0 ? text.slice(cut + 3).trim() || null : null;
    result.info.ip_processed = text;
  }

  async ping(result, onEvent) {
    const rtts = [];
    let lost = 0;
    let lastError = "";
    for (let seq = 0; seq < this.options.pingCount && !this.aborted; seq++) {
      const url = endpoint(this.base, "empty.php");
      let rtt = null;
      try {
        let sent = 0;
        await this._request("GET", url, (x) => {
          sent = performance.now();
          x.send();
        });
        rtt = performance.now() - sent;
        const entry = performance.getEntriesByName(url).pop();
        if (entry && entry.duration > 0 && entry.duration < rtt) {
          rtt = entry.duration; // the network's part, without the event loop's
        }
        rtts.push(rtt);
      } catch (err) {
        lost += 1;
        lastError = err.message;
      }
      performance.clearResourceTimings();
      result.samples.push({ phase: "ping", seq, rtt_ms: rtt });
      const pj = pingJitter(rtts);
      onEvent({ kind: "ping", seq, rtt_ms: rtt, ping_ms: pj.ping, jitter_ms: pj.jitter });
    }
    const pj = pingJitter(rtts);
    Object.assign(result.metrics, { ping_ms: pj.ping, jitter_ms: pj.jitter, ping_lost_count: lost });
    if (pj.ping === null) {
      result.failures.push(`ping failed: ${lastError || "too few answers"}`);
    }
  }

  async transfer(direction, result, onEvent) {
    const o = this.options;
    const down = direction === "download";
    const streams = down ? o.downloadStreams : o.uploadStreams;
    const win = new Window(down ? o.downloadGraceS : o.uploadGraceS);
    if (!down && this._blob === null) {
      this._blob = randomBlob(o.uploadBlobMiB);
    }
    const state = { total: 0, stop: false, errors: [] };
    const runStream = async () => {
      while (!state.stop) {
        let seen = 0;
        const count = (e) => {
          state.total += e.loaded - seen;
          seen = e.loaded;
        };
        try {
          if (down && o.downloadFetch) {
            await this._fetchStream(state);
          } else if (down) {
            const url = endpoint(this.base, "garbage.php", { ckSize: o.chunkMiB });
            await this._request("GET", url, (x) => {
              x.responseType = "arraybuffer";
              x.onprogress = count;
              x.send();
            });
          } else {
            await this._request("POST", endpoint(this.base, "empty.php"), (x) => {
              x.upload.onprogress = count;
              x.send(this._blob);
            });
          }
        } catch (err) {
          if (state.stop) {
            break;
          }
          state.errors.push(err.message);
          await sleep(200); // a refused stream tries again, not in a tight loop
        }
      }
    };
    const start = performance.now();
    const runners = [];
    for (let i = 0; i < streams && !this.aborted; i++) {
      runners.push(runStream());
      if (i + 1 < streams) {
        await sleep(o.streamDelayMs);
      }
    }
    const hardStopS = (down ? o.downloadGraceS : o.uploadGraceS) + o.durationS + o.timeoutS;
    const ticks = [];
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const t = (performance.now() - start) / 1000;
        const w = win.tick(t, state.total);
        ticks.push([t, state.total]);
        const mbps = speedMbps(w.bytes, w.seconds);
        onEvent({ kind: direction, t_s: t, mbps, progress: Math.min(w.seconds / o.durationS, 1),
                  counting: w.graceDone }); // prettier-ignore
        const done = w.graceDone && w.seconds >= o.durationS;
        if (done || t > hardStopS || this.aborted) {
          clearInterval(timer);
          resolve();
        }
      }, o.tickMs);
    });
    state.stop = true;
    this.abortTransfers();
    await Promise.allSettled(runners);
    const w = win.current();
    let prev = [0, 0];
    for (const [t, bytes] of ticks) {
      const rate = t > prev[0] ? ((bytes - prev[1]) * 8) / (t - prev[0]) / 1e6 : null;
      result.samples.push({ phase: direction, t_s: Math.round(t * 1000) / 1000, bytes,
                            instant_goodput_mbps: rate }); // prettier-ignore
      prev = [t, bytes];
    }
    const moved = w.bytes > 0;
    result.metrics[`${direction}_throughput_mbps`] = moved ? speedMbps(w.bytes, w.seconds) : null;
    result.metrics[`${direction}_goodput_mbps`] = moved ? speedMbps(w.bytes, w.seconds, 1) : null;
    result.metrics[`${direction}_bytes`] = w.bytes;
    result.metrics[`${direction}_measured_s`] = w.seconds;
    if (!moved) {
      result.failures.push(`${direction} failed: ${state.errors[0] || "no bytes moved"}`);
    } else if (state.errors.length > 0) {
      result.failures.push(`${direction}: ${state.errors.length} stream error(s), e.g. ${state.errors[0]}`);
    }
  }

  // One download request read with fetch: every chunk counted as it arrives, none kept.
  async _fetchStream(state) {
    const ctl = new AbortController();
    const handle = { abort: () => ctl.abort() };
    this.live.add(handle);
    try {
      const url = endpoint(this.base, "garbage.php", { ckSize: this.options.chunkMiB });
      const resp = await fetch(url, { signal: ctl.signal, cache: "no-store" });
      if (resp.status !== 200) {
        throw new Error(`HTTP ${resp.status} from ${url.split("?")[0]}`);
      }
      const reader = resp.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          break;
        }
        state.total += value.byteLength;
      }
    } finally {
      this.live.delete(handle);
    }
  }

  abortTransfers() {
    for (const xhr of this.live) {
      xhr.abort();
    }
    this.live.clear();
  }
}
