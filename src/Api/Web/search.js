// The search view: query, plan, alpha, topK and a filter; hits with their passage, the query's words marked.
"use strict";
let searchFilter;

// The passage as text nodes and <mark>s around the query's words (no HTML is parsed: text only).
function highlighted(text, query) {
  const words = [...new Set(query.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) || [])];
  if (!words.length) return [text];
  const pattern = new RegExp(`(${words.map(w => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})[\\p{L}\\p{N}]*`, "giu");
  const parts = [];
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    parts.push(text.slice(last, m.index), rc.el("mark", {}, m[0]));
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

async function search(event) {
  event?.preventDefault();
  const query = $("query").value.trim();
  if (!query) return;
  $("search-state").textContent = "searching…";
  try {
    const body = { query, topK: Number($("topk").value) || 10 };
    if ($("plan").value) body.plan = $("plan").value;
    if ($("alpha").value !== "") body.alpha = Number($("alpha").value);
    const filter = searchFilter.value();
    if (filter) body.filter = filter;
    const r = await rc.call("POST", `${collectionPath()}/search`, body);
    $("hits").replaceChildren(...r.hits.map(h => rc.el("li", { class: "hit", "data-doc": h.documentId },
      rc.el("div", { class: "hit-head" }, rc.el("strong", {}, h.documentId), ` · score ${h.score.toFixed(3)} · characters ${h.start}–${h.end}`),
      rc.el("div", { class: "passage" }, ...highlighted(h.text, query)))));
    $("search-state").textContent = `${r.hits.length} hits, plan ${r.plan}${r.cached ? " (cached)" : ""}, ${r.elapsedMs.toFixed(1)} ms`;
  } catch (e) { $("search-state").textContent = e.message; }
}

document.addEventListener("DOMContentLoaded", () => {
  searchFilter = filterBuilder($("search-filter"), "search");
  $("search-form").addEventListener("submit", search);
});
