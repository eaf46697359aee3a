// The History page, SmokePing style. The page's query string is the view's permalink (the
// parameters of webdata.view: view, agent, server, kind, range, since, until, page,
// per_page, record); the filters rewrite it (history.replaceState) and reload:
//   GET history?<qs>          the listing (newest first, paged)      → #history-table
//   GET history/charts?<qs>   latency / loss / throughput on one set of bucket edges
//                             → #chart-latency, #chart-loss, #chart-throughput, one x range
//   GET history/record?record=<id>  a record as catalogued          → #history-detail
// Times in the JSON are RFC 3339 strings (UTC); uPlot gets epoch seconds.
// The page root's data-state is loading | ready | error.

import { api, apiUrl, append, chartWidth, el, fitCharts, fmt, fmtTime, parseTime, replace,
         table, PALETTE } from "./api.js"; // prettier-ignore

const root = document.getElementById("history");
const filters = document.getElementById("history-filters");
const inputs = {
  agent: document.getElementById("f-agent"),
  server: document.getElementById("f-server"),
  kind: document.getElementById("f-kind"),
  range: document.getElementById("f-range"),
  since: document.getElementById("f-since"),
  until: document.getElementById("f-until"),
  per_page: document.getElementById("f-per-page"),
};
const known = {
  agent: [document.getElementById("agents-known"), new Set()],
  server: [document.getElementById("servers-known"), new Set()],
  kind: [document.getElementById("kinds-known"), new Set()],
};
const errorBox = document.getElementById("history-error");
const status = document.getElementById("history-status");
const permalink = document.getElementById("permalink");
const exportCsv = document.getElementById("export-csv");
const exportJson = document.getElementById("export-json");
const tableBox = document.getElementById("history-table-box");
const pageText = document.getElementById("history-page");
const pager = {
  first: document.getElementById("history-first"),
  prev: document.getElementById("history-prev"),
  next: document.getElementById("history-next"),
  last: document.getElementById("history-last"),
};
const detailCard = document.getElementById("history-detail-card");
const detailTitle = document.getElementById("history-detail-title");
const detailBox = document.getElementById("history-detail");
const boxes = {
  latency: document.getElementById("chart-latency"),
  loss: document.getElementById("chart-loss"),
  throughput: document.getElementById("chart-throughput"),
};
const charts = { latency: null, loss: null, throughput: null };
let pages = 1;
let loads = 0; // the latest load wins

const FILTER_ONLY = ["view", "record", "page", "per_page"];
const LOSS_COLOURS = [
  [0, "#1a9641"], [0.02, "#2b83ba"], [0.05, "#e6c229"], [0.2, "#f07c1e"], [Infinity, "#d7191c"],
]; // prettier-ignore

// ---- the view state: the page's query string ----

function params() {
  return new URLSearchParams(location.search);
}

function setParams(next) {
  next.sort();
  const qs = next.toString();
  history.replaceState(null, "", `${location.pathname}${qs ? `?${qs}` : ""}${location.hash}`);
  showLinks();
}

/** The query of `p` without what only the listing or the detail uses. */
function filterQuery(p) {
  const out = new URLSearchParams(p);
  for (const key of FILTER_ONLY) out.delete(key);
  return out;
}

function showLinks() {
  const p = params();
  permalink.href = location.href;
  exportCsv.href = apiUrl("history/export.csv", filterQuery(p));
  exportJson.href = apiUrl("history/export.json", filterQuery(p));
}

/** "2026-11-01T00:10:00Z" → "2026-11-01T00:10:00" (what datetime-local shows, UTC). */
function toLocalInput(text) {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?))?/.exec(text || "");
  return m ? `${m[1]}T${m[2] || "00:00"}` : "";
}

