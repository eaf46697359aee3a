// The Run page: pick a probe kind, fill the form generated from the probe's options model
// (GET form/<kind>), run it (POST jobs), watch its live lines, progress and per-reply RTTs
// (GET jobs/<id>?cursor=N every 500 ms), cancel it, then read the record's metrics.
// The page root's data-state is idle | running | done | failed | cancelled.

import { api, append, el, fitCharts, fmt, fmtTime, replace, chartWidth } from "./api.js";

const POLL_MS = 500;
const root = document.getElementById("run");
const kindSelect = document.getElementById("run-kind");
const summary = document.getElementById("run-summary");
const form = document.getElementById("run-form");
const fieldsBox = document.getElementById("run-fields");
const submitButton = document.getElementById("run-submit");
const cancelButton = document.getElementById("run-cancel");
const errorBox = document.getElementById("run-error");
const status = document.getElementById("run-status");
const progress = document.getElementById("run-progress");
const chartBox = document.getElementById("run-chart");
const linesBox = document.getElementById("run-lines");
const storedBox = document.getElementById("run-stored");
const outcome = document.getElementById("run-outcome");
const resultBody = document.querySelector("#run-result tbody");
const jobsBox = document.getElementById("run-jobs");

let schema = null; // the form of the chosen kind
let current = null; // {id, cursor, timer, failures}
let chart = null;
let rtts = [[], []]; // x: reply number (seq when the line has one), y: RTT in ms

const fit = fitCharts(() => (chart ? [[chart, chartBox]] : []));

function setState(state) {
  root.dataset.state = state;
}

// ---- the form ----

function inputId(name) {
  return `run-f-${name}`;
}

function bounds(field) {
  const attrs = {};
  const integer = field.type === "integer";
  if (field.ge !== undefined) attrs.min = field.ge;
  else if (field.gt !== undefined) attrs.min = integer ? field.gt + 1 : field.gt;
  if (field.le !== undefined) attrs.max = field.le;
  else if (field.lt !== undefined) attrs.max = integer ? field.lt - 1 : field.lt;
  return attrs;
}

function control(field) {
  const id = inputId(field.name);
  const common = { id, name: field.name, "aria-describedby": `${id}-hint ${id}-error`,
                   required: field.required }; // prettier-ignore
  const hasDefault = field.default !== null && field.default !== undefined;
  if (field.type === "boolean") {
    return el("input", { ...common, type: "checkbox", checked: field.default === true });
  }
  if (field.type === "choice") {
    const options = (field.choices || []).map((c) =>
      el("option", { value: c, selected: hasDefault && String(field.default) === String(c) }, c));
    if (!field.required && !hasDefault) {
      options.unshift(el("option", { value: "" }, "(not set)"));
    }
    return el("select", common, options);
  }
  if (field.type === "integer" || field.type === "number") {
    return el("input", { ...common, type: "number", inputmode: field.type === "integer" ? "numeric" : "decimal",
                         step: field.type === "integer" ? "1" : "any", ...bounds(field),
                         value: hasDefault ? String(field.default) : "" }); // prettier-ignore
  }
  return el("input", { ...common, type: "text", value: hasDefault ? String(field.default) : "",
                       placeholder: field.type === "list" ? "several separated by commas" : null,
                       autocomplete: "off", spellcheck: "false" }); // prettier-ignore
}

function fieldRow(field) {
  const id = inputId(field.name);
  const input = control(field);
  const unit = field.unit ? el("span", { class: "unit" }, ` (${field.unit})`) : null;
  const hint = el("span", { class: "hint", id: `${id}-hint` }, field.help || "",
                  field.flag && field.flag !== "TARGET" ? ` CLI: ${field.flag}` : ""); // prettier-ignore
  const error = el("span", { class: "field-error", id: `${id}-error`, role: "alert" });
  if (field.type === "boolean") {
    return el("div", { class: "field", dataset: { field: field.name } },
      el("label", { for: id, class: "check" }, input, field.label, unit), hint, error); // prettier-ignore
  }
  const label = el("label", { for: id }, el("span", { class: field.required ? "required" : "" },
                   field.label), unit); // prettier-ignore
  return el("div", { class: "field", dataset: { field: field.name } }, label, input, hint, error);
}

async function loadForm(kind) {
  clearErrors();
  replace(fieldsBox);
  summary.textContent = "Loading the form…";
  try {
    schema = await api(`form/${encodeURIComponent(kind)}`);
  } catch (err) {
    schema = null;
    summary.textContent = "";
    errorBox.textContent = `The form of ${kind} could not be loaded: ${err.message}`;
    return;
  }
  summary.textContent = schema.summary || "";
  replace(fieldsBox, schema.fields.map(fieldRow));
}

