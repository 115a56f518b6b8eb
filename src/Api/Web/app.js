// The web UI's frame: the API key, the collection (its declared fields feed the filter builders), uploads and their status.
"use strict";
const $ = id => document.getElementById(id);
const docs = new Map(); // documentId -> last status of an upload
let settings = {};      // the selected collection's settings

function collection() { return $("collection").value; }
function collectionPath() { return `/v1/collections/${encodeURIComponent(collection())}`; }
function currentFields() { return settings.fields || {}; }

async function loadCollections(select) {
  try {
    const names = await rc.call("GET", "/v1/collections");
    $("collection").replaceChildren(...names.map(n => rc.el("option", { value: n }, n)));
    if (select) $("collection").value = select;
    $("collection-error").textContent = names.length ? "" : "No collections yet: create one.";
    await collectionChanged();
  } catch (e) { $("collection-error").textContent = e.message; }
}

// A collection picked: its fields, access field and aliases shown; the filters, the conversation and the lists start over.
async function collectionChanged() {
  if (!collection()) return;
  try {
    const [c, aliases] = await Promise.all([rc.call("GET", collectionPath()), rc.call("GET", "/v1/aliases").catch(() => [])]);
    settings = c.settings;
    const fields = Object.entries(currentFields()).map(([k, v]) => `${k} (${v})`).join(", ") || "none declared";
    const names = aliases.filter(a => a.collection === collection()).map(a => a.alias);
    $("collection-info").textContent = `${c.documentCount ?? "?"} documents · fields: ${fields}`
      + (settings.accessField ? ` · access field: ${settings.accessField}` : "") + (names.length ? ` · aliases: ${names.join(", ")}` : "");
  } catch (e) { settings = {}; $("collection-info").textContent = e.message; }
  searchFilter.setFields(currentFields());
  documentsFilter.setFields(currentFields());
  $("hits").replaceChildren();
  $("documents").replaceChildren();
  newConversation();
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
      const r = await rc.call("POST", `${collectionPath()}/documents`, form);
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
      docs.set(d.documentId, await rc.call("GET", `${collectionPath()}/documents/${encodeURIComponent(d.documentId)}`));
    } catch (e) { d.error = e.message; }
  }
  renderUploads();
}

document.addEventListener("DOMContentLoaded", () => {
  rc.bindKey($("key"), $("save-key"), () => loadCollections());
  $("create-collection").addEventListener("click", async () => {
    const name = $("new-collection").value.trim();
    try { await rc.call("POST", "/v1/collections", { name }); $("new-collection").value = ""; await loadCollections(name); }
    catch (e) { $("collection-error").textContent = e.message; }
  });
  $("collection").addEventListener("change", collectionChanged);
  $("upload").addEventListener("click", upload);
  if (rc.key()) loadCollections();
  setInterval(poll, 1000);
});
