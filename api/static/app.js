// viqa chat page: plain DOM, no dependencies. Text from the server is only ever set via textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { messages: [], busy: false };
const CONTEXT_CHARS = 400; // characters of context shown around a cited quote

function apiHeaders(json) {
  const headers = {};
  if (json) headers["Content-Type"] = "application/json";
  const key = $("api-key").value.trim();
  if (key) headers["X-API-Key"] = key;
  headers["X-Requested-With"] = "viqa"; // a cross-site form cannot send it: proof of the same origin for writes
  return headers;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: apiHeaders(options.body !== undefined) });
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    const message = body && body.error ? body.error.message : `Lỗi ${response.status}`;
    throw new Error(message);
  }
  return body;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// Offsets from the server count Unicode code points; slice by code points, not UTF-16 units.
function sliceCp(chars, start, end) {
  return chars.slice(Math.max(0, start), Math.max(0, end)).join("");
}

// Append `text` to `parent`, wrapping the code-point ranges of `marks` ([start, end, className|null]).
function appendMarked(parent, text, marks) {
  const chars = Array.from(text);
  const cuts = new Set([0, chars.length]);
  for (const [s, e] of marks) { cuts.add(Math.min(Math.max(s, 0), chars.length)); cuts.add(Math.min(Math.max(e, 0), chars.length)); }
  const points = [...cuts].sort((a, b) => a - b);
  for (let i = 0; i + 1 < points.length; i++) {
    const [s, e] = [points[i], points[i + 1]];
    let node = document.createTextNode(sliceCp(chars, s, e));
    for (const [ms, me, cls] of marks.slice().reverse()) {
      if (s >= ms && e <= me && ms < me) {
        const wrap = cls ? el("span", cls) : el("mark");
        wrap.appendChild(node);
        node = wrap;
      }
    }
    parent.appendChild(node);
  }
}

function scrollDown() {
  const list = $("conversation");
  list.scrollTop = list.scrollHeight;
}

function addUserMessage(text) {
  $("conversation").appendChild(el("li", "msg-user", text));
  scrollDown();
}

function addError(text) {
  $("conversation").appendChild(el("li", "msg-error", `Lỗi: ${text}`));
  scrollDown();
}

// The page's own link to a cited span: /?c=COLLECTION&d=DOC#START-END (see viqa/links.py).
function citationLink(collection, docId, start, end) {
  const query = new URLSearchParams({ c: collection, d: docId });
  return `/?${query.toString()}#${start}-${end}`;
}

function linkedSpan() {
  const params = new URLSearchParams(location.search);
  const m = /^#(\d+)-(\d+)$/.exec(location.hash);
  if (!params.get("c") || !params.get("d") || !m || Number(m[1]) > Number(m[2])) return null;
  return { collection: params.get("c"), docId: params.get("d"), start: Number(m[1]), end: Number(m[2]) };
}

function citationItem(citation, collection) {
  const li = el("li", "cited");
  li.appendChild(citationButton(citation, collection));
  const link = el("a", "permalink", "Liên kết");
  link.href = citationLink(collection, citation.doc_id, citation.char_start, citation.char_end);
  link.title = "Liên kết tới đoạn được trích";
  li.appendChild(link);
  return li;
}

function citationButton(citation, collection) {
  const button = el("button", "citation");
  button.type = "button";
  button.title = "Mở đoạn văn trong tài liệu";
  button.appendChild(el("span", "source", `${citation.title} — ${citation.doc_id}`));
  const quote = el("span", "quote");
  const start = citation.char_start - citation.quote_start;
  const end = citation.char_end - citation.quote_start;
  appendMarked(quote, citation.quote, [[start, end, null]]);
  button.appendChild(quote);
  button.addEventListener("click", () => openPassage(citation, collection));
  return button;
}

function addAnswer(result, question, collection) {
  const item = el("li", "msg-bot");
  if (result.answer !== null) {
    item.appendChild(el("div", "answer", result.answer));
  } else {
    item.appendChild(el("div", "abstain", result.message || "Không tìm thấy câu trả lời trong tài liệu."));
  }
  const confidence = Math.round(result.confidence * 100);
  item.appendChild(el("p", "meta", `Độ tin cậy: ${confidence}%`));
  if (result.resolved_question && result.resolved_question !== question) {
    item.appendChild(el("p", "meta", `Hiểu câu hỏi là: «${result.resolved_question}»`));
  }
  if (result.citations.length) {
    const list = el("ul", "citations");
    for (const citation of result.citations) list.appendChild(citationItem(citation, collection));
    item.appendChild(list);
  }
  const alternatives = result.alternatives || [];
  if (alternatives.length) {
    const box = el("div", "alternatives");
    box.appendChild(el("p", "meta", "Nguồn khác cho biết:"));
    const list = el("ul", "citations");
    for (const alternative of alternatives) {
      const li = citationItem(alternative.citation, collection);
      li.prepend(el("div", "alternative", `${alternative.text} (độ tin cậy ${Math.round(alternative.confidence * 100)}%)`));
      list.appendChild(li);
    }
    box.appendChild(list);
    item.appendChild(box);
  }
  $("conversation").appendChild(item);
  scrollDown();
}

