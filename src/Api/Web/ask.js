// The conversation view: questions asked in one conversation the server keeps (a follow-up may refer to what came
// before), each answer streamed, its citations opening the cited passage in the document.
"use strict";
let conversationId = null; // null: the next question starts a conversation
let lastTurn = null;       // the answer shown below the thread, moved into it when the next question is asked

function citationButtons(citations) {
  return citations.map(c => rc.el("li", {},
    rc.el("button", { class: "link citation", "data-doc": c.documentId, onclick: () => showCitation(c) }, `${c.documentId} (${c.start}–${c.end})`)));
}

// The passage the citation quotes, from the document as the index holds it, the quoted span marked.
async function showCitation(c) {
  const box = $("citation-detail");
  box.hidden = false;
  const head = rc.el("strong", {}, `[${c.number}] ${c.documentId}, characters ${c.start}–${c.end} (score ${c.score.toFixed(3)})`);
  box.replaceChildren(head, "\n", c.quote);
  try {
    const held = await rc.call("POST", `${collectionPath()}/documents/contents`, { ids: [c.documentId] });
    const chunk = held.documents[0]?.chunks.find(x => x.chunkId === c.chunkId);
    if (!chunk) return;
    const from = Math.max(0, c.start - chunk.start), to = Math.min(chunk.text.length, c.end - chunk.start);
    box.replaceChildren(head, "\n", chunk.text.slice(0, from), rc.el("mark", {}, chunk.text.slice(from, to)), chunk.text.slice(to));
  } catch { /* the quote stays shown */ }
}

function newConversation() {
  conversationId = null;
  lastTurn = null;
  $("thread").replaceChildren();
  $("answer").hidden = true;
  $("answer").textContent = "";
  $("citations").replaceChildren();
  $("citation-detail").hidden = true;
  $("ask-state").textContent = "new conversation";
  $("question").focus();
}

async function ask() {
  const question = $("question").value.trim();
  if (!question) return;
  if (lastTurn) $("thread").append(lastTurn);
  $("question").value = "";
  $("answer").hidden = false;
  $("answer").textContent = "";
  $("citations").replaceChildren();
  $("citation-detail").hidden = true;
  $("ask-state").textContent = "asking…";
  const asked = rc.el("p", { class: "turn-question" }, question);
  $("thread").append(asked);
  let citations = [];
  try {
    const r = await fetch(`${collectionPath()}/ask`, {
      method: "POST", headers: { "X-Api-Key": rc.key(), "Content-Type": "application/json" },
      body: JSON.stringify({ question, stream: true, conversationId: conversationId ?? "new" }),
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
        else if (event === "citations") { citations = data; $("citations").replaceChildren(...citationButtons(data)); }
        else if (event === "done") {
          conversationId = data.conversationId;
          const follow = !data.searchedAs ? "" : data.searchedAs.length > 1 ? `; searched with the question before: "${data.searchedAs[1]}"` : `; searched as "${data.searchedAs[0]}"`;
          $("ask-state").textContent = `plan ${data.plan}, ${data.mode}${follow}`;
        }
      }
    }
    lastTurn = rc.el("div", { class: "turn-answer" }, $("answer").textContent, rc.el("ol", { class: "turn-citations" }, ...citationButtons(citations)));
  } catch (e) {
    $("ask-state").textContent = e.message;
    if (/404/.test(e.message)) conversationId = null; // expired or deleted: the next question starts another
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask").addEventListener("click", ask);
  $("new-conversation").addEventListener("click", newConversation);
  $("question").addEventListener("keydown", e => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); ask(); } });
});
