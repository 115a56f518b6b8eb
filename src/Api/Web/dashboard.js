// The dashboard: polls /v1/dashboard every 2 s (operator key) and renders the cluster; a trace link loads one query's spans.
"use strict";
const $ = id => document.getElementById(id);
const colours = ["#2f6fde", "#1e8e3e", "#c0392b", "#8e44ad", "#d68910", "#16a085"];
let refreshes = 0, timer = null, generation = 0;

const mb = bytes => (bytes / 1048576).toFixed(0) + " MiB";
const pct = r => r == null ? "–" : (100 * r).toFixed(1) + " %";
const shortSilo = id => id.replace(/@\d+$/, "");

function render(d) {
  rc.fill($("silos"), d.silos.map(s => rc.el("tr", { "data-silo": s.siloId },
    rc.el("td", {}, shortSilo(s.siloId) + (s.local ? " (this API silo)" : "")),
    rc.el("td", { class: s.reachable ? "status-" + s.status : "unreachable" }, s.reachable ? s.status : s.status + ", not answering"),
    rc.el("td", {}, s.load ? s.load.cpuPercent : "–"), rc.el("td", {}, s.load ? mb(s.load.workingSetBytes) : "–"),
    rc.el("td", {}, s.load ? s.load.threadPoolQueue : "–"),
    rc.el("td", { class: "activation-total" }, Object.values(s.activations).reduce((a, b) => a + b, 0)),
    rc.el("td", {}, Object.values(s.queued).reduce((a, b) => a + b, 0)), rc.el("td", {}, s.heartbeatAgeMs + " ms"))));

  rc.fill($("embedding"), d.silos.filter(s => s.embedding).map(s => {
    const e = s.embedding;
    return rc.el("tr", { "data-silo": s.siloId }, rc.el("td", {}, shortSilo(s.siloId)), rc.el("td", {}, e.roles.join(", ") || "none"),
      rc.el("td", { title: e.status }, e.available ? "yes" : "no"), rc.el("td", { class: "embedding-provider" }, e.executionProvider ?? (e.available && !e.loaded ? "not loaded yet" : "–")),
      rc.el("td", {}, e.device ?? "–"), rc.el("td", { class: "embedding-rate" }, e.textsPerSecond.toFixed(1)), rc.el("td", {}, e.queued),
      rc.el("td", {}, e.texts), rc.el("td", {}, e.batches), rc.el("td", {}, e.inferenceSeconds.toFixed(1)));
  }));

  const types = [...new Set(d.silos.flatMap(s => Object.keys(s.activations)))].sort();
  $("activations-head").replaceChildren(rc.el("tr", {}, rc.el("th", {}, "Grain type"), ...d.silos.map(s => rc.el("th", {}, shortSilo(s.siloId)))));
  rc.fill($("activations"), types.map(t => rc.el("tr", {}, rc.el("td", {}, t), ...d.silos.map(s => rc.el("td", {}, s.activations[t] ?? 0)))));
  drawHistory(d.history);

  rc.fill($("methods"), d.methods.map(m => rc.el("tr", {}, rc.el("td", {}, `${m.type}.${m.method}`), rc.el("td", {}, m.calls),
    rc.el("td", { class: m.errors ? "error" : "" }, m.errors), rc.el("td", {}, m.meanMs.toFixed(2)), rc.el("td", {}, m.maxMs.toFixed(1)))));
  rc.fill($("cache"), ["l1", "l2", "l3"].map(t => rc.el("tr", {}, rc.el("td", {}, t.toUpperCase()), rc.el("td", {}, d.cache[t].hits),
    rc.el("td", {}, d.cache[t].misses), rc.el("td", {}, pct(d.cache[t].hitRate)))));
  rc.fill($("collections"), d.collections.map(c => rc.el("tr", { "data-collection": c.name }, rc.el("td", {}, c.name), rc.el("td", {}, c.documents),
    rc.el("td", {}, c.shards.map(s => s.chunks).join(" / ")),
    rc.el("td", {}, Object.entries(c.plans.wins).map(([p, n]) => `${p} ${n}`).join(", ") || "–"), rc.el("td", {}, c.plans.queries))));
  rc.fill($("queries"), d.queries.map(q => rc.el("tr", {}, rc.el("td", {}, new Date(q.at).toLocaleTimeString()), rc.el("td", {}, q.collection),
    rc.el("td", {}, q.kind), rc.el("td", {}, q.text), rc.el("td", {}, q.plan), rc.el("td", {}, q.cached ? q.cacheTier : "miss"),
    rc.el("td", {}, q.elapsedMs.toFixed(1)), rc.el("td", {}, q.hits),
    rc.el("td", {}, q.traceId ? rc.el("button", { class: "link trace-link", "data-trace": q.traceId, onclick: () => loadTrace(q.traceId) }, "spans") : "–"))));
  refreshes++;
  $("updated").textContent = `updated ${new Date(d.generatedAt).toLocaleTimeString()} (refresh ${refreshes})`;
  $("updated").dataset.refreshes = refreshes;
}

