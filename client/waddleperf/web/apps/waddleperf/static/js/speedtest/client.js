// Start the speed test in its worker from a page:
//
//   const run = startSpeedTest(base, options, (event) => gauges.update(event));
//   const result = await run.result;   // run.abort() stops it; result has what was measured
//
// `base` is a LibreSpeed-compatible backend's URL (".../backend/"); the worker is this
// directory's worker.js.

export function startSpeedTest(base, options, onEvent = () => {}) {
  const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  const result = new Promise((resolve, reject) => {
    worker.onmessage = (msg) => {
      const event = msg.data.event;
      onEvent(event);
      if (event.kind === "done") {
        worker.terminate();
        resolve(event.result);
      } else if (event.kind === "error") {
        worker.terminate();
        reject(new Error(event.message));
      }
    };
    worker.onerror = (err) => {
      worker.terminate();
      reject(new Error(err.message || "the speed test's worker failed to start"));
    };
  });
  worker.postMessage({ cmd: "start", base, options });
  return { result, abort: () => worker.postMessage({ cmd: "abort" }) };
}
