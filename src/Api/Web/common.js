// Shared by the web UI and the dashboard: the API key (kept for this browser tab only) and JSON calls with it.
"use strict";
const rc = {
  key() { return sessionStorage.getItem("rc-key") || ""; },
  setKey(k) { sessionStorage.setItem("rc-key", k.trim()); },
  async call(method, path, body, extraHeaders) {
    const headers = Object.assign({ "X-Api-Key": rc.key() }, extraHeaders || {});
    let payload = body;
    if (body !== undefined && !(body instanceof FormData)) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
    const r = await fetch(path, { method, headers, body: payload });
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = text; }
    if (!r.ok) throw new Error(data && data.title ? `${r.status} ${data.title}: ${data.detail || ""}` : `${r.status}`);
    return data;
  },
  el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
    return e;
  },
  fill(tbody, rows) { tbody.replaceChildren(...rows); },
  // A value typed in a box, as the collection declares the field (docs/filters.md): numbers, booleans, "a|b" arrays, else text.
  typed(type, text) {
    if (type.endsWith("[]")) return text.split("|").map(x => rc.typed(type.slice(0, -2), x.trim())).filter(x => x !== "");
    if (type === "integer" || type === "float") return Number(text);
    if (type === "boolean") return text === "true";
    return text;
  },
  bindKey(input, button, onSaved) {
    input.value = rc.key();
    button.addEventListener("click", () => { rc.setKey(input.value); onSaved(); });
  },
};