function drawHistory(history) {
  const canvas = $("history"), g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  if (history.length < 2) return;
  const silos = [...new Set(history.flatMap(h => h.silos.map(s => s.siloId)))].sort();
  const max = Math.max(1, ...history.flatMap(h => h.silos.map(s => s.activations)));
  silos.forEach((id, i) => {
    g.strokeStyle = colours[i % colours.length];
    g.lineWidth = 2;
    g.beginPath();
    history.forEach((h, x) => {
      const s = h.silos.find(s => s.siloId === id);
      const px = x / (history.length - 1) * (canvas.width - 10) + 5, py = canvas.height - 5 - (s ? s.activations : 0) / max * (canvas.height - 10);
      if (x === 0) g.moveTo(px, py); else g.lineTo(px, py);
    });
    g.stroke();
  });
  $("history-legend").replaceChildren(...silos.map((id, i) => {
    const span = rc.el("span", {}, "■ " + shortSilo(id));
    span.style.color = colours[i % colours.length];
    return span;
  }));
}

async function loadTrace(traceId) {
  try {
    const spans = await rc.call("GET", `/v1/dashboard/traces/${traceId}`);
    $("trace-section").hidden = false;
    const t0 = spans.length ? Date.parse(spans[0].start) : 0;
    $("trace-title").textContent = `Trace ${traceId}: ${spans.length} spans on ${new Set(spans.filter(s => s.silo).map(s => s.silo)).size} silo(s)`;
    rc.fill($("trace"), spans.map(s => rc.el("tr", { class: "span" }, rc.el("td", {}, (Date.parse(s.start) - t0).toFixed(0)), rc.el("td", {}, s.name),
      rc.el("td", {}, s.grainKey || ""), rc.el("td", { class: "span-silo" }, s.silo ? shortSilo(s.silo) : ""), rc.el("td", { class: s.error ? "error" : "" }, s.durationMs.toFixed(2)))));
  } catch (e) { $("error").textContent = e.message; }
}

async function refresh() {
  try {
    render(await rc.call("GET", "/v1/dashboard"));
    $("error").textContent = "";
  } catch (e) { $("error").textContent = e.message; }
}

document.addEventListener("DOMContentLoaded", () => {
  // The next refresh is due 2 s after the last one ended, not every 2 s: on a slow cluster a fixed interval piled up
  // requests until they held all of the browser's connections to the host, and a click on a link waited behind them.
  const start = () => {
    clearTimeout(timer);
    const mine = ++generation;
    const loop = async () => { await refresh(); if (mine === generation) timer = setTimeout(loop, 2000); };
    loop();
  };
  rc.bindKey($("key"), $("save-key"), start);
  // Orleans' dashboard cannot send the key header: trade the key for its session cookie, then open it.
  $("orleans-dashboard").addEventListener("click", async (e) => {
    e.preventDefault();
    try { await rc.call("POST", "/v1/dashboard/orleans-session"); location.href = "/dashboard/orleans/"; }
    catch (err) { $("error").textContent = err.message; }
  });
  if (rc.key()) start();
});
