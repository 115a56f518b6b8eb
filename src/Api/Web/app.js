// The web UI: pick or create a collection, upload files and watch them index, ask with a streamed answer.
"use strict";
const $ = id => document.getElementById(id);
const docs = new Map(); // documentId -> last status

function collection() { return $("collection").value; }

async function loadCollections(select) {
  try {
    const names = await rc.call("GET", "/v1/collections");
    $("collection").replaceChildren(...names.map(n => rc.el("option", { value: n }, n)));
    if (select) $("collection").value = select;
    $("collection-error").textContent = names.length ? "" : "No collections yet: create one.";
  } catch (e) { $("collection-error").textContent = e.message; }
}

function renderUploads() {
  rc.fill($("uploads"), [...docs.values()].map(d => rc.el("tr", { "data-doc": d.documentId },
    rc.el("td", {}, d.documentId), rc.el("td", { class: "status-" + d.status }, d.status), rc.el("td", {}, d.version ?? ""),
    rc.el("td", {}, d.chunkCount ?? ""), rc.el("td", { class: "error" }, d.error || ""))));
}

async function upload() {
  for (const file of $("files").files) {
    const form = new FormData();
    form.append("file", file, file.name);
    try {
      const r = await rc.call("POST", `/v1/collections/${encodeURIComponent(collection())}/documents`, form);
      docs.set(r.documentId, { documentId: r.documentId, status: r.status, version: r.version });
    } catch (e) {
      docs.set(file.name, { documentId: file.name, status: "failed", error: e.message });
    }
  }
  renderUploads();
}

async function poll() {
  for (const d of docs.values()) {
    if (d.status !== "pending") continue;
    try {
      const s = await rc.call("GET", `/v1/collections/${encodeURIComponent(collection())}/documents/${encodeURIComponent(d.documentId)}`);
      docs.set(d.documentId, s);
    } catch (e) { d.error = e.message; }
  }
  renderUploads();
}

function showCitation(c) {
  const box = $("citation-detail");
  box.hidden = false;
  box.replaceChildren(rc.el("strong", {}, `[${c.number}] ${c.documentId}, characters ${c.start}–${c.end} (score ${c.score.toFixed(3)})`), "\n", c.quote);
}

async function ask() {
  const question = $("question").value.trim();
  if (!question) return;
  $("answer").textContent = "";
  $("citations").replaceChildren();
  $("citation-detail").hidden = true;
  $("ask-state").textContent = "asking…";
  try {
    const r = await fetch(`/v1/collections/${encodeURIComponent(collection())}/ask`, {
      method: "POST", headers: { "X-Api-Key": rc.key(), "Content-Type": "application/json" }, body: JSON.stringify({ question, stream: true }),
    });
    if (!r.ok) { const p = await r.json(); throw new Error(`${r.status} ${p.title}: ${p.detail || ""}`); }
    // Server-sent events over fetch: "token" pieces of the answer, then "citations", then "done".
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "null");
        if (event === "token") $("answer").append(data);
        else if (event === "citations") $("citations").replaceChildren(...data.map(c => rc.el("li", {},
          rc.el("button", { class: "link citation", "data-doc": c.documentId, onclick: () => showCitation(c) }, `${c.documentId} (${c.start}–${c.end})`))));
        else if (event === "done") $("ask-state").textContent = `plan ${data.plan}, ${data.mode}`;
      }
    }
  } catch (e) { $("ask-state").textContent = e.message; }
}

document.addEventListener("DOMContentLoaded", () => {
  rc.bindKey($("key"), $("save-key"), () => loadCollections());
  $("create-collection").addEventListener("click", async () => {
    const name = $("new-collection").value.trim();
    try { await rc.call("POST", "/v1/collections", { name }); $("new-collection").value = ""; await loadCollections(name); }
    catch (e) { $("collection-error").textContent = e.message; }
  });
  $("upload").addEventListener("click", upload);
  $("ask").addEventListener("click", ask);
  if (rc.key()) loadCollections();
  setInterval(poll, 1000);
});
