// The speed test's arithmetic, the same as the CLI's speedtest probe (waddleperf/probes/
// librespeed.py): pure functions, numbers in, numbers out, no DOM and no network.
//
// - speed: bytes * 8 * overhead / seconds / 1e6 (Mbit/s); the overhead factor (1.06) adds
//   back the HTTP/TCP/IP headers a browser never sees;
// - grace: bytes moved before the first tick past the grace time are not counted;
// - ping: the first round trip warms the connection; ping is the lowest of the others;
//   jitter starts as |rtt2 - rtt1| and is then smoothed, spikes weighing more.

export const OVERHEAD = 1.06;

/** Mbit/s for `bytes` moved in `seconds`; null before any time has passed. */
export function speedMbps(bytes, seconds, overhead = OVERHEAD) {
  if (!(seconds > 0)) {
    return null;
  }
  return (bytes * 8 * overhead) / seconds / 1e6;
}

/**
 * A transfer's measured window, fed with (seconds since start, total bytes) ticks.
 * `tick` returns the window so far: {bytes, seconds, graceDone}.
 */
export class Window {
  constructor(graceS) {
    this.graceS = graceS;
    this.origin = { t: 0, bytes: 0 };
    this.last = { t: 0, bytes: 0 };
    this.graceDone = graceS <= 0;
  }

  tick(t, bytes) {
    if (!this.graceDone && t > this.graceS && bytes > 0) {
      this.origin = { t, bytes };
      this.graceDone = true;
    }
    this.last = { t, bytes };
    return this.current();
  }

  current() {
    return {
      bytes: Math.max(this.last.bytes - this.origin.bytes, 0),
      seconds: Math.max(this.last.t - this.origin.t, 0),
      graceDone: this.graceDone,
    };
  }
}

/** {ping, jitter, used} from round trips in order (ms); the first one is the warm-up. */
export function pingJitter(rtts) {
  const used = rtts.slice(1);
  if (used.length === 0) {
    return { ping: null, jitter: null, used: 0 };
  }
  let ping = used[0];
  let jitter = 0;
  for (let i = 1; i < used.length; i++) {
    const delta = Math.abs(used[i] - used[i - 1]);
    ping = Math.min(ping, used[i]);
    if (i === 1) {
      jitter = delta;
    } else if (delta > jitter) {
      jitter = jitter * 0.3 + delta * 0.7;
    } else {
      jitter = jitter * 0.8 + delta * 0.2;
    }
  }
  return { ping, jitter: used.length >= 2 ? jitter : null, used: used.length };
}

/** `name` beside the backend base URL, with a cache-busting `r` and `cors` (the server sends
 * CORS headers only when asked), plus `extra` parameters. */
export function endpoint(base, name, extra = {}) {
  const url = new URL(name, base.endsWith("/") ? base : base + "/");
  url.searchParams.set("cors", "true");
  url.searchParams.set("r", String(Math.random()));
  for (const [key, value] of Object.entries(extra)) {
    url.searchParams.set(key, String(value));
  }
  return url.toString();
}
