// The speed test in a worker of its own, so that counting bytes and timing pings never wait
// for the page's main thread (layout, gauges, other scripts). Messages:
//   in:  {cmd: "start", base, options}  |  {cmd: "abort"}
//   out: {event}  for every live event, the last one {event: {kind: "done", result}}

import { SpeedTest } from "./engine.js";

let test = null;

self.onmessage = async (msg) => {
  const { cmd, base, options } = msg.data;
  if (cmd === "abort" && test !== null) {
    test.abort();
  } else if (cmd === "start" && test === null) {
    test = new SpeedTest(base, options);
    try {
      await test.run((event) => self.postMessage({ event }));
    } catch (err) {
      self.postMessage({ event: { kind: "error", message: String(err.message || err) } });
    }
  }
};