function values() {
  const out = {};
  for (const field of schema ? schema.fields : []) {
    const input = document.getElementById(inputId(field.name));
    if (!input) continue;
    out[field.name] = field.type === "boolean" ? (input.checked ? "true" : "false") : input.value.trim();
  }
  return out;
}

function clearErrors() {
  errorBox.textContent = "";
  for (const node of fieldsBox.querySelectorAll(".field-error")) node.textContent = "";
  for (const node of fieldsBox.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

function showErrors(err) {
  const errors = (err.body && err.body.errors) || {};
  const general = [];
  let first = null;
  for (const [name, message] of Object.entries(errors)) {
    const input = document.getElementById(inputId(name));
    const slot = document.getElementById(`${inputId(name)}-error`);
    if (input && slot) {
      slot.textContent = message;
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    } else {
      general.push(`${name}: ${message}`);
    }
  }
  const head = err.status === 400 && Object.keys(errors).length ? "Please correct the form." : err.message;
  errorBox.textContent = [head, ...general].join(" ");
  if (first) first.focus();
}

// ---- the live view ----

const RTT = /\btime=([0-9]+(?:\.[0-9]+)?) ?ms\b/;
const SEQ = /\bseq=([0-9]+)/;

function takeRtts(lines) {
  let added = false;
  for (const line of lines) {
    const m = RTT.exec(line);
    if (!m) continue;
    const seq = SEQ.exec(line);
    const x = seq ? Number(seq[1]) : rtts[0].length + 1;
    const last = rtts[0].at(-1);
    if (last !== undefined && x <= last) {
      rtts[0].push(last + 1); // keep x sorted (uPlot needs it), e.g. a duplicate reply
    } else {
      rtts[0].push(x);
    }
    rtts[1].push(Number(m[1]));
    added = true;
  }
  if (added) drawRtts();
}

function drawRtts() {
  if (!window.uPlot) return;
  if (chart === null) {
    replace(chartBox);
    const opts = {
      width: chartWidth(chartBox),
      height: 180,
      scales: { x: { time: false } },
      axes: [
        { label: "reply", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] },
        { label: "RTT (ms)", size: 60 },
      ],
      legend: { show: true },
      series: [
        { label: "reply" },
        { label: "RTT", stroke: "#0b5cad", width: 1.5, points: { show: true, size: 5, fill: "#0b5cad" },
          value: (u, v) => fmt(v, "ms") }, // prettier-ignore
      ],
    };
    chart = new window.uPlot(opts, rtts, chartBox);
  } else {
    chart.setData(rtts);
  }
}

function resetLive() {
  linesBox.textContent = "";
  rtts = [[], []];
  if (chart) {
    chart.destroy();
    chart = null;
  }
  replace(chartBox);
  progress.max = 1;
  progress.value = 0;
  replace(resultBody);
  storedBox.textContent = "";
  outcome.textContent = "";
}

function appendLines(lines) {
  if (!lines.length) return;
  const atEnd = linesBox.scrollTop + linesBox.clientHeight >= linesBox.scrollHeight - 4;
  linesBox.append(document.createTextNode(`${lines.join("\n")}\n`));
  if (atEnd) linesBox.scrollTop = linesBox.scrollHeight;
}

function showProgress(p) {
  if (p && p.total > 0) {
    progress.max = p.total;
    progress.value = Math.min(p.done, p.total);
    progress.textContent = `${p.done} / ${p.total}`;
  } else {
    progress.removeAttribute("value"); // indeterminate until the probe knows its total
  }
}

const UNIT_OF = [
  [/_mbps$/, "Mbit/s"], [/_bps$/, "bit/s"], [/_ms$/, "ms"], [/_pct$/, "%"], [/_bytes$/, "B"],
  [/_mb$/, "MB"], [/_s$/, "s"], [/_rps$/, "req/s"], [/_ratio$/, "ratio"],
]; // prettier-ignore

function metricText(name, value) {
  if (value !== null && typeof value === "object") {
    return fmt(value.value, value.unit || "");
  }
  const unit = UNIT_OF.find(([re]) => re.test(name));
  return fmt(value, unit ? unit[1] : "");
}

function showResult(poll) {
  const record = poll.result;
  replace(resultBody);
  if (record) {
    const metrics = Object.entries(record.metrics || {});
    for (const [name, value] of metrics) {
      append(resultBody, el("tr", {}, el("td", {}, name), el("td", { class: "num" }, metricText(name, value))));
    }
    if (!metrics.length) {
      append(resultBody, el("tr", {}, el("td", { colspan: 2, class: "muted" }, "No metrics.")));
    }
    replace(outcome, "Status ", el("span", { class: `badge ${record.status || "unknown"}` }, record.status || "?"),
            record.error ? ` — ${record.error}` : ""); // prettier-ignore
  }
  if (poll.error) {
    append(outcome, record ? el("br") : null, el("span", { class: "error" }, poll.error));
  }
  storedBox.textContent = poll.stored ? `stored as ${poll.stored}` : "not stored";
}

function finish(state, message) {
  current = null;
  setState(state);
  status.textContent = message;
  submitButton.disabled = false;
  cancelButton.disabled = true;
  loadJobs();
}

async function poll() {
  const job = current;
  if (job === null) return;
  let answer;
  try {
    answer = await api(`jobs/${encodeURIComponent(job.id)}`, { query: { cursor: job.cursor } });
  } catch (err) {
    if (current !== job) return;
    job.failures += 1;
    if (err.status === 0 && job.failures < 10) {
      status.textContent = `The UI did not answer; trying again… (${job.failures})`;
      job.timer = setTimeout(poll, POLL_MS * 2);
      return;
    }
    errorBox.textContent = err.message;
    finish("failed", "Lost track of the job.");
    return;
  }
  if (current !== job) return; // another job was started meanwhile
  job.failures = 0;
  job.cursor = answer.cursor;
  appendLines(answer.lines || []);
  takeRtts(answer.lines || []);
  showProgress(answer.progress);
  if (["done", "failed", "cancelled"].includes(answer.state)) {
    if (answer.state === "done" && !(answer.progress && answer.progress.total)) {
      progress.max = 1;
      progress.value = 1;
    }
    showResult(answer);
    const words = { done: "Done.", failed: "The job failed.", cancelled: "Cancelled." };
    finish(answer.state, `${words[answer.state]} ${answer.kind || ""} ${answer.target || ""}`.trim());
    return;
  }
  status.textContent = answer.state === "queued" ? "Queued…" : `Running ${answer.kind || ""} ${answer.target || ""}…`;
  job.timer = setTimeout(poll, POLL_MS);
}

function watch(jobId) {
  if (current !== null) clearTimeout(current.timer);
  resetLive();
  current = { id: jobId, cursor: 0, timer: 0, failures: 0 };
  setState("running");
  submitButton.disabled = true;
  cancelButton.disabled = false;
  status.textContent = "Queued…";
  poll();
}

// ---- the user's jobs ----

async function loadJobs() {
  let answer;
  try {
    answer = await api("jobs");
  } catch (err) {
    replace(jobsBox, el("p", { class: "error" }, `The job list could not be loaded: ${err.message}`));
    return;
  }
  const jobs = answer.jobs || [];
  if (!jobs.length) {
    replace(jobsBox, el("p", { class: "muted" }, "No jobs yet."));
    return;
  }
  const head = el("tr", {},
    ["Started", "Kind", "Target", "State", ""].map((h) => el("th", { scope: "col" }, h))); // prettier-ignore
  const rows = jobs.map((j) => el("tr", {},
    el("td", {}, fmtTime(j.created * 1000)),
    el("td", {}, j.kind),
    el("td", {}, j.target),
    el("td", {}, el("span", { class: `badge ${j.state}` }, j.state)),
    el("td", {}, el("button", { type: "button", class: "small", onclick: () => watch(j.id),
                                "aria-label": `Show job ${j.kind} ${j.target}` }, "Show")))); // prettier-ignore
  replace(jobsBox, el("div", { class: "table-wrap" },
    el("table", { class: "data", id: "run-jobs-table" }, el("thead", {}, head), el("tbody", {}, rows)))); // prettier-ignore
}

// ---- wiring ----

kindSelect.addEventListener("change", () => loadForm(kindSelect.value));

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!schema || current !== null) return;
  clearErrors();
  submitButton.disabled = true;
  let answer;
  try {
    answer = await api("jobs", { method: "POST", body: { kind: schema.kind, values: values() } });
  } catch (err) {
    submitButton.disabled = false;
    showErrors(err);
    return;
  }
  watch(answer.id);
  loadJobs();
});

cancelButton.addEventListener("click", async () => {
  if (current === null) return;
  cancelButton.disabled = true;
  status.textContent = "Cancelling…";
  try {
    await api(`jobs/${encodeURIComponent(current.id)}/cancel`, { method: "POST" });
  } catch (err) {
    errorBox.textContent = `Cancel failed: ${err.message}`;
    cancelButton.disabled = current === null;
  }
});

async function start() {
  setState("idle");
  try {
    const { kinds } = await api("kinds");
    replace(kindSelect, kinds.map((k) => el("option", { value: k }, k)));
    const wanted = new URLSearchParams(location.search).get("kind");
    if (wanted && kinds.includes(wanted)) kindSelect.value = wanted;
    if (kinds.length) await loadForm(kindSelect.value);
  } catch (err) {
    errorBox.textContent = `The probe kinds could not be loaded: ${err.message}`;
    submitButton.disabled = true;
  }
  loadJobs();
  fit();
}

start();
