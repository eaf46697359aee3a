// What every page of the UI shares: the JSON API client, number formatting, safe DOM
// building, time parsing and the uPlot helpers (uPlot itself is the vendored classic script,
// loaded before the page's module: window.uPlot).
//
// The page says where the API lives (<body data-api="/waddleperf/api/">) and carries the CSRF
// token the JSON actions check (<meta name="csrf-token" content="...">).

/** The API's base URL, ending in "/". */
export function apiBase() {
  const base = document.body.dataset.api || "api/";
  return base.endsWith("/") ? base : `${base}/`;
}

function csrfToken() {
  const meta = document.querySelector("meta[name=csrf-token]");
  return meta ? meta.content : "";
}

/** A query string (no "?") of an object (arrays repeat the key; null/""/undefined left
 * out), a URLSearchParams or a string. */
export function queryString(query) {
  if (query === undefined || query === null) {
    return "";
  }
  if (typeof query === "string") {
    return query.replace(/^\?/, "");
  }
  if (query instanceof URLSearchParams) {
    return query.toString();
  }
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== undefined && one !== null && one !== "") {
        params.append(key, String(one));
      }
    }
  }
  return params.toString();
}

/** The URL of API path `path` (e.g. "jobs/12") with `query`. */
export function apiUrl(path, query) {
  const qs = queryString(query);
  return `${apiBase()}${path.replace(/^\//, "")}${qs ? `?${qs}` : ""}`;
}

/** An answer of the API that is not 2xx: `.status` and `.body` (its JSON, or {}). */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.body = body || {};
  }
}

/** Call the API: `api("jobs", {method: "POST", body: {...}})` → the parsed JSON answer.
 * Throws ApiError for a non-2xx answer (status 0: the network failed). */
export async function api(path, { method = "GET", body, query } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (method !== "GET" && method !== "HEAD") {
    init.headers["X-WaddlePerf-CSRF"] = csrfToken();
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  let resp;
  try {
    resp = await fetch(apiUrl(path, query), init);
  } catch (err) {
    throw new ApiError(0, { error: `The UI did not answer: ${err.message}` });
  }
  const text = await resp.text();
  let data = {};
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: `HTTP ${resp.status}: not JSON` };
    }
  }
  if (!resp.ok) {
    throw new ApiError(resp.status, data);
  }
  return data;
}

const UNITS = {
  "bit/s": [[1e9, "Gbit/s"], [1e6, "Mbit/s"], [1e3, "kbit/s"], [1, "bit/s"]],
  B: [[2 ** 30, "GiB"], [2 ** 20, "MiB"], [2 ** 10, "KiB"], [1, "B"]],
}; // prettier-ignore

/** `number` as a person reads it, with its unit: three significant figures, bit/s and bytes
 * scaled (1.23 Mbit/s, 4.1 KiB), "ratio" shown as %. null/undefined/NaN → "–". */
export function fmt(number, unit = "") {
  if (number === null || number === undefined || Number.isNaN(Number(number))) {
    return "–";
  }
  let value = Number(number);
  let shown = unit;
  if (unit === "ratio") {
    value *= 100;
    shown = "%";
  } else if (UNITS[unit]) {
    const [scale, name] = UNITS[unit].find(([s]) => Math.abs(value) >= s) || UNITS[unit].at(-1);
    value /= scale;
    shown = name;
  }
  let text;
  if (Number.isInteger(value) && Math.abs(value) < 1e6) {
    text = String(value);
  } else if (Math.abs(value) >= 100) {
    text = value.toFixed(0);
  } else if (Math.abs(value) >= 10) {
    text = value.toFixed(1);
  } else if (Math.abs(value) >= 1) {
    text = value.toFixed(2);
  } else {
    text = value === 0 ? "0" : value.toPrecision(3);
  }
  return shown ? `${text} ${shown}` : text;
}

/** A DOM element: `el("a", {href: u, class: "x", onclick: f}, "text", child)`. Children are
 * nodes or text (set as text, never parsed as HTML); null/false children are skipped. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key === "class") {
      node.className = value;
    } else if (key in node && typeof value !== "string") {
      node[key] = value; // properties: value, checked, disabled, ...
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(node, ...children);
  return node;
}

/** Append children (nodes, text, arrays of them) to `node`. */
export function append(node, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replace the children of `node`. */
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, ...children);
}

/** Epoch milliseconds of an RFC 3339 time (microseconds allowed), or null. */
export function parseTime(text) {
  if (typeof text === "number") {
    return text;
  }
  if (!text) {
    return null;
  }
  const ms = Date.parse(String(text).replace(/(\.\d{3})\d+/, "$1"));
  return Number.isNaN(ms) ? null : ms;
}

/** "2026-11-01 00:20:05" (UTC) of an RFC 3339 time or epoch ms. */
export function fmtTime(value) {
  const ms = parseTime(value);
  return ms === null ? "–" : new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}

/** A table of `rows` (objects) with `columns` [{label, cell(row) → node or text, class}]. */
export function table(id, columns, rows, { caption, onRow } = {}) {
  const head = el("tr", {}, columns.map((c) => el("th", { scope: "col", class: c.class }, c.label)));
  const body = rows.map((row) =>
    el("tr", onRow ? { class: "clickable", onclick: (e) => onRow(row, e) } : {},
      columns.map((c) => el("td", { class: c.class }, c.cell(row))))); // prettier-ignore
  return el("div", { class: "table-wrap" },
    el("table", { class: "data", id }, caption ? el("caption", {}, caption) : null,
      el("thead", {}, head), el("tbody", {}, body))); // prettier-ignore
}

/** Series colours, distinguishable on white. */
export const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]; // prettier-ignore

/** The width a chart in `node` gets: its container's, at least 240 px. */
export function chartWidth(node) {
  return Math.max(240, Math.floor(node.getBoundingClientRect().width || node.clientWidth || 600));
}

/** Keep each chart as wide as its container. */
export function fitCharts(getCharts) {
  let frame = 0;
  const fit = () => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => {
      for (const [chart, node] of getCharts()) {
        const width = chartWidth(node);
        if (chart && Math.abs(chart.width - width) > 1) {
          chart.setSize({ width, height: chart.height });
        }
      }
    });
  };
  window.addEventListener("resize", fit);
  return fit;
}