function fillForm() {
  const p = params();
  for (const key of ["agent", "server", "kind"]) inputs[key].value = p.getAll(key).join(", ");
  const range = p.get("range") || "";
  inputs.range.value = [...inputs.range.options].some((o) => o.value === range) ? range : "";
  inputs.since.value = toLocalInput(p.get("since"));
  inputs.until.value = toLocalInput(p.get("until"));
  const perPage = p.get("per_page") || "50";
  if (![...inputs.per_page.options].some((o) => o.value === perPage)) {
    inputs.per_page.append(el("option", { value: perPage }, perPage));
  }
  inputs.per_page.value = perPage;
}

function readForm() {
  const next = new URLSearchParams();
  for (const key of ["agent", "server", "kind"]) {
    const names = inputs[key].value.split(",").map((s) => s.trim()).filter(Boolean);
    for (const name of new Set(names)) next.append(key, name);
  }
  const since = inputs.since.value;
  if (since) {
    next.set("since", since);
  } else if (inputs.range.value) {
    next.set("range", inputs.range.value);
  }
  if (inputs.until.value) next.set("until", inputs.until.value);
  if (inputs.per_page.value && inputs.per_page.value !== "50") next.set("per_page", inputs.per_page.value);
  return next;
}

function remember(kind, names) {
  const [list, seen] = known[kind];
  let added = false;
  for (const name of names) {
    if (name && !seen.has(name)) {
      seen.add(name);
      added = true;
    }
  }
  if (added) replace(list, [...seen].sort().map((n) => el("option", { value: n })));
}

// ---- the listing ----

const COLUMNS = [
  { label: "Started (UTC)", cell: (r) => el("a", { href: detailHref(r.id), onclick: (e) => openFromLink(e, r.id) },
                                          fmtTime(r.started_at)) }, // prettier-ignore
  { label: "Agent", cell: (r) => r.agent },
  { label: "Server", cell: (r) => r.server },
  { label: "Kind", cell: (r) => (r.kind || "").replace(/^probe\./, "") },
  { label: "Step", cell: (r) => r.step },
  { label: "Target", cell: (r) => r.target },
  { label: "Tier", class: "num", cell: (r) => r.tier },
  { label: "Status", cell: (r) => el("span", { class: `badge ${r.status || "unknown"}`, title: r.error || null },
                                      r.status) }, // prettier-ignore
  { label: "Latency", class: "num", cell: (r) => fmt(r.latency_ms, "ms") },
  { label: "p95", class: "num", cell: (r) => fmt(r.latency_p95_ms, "ms") },
  { label: "Loss", class: "num", cell: (r) => fmt(r.loss_ratio, "ratio") },
  { label: "Jitter", class: "num", cell: (r) => fmt(r.jitter_ms, "ms") },
  { label: "Throughput", class: "num", cell: (r) => fmt(r.throughput_bps, "bit/s") },
  { label: "Error", class: "wrap", cell: (r) => r.error || "" },
];

function detailHref(id) {
  const p = params();
  p.set("view", "detail");
  p.set("record", id);
  p.sort();
  return `?${p.toString()}`;
}

function openFromLink(event, id) {
  event.preventDefault();
  event.stopPropagation();
  openDetail(id);
}

function showListing(listing) {
  const rows = listing.rows || [];
  remember("agent", rows.map((r) => r.agent));
  remember("server", rows.map((r) => r.server));
  remember("kind", rows.map((r) => (r.kind || "").replace(/^probe\./, "")));
  const wrap = table("history-table", COLUMNS, rows, {
    caption: `${listing.total} record${listing.total === 1 ? "" : "s"}`,
    onRow: (row) => openDetail(row.id),
  });
  const selected = params().get("record");
  wrap.querySelectorAll("tbody tr").forEach((tr, i) => {
    tr.dataset.record = rows[i].id;
    tr.classList.toggle("selected", rows[i].id === selected);
  });
  if (!rows.length) {
    append(wrap.querySelector("tbody"), el("tr", {}, el("td", { colspan: COLUMNS.length, class: "muted" },
      "No record matches these filters."))); // prettier-ignore
  }
  replace(tableBox, wrap);
  pages = Math.max(1, listing.pages || 1);
  const page = listing.page || 1;
  pageText.textContent = `Page ${page} of ${pages}`;
  pager.first.disabled = pager.prev.disabled = page <= 1;
  pager.next.disabled = pager.last.disabled = page >= pages;
}

