// The Fleet page: every agent with its last bundle and the current tier towards each server
// (GET fleet → {agents, timeline}), the escalation timeline, an agent's recent bundles with
// download links (GET fleet/bundles?agent=A) and the agent configuration's check
// (GET fleet/config → {path, ok, errors, summary}).
// The page root's data-state is loading | ready | error.

import { api, el, fmt, fmtTime, replace, table } from "./api.js";

const root = document.getElementById("fleet");
const status = document.getElementById("fleet-status");
const errorBox = document.getElementById("fleet-error");
const agentsBox = document.getElementById("fleet-agents-box");
const timelineBox = document.getElementById("fleet-timeline-box");
const bundlesCard = document.getElementById("fleet-bundles-card");
const bundlesTitle = document.getElementById("fleet-bundles-title");
const bundlesBox = document.getElementById("fleet-bundles");
const configBox = document.getElementById("fleet-config");

function tierBadge(tier, prefix = "") {
  if (tier === null || tier === undefined) {
    return el("span", { class: "badge tier-0" }, `${prefix}no tier`);
  }
  return el("span", { class: `badge tier-${Math.min(3, Math.max(0, Number(tier)))}` }, `${prefix}tier ${tier}`);
}

function statusBadge(value) {
  return value ? el("span", { class: `badge ${value}` }, value) : "–";
}

function serverTiers(agent) {
  const servers = agent.servers || [];
  if (!servers.length) return el("span", { class: "muted" }, "none probed");
  return el("div", { class: "server-tiers" }, servers.map((s) =>
    el("span", { title: s.seen_at ? `seen ${fmtTime(s.seen_at)} UTC` : null }, `${s.server} `, tierBadge(s.tier))));
}

function showAgents(agents) {
  const columns = [
    { label: "Agent", cell: (a) => a.agent },
    { label: "Bundles", class: "num", cell: (a) => a.bundles },
    { label: "Last bundle (UTC)", cell: (a) => fmtTime(a.last_bundle && a.last_bundle.started_at) },
    { label: "Status", cell: (a) => statusBadge(a.last_bundle && a.last_bundle.status) },
    { label: "Size", class: "num", cell: (a) => {
      const b = a.last_bundle || {};
      return fmt(b.size_bytes ?? b.size, "B");
    } }, // prettier-ignore
    { label: "Country", cell: (a) => (a.last_bundle && a.last_bundle.country) || "–" },
    { label: "ASN", cell: (a) => (a.last_bundle && a.last_bundle.asn ? `AS${a.last_bundle.asn}` : "–") },
    { label: "Current tier per server", cell: serverTiers },
    { label: "", cell: (a) => el("button", { type: "button", class: "small", onclick: () => showBundles(a.agent),
                                             "aria-label": `Bundles of ${a.agent}` }, "Bundles") }, // prettier-ignore
  ];
  replace(agentsBox, agents.length
    ? table("fleet-agents", columns, agents, { caption: `${agents.length} agent${agents.length === 1 ? "" : "s"}` })
    : el("p", { class: "muted", id: "fleet-agents" }, "No agent has sent a bundle yet.")); // prettier-ignore
}

function showTimeline(events) {
  const columns = [
    { label: "Time (UTC)", cell: (e) => fmtTime(e.t) },
    { label: "Agent", cell: (e) => e.agent },
    { label: "Server", cell: (e) => e.server },
    { label: "Change", cell: (e) => el("span", {}, tierBadge(e.from_tier), " → ", tierBadge(e.to_tier)) },
    { label: "Reason", class: "wrap", cell: (e) => e.reason || e.event || "" },
    { label: "Metric", cell: (e) => e.metric || "–" },
    { label: "Value", class: "num", cell: (e) => fmt(e.value) },
    { label: "Threshold", class: "num", cell: (e) => fmt(e.threshold) },
  ];
  replace(timelineBox, events.length
    ? table("fleet-timeline", columns, events,
            { caption: `${events.length} tier change${events.length === 1 ? "" : "s"}, newest first` })
    : el("p", { class: "muted", id: "fleet-timeline" }, "No tier change recorded.")); // prettier-ignore
}

async function showBundles(agent) {
  bundlesCard.hidden = false;
  bundlesTitle.textContent = `Recent bundles of ${agent}`;
  replace(bundlesBox, el("p", { class: "muted" }, "Loading…"));
  bundlesCard.scrollIntoView({ block: "nearest" });
  let answer;
  try {
    answer = await api("fleet/bundles", { query: { agent } });
  } catch (err) {
    replace(bundlesBox, el("p", { class: "error" }, err.message));
    return;
  }
  const columns = [
    { label: "Bundle", class: "num", cell: (b) => b.bundle_id },
    { label: "Started (UTC)", cell: (b) => fmtTime(b.started_at) },
    { label: "Status", cell: (b) => statusBadge(b.status) },
    { label: "Size", class: "num", cell: (b) => fmt(b.size_bytes ?? b.size, "B") },
    { label: "Download", cell: (b) => (b.download
      ? el("a", { href: b.download, download: "" }, `bundle ${b.bundle_id}`)
      : el("span", { class: "muted" }, "not downloadable here")) }, // prettier-ignore
  ];
  const bundles = answer.bundles || [];
  replace(bundlesBox, bundles.length
    ? table("fleet-bundles-table", columns, bundles)
    : el("p", { class: "muted" }, "No bundle.")); // prettier-ignore
  const first = bundlesBox.querySelector("a, button");
  if (first) first.focus({ preventScroll: true });
}

function summaryValue(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "object") {
    if (Array.isArray(value) && value.every((v) => typeof v !== "object")) return value.join(", ");
    return el("pre", { class: "json" }, JSON.stringify(value, null, 2));
  }
  return String(value);
}

function showConfig(config) {
  const summary = Object.entries(config.summary || {});
  const errors = config.errors || [];
  replace(configBox,
    el("p", {}, config.path
      ? el("code", {}, config.path)
      : el("span", { class: "muted" }, "No configuration file (defaults)."),
       " ", el("span", { class: `badge ${config.ok ? "ok" : "failed"}` }, config.ok ? "valid" : "has errors")),
    errors.length ? el("ul", { class: "errors" }, errors.map((e) => el("li", {}, e))) : null,
    summary.length
      ? el("dl", { class: "kv" }, summary.map(([k, v]) => [el("dt", {}, k), el("dd", {}, summaryValue(v))]))
      : null,
  ); // prettier-ignore
}

async function loadConfig() {
  try {
    showConfig(await api("fleet/config"));
  } catch (err) {
    replace(configBox, el("p", { class: "error" }, `The configuration could not be read: ${err.message}`));
  }
}

async function load() {
  root.dataset.state = "loading";
  status.textContent = "Loading…";
  errorBox.textContent = "";
  const config = loadConfig();
  try {
    const answer = await api("fleet");
    showAgents(answer.agents || []);
    showTimeline(answer.timeline || []);
    await config;
    status.textContent = `As of ${fmtTime(Date.now())} UTC.`;
    root.dataset.state = "ready";
  } catch (err) {
    await config;
    status.textContent = "";
    errorBox.textContent = err.message;
    root.dataset.state = "error";
  }
}

load();
