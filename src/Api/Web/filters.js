// A filter builder from the collection's declared fields (docs/filters.md): conditions joined by "and", shown as the
// filter's JSON, which can also be edited by hand. Used by the search and the document list.
"use strict";
const OPS = { "$eq": "=", "$ne": "≠", "$gt": ">", "$gte": "≥", "$lt": "<", "$lte": "≤", "$in": "in (a|b)", "$containsAny": "has any (a|b)", "$exists": "exists" };

function filterBuilder(host, name) {
  const rows = rc.el("div", { class: "conditions" });
  const json = rc.el("input", { id: `${name}-filter-json`, class: "filter-json", placeholder: "filter JSON, e.g. {\"lang\":\"en\"}", "aria-label": `${name} filter JSON`, size: "50" });
  const add = rc.el("button", { id: `${name}-add-condition`, class: "secondary", type: "button" }, "+ condition");
  let fields = {};
  const compose = () => {
    const filter = {};
    for (const row of rows.children) {
      const f = row.querySelector(".field").value, o = row.querySelector(".op").value, t = row.querySelector(".value").value;
      if (!f || (t === "" && o !== "$exists")) continue;
      const item = (fields[f] || "string").replace("[]", ""); // an array field's condition names its items
      const v = o === "$exists" ? t !== "false" : (o === "$in" || o === "$containsAny") ? rc.typed(item + "[]", t) : rc.typed(item, t);
      (filter[f] ??= {})[o] = v;
    }
    json.value = Object.keys(filter).length ? JSON.stringify(filter) : "";
  };
  const condition = () => {
    const names = Object.keys(fields);
    const row = rc.el("div", { class: "row condition" },
      rc.el("select", { class: "field", "aria-label": "field", onchange: compose }, ...names.map(n => rc.el("option", { value: n }, `${n} (${fields[n]})`))),
      rc.el("select", { class: "op", "aria-label": "operator", onchange: compose }, ...Object.entries(OPS).map(([o, label]) => rc.el("option", { value: o }, label))),
      rc.el("input", { class: "value", "aria-label": "value", size: "14", oninput: compose }),
      rc.el("button", { class: "link", type: "button", "aria-label": "remove condition", onclick: () => { row.remove(); compose(); } }, "remove"));
    rows.append(row);
    compose();
    row.querySelector(".value").focus();
  };
  add.addEventListener("click", condition);
  host.replaceChildren(rc.el("div", { class: "row" }, rc.el("span", { class: "muted" }, "filter"), add, json), rows);
  return {
    setFields(declared) { fields = declared || {}; add.hidden = Object.keys(fields).length === 0; rows.replaceChildren(); json.value = ""; },
    // The filter as JSON text, or null; a hand-edited filter that is not JSON is the caller's error to show.
    value() { const t = json.value.trim(); return t ? JSON.parse(t) : null; },
  };
}