function goPage(page) {
  const p = params();
  if (page <= 1) p.delete("page");
  else p.set("page", String(page));
  setParams(p);
  load({ charts: false });
}

// ---- the detail ----

async function openDetail(id) {
  const p = params();
  p.set("view", "detail");
  p.set("record", id);
  setParams(p);
  tableBox.querySelectorAll("tbody tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.record === id));
  await showDetail(id, true);
}

async function showDetail(id, focus) {
  detailCard.hidden = false;
  detailTitle.textContent = `Record ${id}`;
  detailBox.textContent = "Loading…";
  try {
    const record = await api("history/record", { query: { record: id } });
    detailBox.textContent = JSON.stringify(record, null, 2);
  } catch (err) {
    detailBox.textContent = "";
    errorBox.textContent = err.status === 404 ? `No record ${id}.` : err.message;
  }
  if (focus) {
    detailCard.scrollIntoView({ block: "start" });
    detailBox.focus({ preventScroll: true });
  }
}

function closeDetail() {
  const p = params();
  p.delete("view");
  p.delete("record");
  setParams(p);
  detailCard.hidden = true;
  detailBox.textContent = "";
  tableBox.querySelectorAll("tr.selected").forEach((tr) => tr.classList.remove("selected"));
}

// ---- the charts ----

const secs = (t) => Math.round(parseTime(t) / 1000);

function lossColour(ratio) {
  if (ratio === null || ratio === undefined) return "#9aa5b1";
  return LOSS_COLOURS.find(([limit]) => ratio <= limit)[1];
}

function withAlpha(hex, alpha) {
  return `${hex}${Math.round(alpha * 255).toString(16).padStart(2, "0")}`;
}

function seriesName(s, withKind) {
  const kind = (s.kind || "").replace(/^probe\./, "");
  return `${s.agent} → ${s.server}${withKind && kind ? ` (${kind})` : ""}`;
}

/** The x values every chart shares: the bucket edges (every series is a column on them) and
 * the window's ends, so each chart's automatic x range is the same. */
function sharedX(data) {
  const xs = new Set((data.axis || []).map(secs));
  if (data.window) {
    xs.add(secs(data.window.first));
    const last = secs(data.window.last);
    xs.add(Math.max(last, ...xs));
  }
  return [...xs].filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
}

function column(xs, pairs) {
  const at = new Map(pairs);
  return xs.map((x) => (at.has(x) ? at.get(x) : null));
}

function utc(ts) {
  return window.uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");
}

/** Tick labels in UTC, 24 h: "14:30", the date under the first tick and each new day. */
function timeTicks(u, ticks, axisIdx, space, incr) {
  let day = null;
  return ticks.map((t) => {
    const iso = new Date(t * 1000).toISOString();
    const date = iso.slice(5, 10);
    const time = iso.slice(11, incr < 60 ? 19 : 16);
    const label = incr >= 86400 ? date : day === null || date !== day ? `${time}\n${date}` : time;
    day = date;
    return label;
  });
}

let syncing = false;

function syncX(u) {
  if (syncing) return;
  syncing = true;
  const { min, max } = u.scales.x;
  for (const other of Object.values(charts)) {
    if (other && other !== u && (other.scales.x.min !== min || other.scales.x.max !== max)) {
      other.setScale("x", { min, max });
    }
  }
  syncing = false;
}

function baseOptions(box, height, yLabel, yValue) {
  return {
    width: chartWidth(box),
    height,
    tzDate: utc,
    cursor: { sync: { key: "history" }, drag: { x: true, y: false } },
    scales: { x: { time: true } },
    axes: [{ space: 70, size: 48, values: timeTicks },
           { label: yLabel, size: 64, values: (u, ticks) => ticks.map((t) => yValue(t)) }], // prettier-ignore
    hooks: { setScale: [(u, key) => key === "x" && syncX(u)] },
    series: [{ label: "time (UTC)", value: (u, v) => (v === null ? "–" : fmtTime(v * 1000)) }],
  };
}

function empty(box, text) {
  replace(box, el("p", { class: "chart-empty" }, text));
}

function latencyChart(xs, data) {
  const box = boxes.latency;
  const groups = data.latency || [];
  if (!groups.length || !xs.length) return empty(box, "No latency figures in this view.");
  const opts = baseOptions(box, 320, "ms", (v) => fmt(v));
  opts.bands = [];
  opts.scales.y = { range: (u, min, max) => [Math.max(0, min * 0.9), max * 1.05 || 1] };
  const columns = [xs];
  const medians = [];
  const axis = (data.axis || []).map(secs);
  groups.forEach((g, i) => {
    const colour = PALETTE[i % PALETTE.length];
    // Each figure is a column on the shared axis: g.p50[j] belongs to data.axis[j].
    const pick = (key) => column(xs, axis.map((x, j) => [x, (g[key] || [])[j] ?? null]));
    const base = columns.length;
    for (const key of ["p90", "p75", "p50", "p25", "p10"]) columns.push(pick(key));
    const name = seriesName(g, false);
    const hidden = { stroke: "transparent", width: 0, points: { show: false } };
    opts.series.push(
      { label: `${name} p90`, ...hidden },
      { label: `${name} p75`, ...hidden },
      { label: `${name} median (${(g.kind || "").replace(/^probe\./, "")})`, stroke: colour, width: 1.75,
        points: { show: false }, value: (u, v) => fmt(v, "ms") }, // prettier-ignore
      { label: `${name} p25`, ...hidden },
      { label: `${name} p10`, ...hidden },
    );
    opts.bands.push({ series: [base, base + 4], fill: withAlpha(colour, 0.12) },
                    { series: [base + 1, base + 3], fill: withAlpha(colour, 0.28) }); // prettier-ignore
    medians.push({ index: base + 2, loss: pick("loss_ratio") });
  });
  // SmokePing's loss colour: a dot on the median of every bucket, coloured by its loss.
  opts.hooks.draw = [(u) => {
    const { ctx } = u;
    const r = 3.2 * devicePixelRatio;
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    for (const m of medians) {
      if (!u.series[m.index].show) continue;
      const ys = u.data[m.index];
      for (let i = 0; i < ys.length; i++) {
        if (ys[i] === null) continue;
        const x = u.valToPos(u.data[0][i], "x", true);
        const y = u.valToPos(ys[i], "y", true);
        ctx.beginPath();
        ctx.arc(x, y, r, 0, 2 * Math.PI);
        ctx.fillStyle = lossColour(m.loss[i]);
        ctx.fill();
        ctx.lineWidth = devicePixelRatio;
        ctx.strokeStyle = "rgba(0,0,0,0.35)";
        ctx.stroke();
      }
    }
    ctx.restore();
  }];
  replace(box);
  const chart = new window.uPlot(opts, columns, box);
  // Only the medians in the legend: the percentile series are the bands' edges.
  chart.root.querySelectorAll(".u-legend .u-series").forEach((row, i) => {
    if (i > 0 && (i - 1) % 5 !== 2) row.style.display = "none";
  });
  return chart;
}

function columnChart(name, xs, data, yLabel, scale, unit) {
  const box = boxes[name];
  const groups = data[name] || [];
  if (!groups.length || !xs.length) return empty(box, `No ${name} figures in this view.`);
  const axis = (data.axis || []).map(secs);
  const opts = baseOptions(box, 240, yLabel, (v) => fmt(v));
  opts.scales.y = { range: (u, min, max) => [0, Math.max(name === "loss" ? 1 : 0.001, max * 1.1)] };
  const columns = [xs];
  groups.forEach((g, i) => {
    const colour = PALETTE[i % PALETTE.length];
    columns.push(column(xs, axis.map((x, j) => [x, g.values[j] === null ? null : g.values[j] * scale])));
    opts.series.push({ label: seriesName(g, true), stroke: colour, width: 1.5,
                       points: { show: true, size: 4, fill: colour },
                       value: (u, v) => fmt(v, unit) }); // prettier-ignore
  });
  replace(box);
  return new window.uPlot(opts, columns, box);
}

function showCharts(data) {
  for (const key of Object.keys(charts)) {
    if (charts[key]) charts[key].destroy();
    charts[key] = null;
  }
  for (const s of [...(data.latency || []), ...(data.loss || []), ...(data.throughput || [])]) {
    remember("agent", [s.agent]);
    remember("server", [s.server]);
    remember("kind", [(s.kind || "").replace(/^probe\./, "")]);
  }
  if (!window.uPlot) {
    Object.values(boxes).forEach((b) => empty(b, "The chart library did not load."));
    return;
  }
  const xs = sharedX(data);
  charts.latency = latencyChart(xs, data) || null;
  charts.loss = columnChart("loss", xs, data, "loss %", 100, "%") || null;
  charts.throughput = columnChart("throughput", xs, data, "Mbit/s", 1e-6, "Mbit/s") || null;
  const w = data.window;
  status.textContent = w
    ? `${fmtTime(w.first)} … ${fmtTime(w.last)} UTC, buckets of ${bucketText(data.bucket_s)}.`
    : "No records in this view.";
}

function bucketText(seconds) {
  if (!seconds) return "–";
  if (seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

// ---- loading ----

async function load({ charts: withCharts = true } = {}) {
  const mine = ++loads;
  root.dataset.state = "loading";
  errorBox.textContent = "";
  showLinks();
  const p = params();
  try {
    const [listing, data] = await Promise.all([
      api("history", { query: p }),
      withCharts ? api("history/charts", { query: filterQuery(p) }) : null,
    ]);
    if (mine !== loads) return;
    showListing(listing);
    if (data) showCharts(data);
    if (p.get("view") === "detail" && p.get("record")) {
      await showDetail(p.get("record"), false);
    } else {
      detailCard.hidden = true;
    }
    if (mine === loads) root.dataset.state = "ready";
  } catch (err) {
    if (mine !== loads) return;
    errorBox.textContent = err.message;
    root.dataset.state = "error";
  }
}

// ---- wiring ----

filters.addEventListener("submit", (event) => {
  event.preventDefault();
  setParams(readForm());
  load();
});

document.getElementById("history-reset").addEventListener("click", () => {
  setParams(new URLSearchParams());
  fillForm();
  load();
});

document.getElementById("history-refresh").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  status.textContent = "Reading new bundles…";
  try {
    const got = await api("refresh", { method: "POST" });
    const note = `Refreshed: listed ${got.listed ?? "?"} bundle(s), ingested ${got.ingested ?? "?"}.`;
    status.textContent = note;
    await load();
    status.textContent = `${note} ${status.textContent}`;
  } catch (err) {
    errorBox.textContent = `Refresh failed: ${err.message}`;
    root.dataset.state = "error";
  } finally {
    button.disabled = false;
  }
});

// "since" replaces the range; a range replaces "since" (the view refuses both).
inputs.since.addEventListener("change", () => {
  if (inputs.since.value) inputs.range.value = "";
});
inputs.range.addEventListener("change", () => {
  if (inputs.range.value) inputs.since.value = "";
});

pager.first.addEventListener("click", () => goPage(1));
pager.prev.addEventListener("click", () => goPage(Number(params().get("page") || 1) - 1));
pager.next.addEventListener("click", () => goPage(Number(params().get("page") || 1) + 1));
pager.last.addEventListener("click", () => goPage(pages));
document.getElementById("history-detail-close").addEventListener("click", closeDetail);

const fit = fitCharts(() => Object.entries(charts).filter(([, c]) => c).map(([k, c]) => [c, boxes[k]]));
fillForm();
load().then(fit);
