// The document list: a page of documents (optionally filtered), their status and tags; tags edited through PATCH,
// a document deleted after a confirmation.
"use strict";
let documentsFilter;
let pageAfter = null, nextAfter = null; // the "after" of this page and of the next (null: the first page; the last page)

const tagText = v => Array.isArray(v) ? v.join("|") : String(v);


function tagEditor(doc, tags, fields) {
  const row = (name, value) => rc.el("div", { class: "row tag-row" },
    rc.el("input", { class: "tag-name", value: name, "aria-label": "tag name", size: "10" }),
    rc.el("input", { class: "tag-value", value, "aria-label": "tag value", size: "16" }));
  const rows = rc.el("div", {}, ...Object.entries(tags).map(([k, v]) => row(k, tagText(v))), row("", ""));
  const state = rc.el("span", { class: "muted" });
  const save = async () => {
    const changed = {};
    for (const name of Object.keys(tags)) changed[name] = null; // a tag no longer listed is removed
    for (const r of rows.children) {
      const name = r.querySelector(".tag-name").value.trim(), text = r.querySelector(".tag-value").value.trim();
      if (name && text !== "") changed[name] = rc.typed(fields[name] || "string", text); // undeclared: text ("a|b" is an array only where declared)
    }
    try {
      const accepted = await rc.call("PATCH", `${collectionPath()}/documents/${encodeURIComponent(doc)}`, { tags: changed });
      state.textContent = "saved, indexing…";
      const now = await untilIndexed(doc, accepted.version);
      if (now.status === "pending") { state.textContent = "saved; still indexing, load the list again later"; return; }
      await loadDocuments("same");
    } catch (e) { state.textContent = e.message; }
  };
  return rc.el("div", { class: "tag-editor" }, rows,
    rc.el("div", { class: "row" }, rc.el("button", { class: "save-tags", onclick: save }, "Save tags"),
      rc.el("button", { class: "secondary", onclick: () => rows.append(row("", "")) }, "+ tag"), state));
}

// A tag change is answered 202 before the shards hold it: the list shows it once that version left "pending".
async function untilIndexed(doc, version) {
  const ask = async () => (await rc.call("POST", `${collectionPath()}/documents/statuses`, { ids: [doc] })).documents[0];
  let s = await ask();
  for (let wait = 100, waited = 0; s.status === "pending" && s.version <= version && waited < 60_000; waited += wait, wait = Math.min(wait * 2, 1000)) {
    await new Promise(r => setTimeout(r, wait));
    s = await ask();
  }
  return s;
}

// which: "first" page, "next" page, or this "same" one again (after a change).
async function loadDocuments(which) {
  if (which === "first") pageAfter = null; else if (which === "next") pageAfter = nextAfter;
  $("documents-state").textContent = "loading…";
  try {
    const filter = documentsFilter.value();
    const query = new URLSearchParams({ limit: "20" });
    if (filter) query.set("filter", JSON.stringify(filter));
    if (pageAfter) query.set("after", pageAfter);
    const page = await rc.call("GET", `${collectionPath()}/documents?${query}`);
    const ids = page.documentIds;
    const [statuses, contents] = ids.length ? await Promise.all([
      rc.call("POST", `${collectionPath()}/documents/statuses`, { ids }),
      rc.call("POST", `${collectionPath()}/documents/contents`, { ids })]) : [{ documents: [] }, { documents: [] }];
    const tags = new Map(contents.documents.map(d => [d.documentId, d.tags]));
    const fields = currentFields();
    rc.fill($("documents"), statuses.documents.map(s => {
      const t = tags.get(s.documentId) || {};
      const editCell = rc.el("td", { class: "tags" }, ...Object.entries(t).map(([k, v]) => rc.el("span", { class: "chip" }, `${k}=${tagText(v)}`)));
      return rc.el("tr", { "data-doc": s.documentId },
        rc.el("td", {}, s.documentId), rc.el("td", { class: "status-" + s.status }, s.status), rc.el("td", {}, s.version), rc.el("td", {}, s.chunkCount), editCell,
        rc.el("td", {},
          rc.el("button", { class: "secondary edit-tags", onclick: () => editCell.replaceChildren(tagEditor(s.documentId, t, fields)) }, "Edit tags"),
          rc.el("button", { class: "danger delete", onclick: () => remove(s.documentId) }, "Delete")));
    }));
    nextAfter = page.next;
    $("documents-next").hidden = !page.next;
    $("documents-state").textContent = `${ids.length} documents${page.next ? ", more on the next page" : ""}`;
  } catch (e) { $("documents-state").textContent = e.message; }
}

async function remove(doc) {
  if (!confirm(`Delete ${doc}? Its chunks leave the index; this cannot be undone.`)) return;
  try {
    await rc.call("DELETE", `${collectionPath()}/documents/${encodeURIComponent(doc)}`);
    $("documents-state").textContent = `${doc} deleted`;
    await loadDocuments("same");
  } catch (e) { $("documents-state").textContent = e.message; }
}

document.addEventListener("DOMContentLoaded", () => {
  documentsFilter = filterBuilder($("documents-filter"), "documents");
  $("documents-load").addEventListener("click", () => loadDocuments("first"));
  $("documents-next").addEventListener("click", () => loadDocuments("next"));
});