// Show characters [shown.start, shown.end) of a document in the side panel, with `marks` ([start, end, class|null]
// in document offsets) drawn over them and CONTEXT_CHARS around; `shown.title` until the document's own arrives.
async function showInPanel(collection, docId, shown, marks) {
  const text = $("passage-text");
  $("passage-panel").hidden = false;
  $("passage-title").textContent = shown.title;
  $("passage-meta").textContent = "Đang tải…";
  text.replaceChildren();
  const from = Math.max(0, shown.start - CONTEXT_CHARS);
  const path = `/v1/collections/${encodeURIComponent(collection)}/documents/${encodeURIComponent(docId)}`;
  const doc = await api(`${path}?start=${from}&end=${shown.end + CONTEXT_CHARS}`);
  $("passage-title").textContent = doc.title;
  $("passage-meta").textContent = `${doc.doc_id} · ký tự ${shown.start}–${shown.end} / ${doc.chars}`;
  if (doc.start > 0) text.appendChild(document.createTextNode("… "));
  appendMarked(text, doc.text, marks.map(([s, e, cls]) => [s - doc.start, e - doc.start, cls]));
  if (doc.end < doc.chars) text.appendChild(document.createTextNode(" …"));
  text.querySelector("mark")?.scrollIntoView({ block: "center" });
}

async function openPassage(citation, collection) {
  const shown = { title: citation.title, start: citation.quote_start, end: citation.quote_end };
  try {
    await showInPanel(collection, citation.doc_id, shown, [
      [citation.quote_start, citation.quote_end, "quote"],
      [citation.char_start, citation.char_end, null],
    ]);
  } catch (error) {
    // the document may be gone or reads may need a key: show the quote alone
    $("passage-meta").textContent = `Không tải được tài liệu (${error.message}); hiển thị đoạn trích.`;
    const text = $("passage-text");
    text.replaceChildren();
    appendMarked(text, citation.quote, [[citation.char_start - citation.quote_start, citation.char_end - citation.quote_start, null]]);
    text.querySelector("mark")?.scrollIntoView({ block: "center" });
  }
}

// Open the document of a citation link on its span (no quote: the span alone is marked).
async function openLinked(span) {
  try {
    await showInPanel(span.collection, span.docId, { title: span.docId, start: span.start, end: span.end },
                      [[span.start, span.end, null]]);
  } catch (error) {
    $("passage-meta").textContent = `Không mở được liên kết (${error.message}).`;
  }
}

async function ask(question) {
  const collection = $("collection").value || null;
  state.messages.push({ role: "user", content: question });
  addUserMessage(question);
  setBusy(true);
  try {
    const result = await api("/v1/chat", {
      method: "POST",
      body: JSON.stringify({ collection, messages: state.messages }),
    });
    state.messages.push({ role: "assistant", content: result.answer ?? (result.message || "") });
    addAnswer(result, question, collection || $("collection").dataset.default || "default");
  } catch (error) {
    state.messages.pop();
    addError(error.message);
  } finally {
    setBusy(false);
  }
}

function setBusy(busy) {
  state.busy = busy;
  $("send").disabled = busy;
  $("send").textContent = busy ? "Đang tìm…" : "Hỏi";
}

async function loadCollections() {
  try {
    const data = await api("/v1/collections");
    const select = $("collection");
    select.dataset.default = data.default;
    select.replaceChildren();
    const names = data.collections.length ? data.collections : [data.default];
    const wanted = linkedSpan()?.collection;
    for (const name of names) {
      const option = el("option", null, name);
      option.value = name;
      option.selected = wanted && names.includes(wanted) ? name === wanted : name === data.default;
      select.appendChild(option);
    }
  } catch (error) {
    addError(`không tải được danh sách bộ tài liệu (${error.message})`);
  }
}

async function watchReadiness() {
  const status = $("status");
  for (;;) {
    try {
      const response = await fetch("/readyz");
      if (response.ok) {
        status.textContent = "Sẵn sàng";
        status.className = "status ready";
        return;
      }
      const body = await response.json().catch(() => null);
      const failed = body && body.error && /failed/.test(body.error.message);
      status.textContent = failed ? "Không tải được mô hình" : "Đang tải mô hình…";
      status.className = failed ? "status failed" : "status";
      if (failed) return;
    } catch (_) {
      status.textContent = "Mất kết nối tới máy chủ";
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

function resetConversation() {
  state.messages = [];
  const list = $("conversation");
  list.replaceChildren(el("li", "hint", "Cuộc hội thoại mới. Hãy đặt câu hỏi."));
  $("passage-panel").hidden = true;
}

document.addEventListener("DOMContentLoaded", () => {
  const keyInput = $("api-key");
  keyInput.value = sessionStorage.getItem("viqa-api-key") || "";
  keyInput.addEventListener("change", () => sessionStorage.setItem("viqa-api-key", keyInput.value.trim()));
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (!question || state.busy) return;
    $("question").value = "";
    ask(question);
  });
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("ask-form").requestSubmit();
    }
  });
  $("new-chat").addEventListener("click", resetConversation);
  $("collection").addEventListener("change", resetConversation);
  $("close-panel").addEventListener("click", () => { $("passage-panel").hidden = true; });
  loadCollections();
  watchReadiness();
  const span = linkedSpan();
  if (span) openLinked(span);
  window.addEventListener("hashchange", () => { const s = linkedSpan(); if (s) openLinked(s); });
});
