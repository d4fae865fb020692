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

// JSON from the API; a failure throws an Error with the server's message and the HTTP `status`.
// A string body is sent as JSON; FormData (uploads) carries its own multipart Content-Type.
async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: apiHeaders(typeof options.body === "string") });
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    const error = new Error(body && body.error ? body.error.message : `Lỗi ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

const collectionPath = (name) => `/v1/collections/${encodeURIComponent(name)}`;
const documentPath = (collection, docId) => `${collectionPath(collection)}/documents/${encodeURIComponent(docId)}`;

// The collection the page works in: the select is the one source of truth (asking, uploads, the list).
function currentCollection() {
  const select = $("collection");
  return select.value || select.dataset.default || "default";
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

// The image of a citation's page with the answer drawn on it (PDF sources), or null without a page. An <img>
// cannot send the API key: with one set, the image is fetched with it and shown as a data: URL (the CSP allows
// data: images, not blob:). Hidden if it fails to load.
function pageImage(citation, collection, img) {
  if (!Number.isInteger(citation.page)) return null;
  img.hidden = false;
  img.alt = `Trang ${citation.page} của «${citationTitle(citation, collection)}», câu trả lời được tô sáng`;
  img.loading = "lazy";
  img.onerror = () => { img.hidden = true; };
  const url = `${documentPath(collection, citation.doc_id)}/pages/${citation.page}.png`
    + `?start=${citation.char_start}&end=${citation.char_end}`;
  if (!$("api-key").value.trim()) {
    img.src = url;
    return img;
  }
  fetch(url, { headers: apiHeaders(false) })
    .then((r) => { if (!r.ok) throw new Error(`Lỗi ${r.status}`); return r.blob(); })
    .then((blob) => new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(blob);
    }))
    .then((dataUrl) => { img.src = dataUrl; }, () => { img.hidden = true; });
  return img;
}

function citationItem(citation, collection) {
  const li = el("li", "cited");
  li.appendChild(citationButton(citation, collection));
  const thumb = pageImage(citation, collection, el("img", "page-thumb"));
  if (thumb) li.appendChild(thumb);
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
  const page = Number.isInteger(citation.page) ? ` · trang ${citation.page}` : "";
  button.appendChild(el("span", "source", `${citationTitle(citation, collection)} — ${citation.doc_id}${page}`));
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
  if (!shown.page) $("passage-page").hidden = true;
  $("passage-title").textContent = shown.title;
  $("passage-meta").textContent = "Đang tải…";
  text.replaceChildren();
  const from = Math.max(0, shown.start - CONTEXT_CHARS);
  const doc = await api(`${documentPath(collection, docId)}?start=${from}&end=${shown.end + CONTEXT_CHARS}`);
  $("passage-title").textContent = doc.title;
  const page = shown.page ? ` · trang ${shown.page}` : "";
  $("passage-meta").textContent = `${doc.doc_id}${page} · ký tự ${shown.start}–${shown.end} / ${doc.chars}`;
  if (doc.start > 0) text.appendChild(document.createTextNode("… "));
  appendMarked(text, doc.text, marks.map(([s, e, cls]) => [s - doc.start, e - doc.start, cls]));
  if (doc.end < doc.chars) text.appendChild(document.createTextNode(" …"));
  text.querySelector("mark")?.scrollIntoView({ block: "center" });
}

async function openPassage(citation, collection) {
  const shown = { title: citationTitle(citation, collection), start: citation.quote_start, end: citation.quote_end,
                  page: Number.isInteger(citation.page) ? citation.page : null };
  const image = $("passage-page");
  image.removeAttribute("src");
  image.hidden = !pageImage(citation, collection, image);
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
  const collection = currentCollection();
  state.messages.push({ role: "user", content: question });
  addUserMessage(question);
  setBusy(true);
  try {
    const result = await api("/v1/chat", {
      method: "POST",
      body: JSON.stringify({ collection: $("collection").value || null, messages: state.messages }),
    });
    state.messages.push({ role: "assistant", content: result.answer ?? (result.message || "") });
    addAnswer(result, question, collection);
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

// ——— Documents: the collection, uploads (one request and one job per file) and the collection's documents ———

const NAME_PATTERN = /^[A-Za-z0-9](?:\.?[A-Za-z0-9_-])*\.?$/; // NAME_PATTERN of api/schemas.py
const NAME_MAX_CHARS = 64;
const POLL_MS = 500;
const docs = {
  listed: [],          // collections the server lists
  created: new Set(),  // named here, made on the server by their first upload
  collection: null,    // whose documents `titles` holds
  titles: new Map(),   // doc_id → title, of the collection shown
  seq: 0,              // the latest listing request: an older answer is dropped
};
const FORMATS = { text: "văn bản", pdf: "PDF", docx: "Word", html: "HTML" };
const orDash = (value) => (value === undefined || value === null || value === "" ? "—" : String(value));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A citation's document title: the collection's listing is the latest word, else what the citation carries.
function citationTitle(citation, collection) {
  const listed = collection === docs.collection ? docs.titles.get(citation.doc_id) : undefined;
  return listed || citation.title || citation.doc_id;
}

// Poll a job until it is done or failed; a failed job throws its message.
async function finishedJob(job) {
  while (job.status === "queued" || job.status === "running") {
    await sleep(POLL_MS);
    job = await api(`/v1/jobs/${encodeURIComponent(job.id)}`);
  }
  if (job.status === "failed") throw new Error(job.message || "công việc thất bại");
  return job;
}

function fillCollections(selected) {
  const select = $("collection");
  const fallback = select.dataset.default || "default";
  const names = [...new Set([fallback, ...docs.listed, ...docs.created])];
  select.replaceChildren();
  for (const name of names) {
    const made = name === fallback || docs.listed.includes(name);
    const option = el("option", null, made ? name : `${name} (mới, chưa có tài liệu)`);
    option.value = name;
    option.selected = name === (names.includes(selected) ? selected : fallback);
    select.appendChild(option);
  }
}

// (Re)load the collections, keeping the one chosen (at first: the link's, else the server's default).
async function loadCollections() {
  try {
    const data = await api("/v1/collections");
    const select = $("collection");
    const chosen = select.value || linkedSpan()?.collection || data.default;
    select.dataset.default = data.default;
    docs.listed = data.collections;
    fillCollections(chosen);
  } catch (error) {
    addError(`không tải được danh sách bộ tài liệu (${error.message})`);
  }
}

function collectionChanged() {
  resetConversation();
  $("documents-status").textContent = "";
  loadDocuments();
}

function nameProblem(name) {
  if (!name) return "Hãy nhập tên bộ tài liệu.";
  if (name.length > NAME_MAX_CHARS) return `Tên dài quá ${NAME_MAX_CHARS} ký tự.`;
  if (!NAME_PATTERN.test(name)) {
    return "Tên chỉ gồm chữ cái không dấu, chữ số và _ - . (không hai dấu chấm liền nhau), bắt đầu bằng chữ hoặc số.";
  }
  return null;
}

function showCollectionForm(open) {
  $("new-collection-form").hidden = !open;
  $("new-collection").setAttribute("aria-expanded", String(open));
  $("new-collection-error").textContent = "";
  $("new-collection-name").removeAttribute("aria-invalid");
  if (open) $("new-collection-name").focus();
}

function createCollection(event) {
  event.preventDefault();
  const input = $("new-collection-name");
  const name = input.value.trim();
  const problem = nameProblem(name);
  if (problem) {
    $("new-collection-error").textContent = problem;
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  if (!docs.listed.includes(name)) docs.created.add(name);
  fillCollections(name);
  input.value = "";
  showCollectionForm(false);
  collectionChanged();
  $("documents-status").textContent = `Đã chọn bộ «${name}».`;
}

function documentRow(doc, collection) {
  const row = el("tr");
  const name = el("td", "doc-name");
  name.appendChild(el("span", "doc-title", doc.title));
  name.appendChild(el("span", "meta doc-id", `${doc.doc_id} · ${FORMATS[doc.format] || orDash(doc.format)}`));
  row.appendChild(name);
  for (const value of [doc.pages, doc.passages, doc.date]) row.appendChild(el("td", "num", orDash(value)));
  const cell = el("td");
  const remove = el("button", "secondary small", "Xóa");
  remove.type = "button";
  remove.setAttribute("aria-label", `Xóa «${doc.title}»`);
  remove.addEventListener("click", () => deleteDocument(doc, collection, remove));
  cell.appendChild(remove);
  row.appendChild(cell);
  return row;
}

async function loadDocuments() {
  const collection = currentCollection();
  const seq = ++docs.seq;
  let list = [];
  let empty = "Bộ tài liệu này chưa có tài liệu nào.";
  try {
    list = (await api(`${collectionPath(collection)}/documents`)).documents;
  } catch (error) {
    empty = error.status === 404 ? "Bộ tài liệu này chưa có tài liệu: hãy tải tệp lên."
      : `Không tải được danh sách tài liệu (${error.message}).`;
  }
  if (seq !== docs.seq) return;
  docs.collection = collection;
  docs.titles = new Map(list.map((d) => [d.doc_id, d.title]));
  $("document-rows").replaceChildren(...list.map((d) => documentRow(d, collection)));
  $("documents-count").textContent = `Tài liệu trong bộ «${collection}» (${list.length})`;
  $("documents-empty").textContent = empty;
  $("documents-empty").hidden = list.length > 0;
}

function reportText(report) {
  if (!report) return "";
  const parts = [];
  if (report.added.length) parts.push("đã thêm");
  if (report.replaced.length) parts.push("đã thay bản cũ");
  if (report.skipped.length) parts.push("đã có, không đổi");
  for (const held of Object.values(report.duplicates || {})) parts.push(`trùng nội dung với «${held}», không lưu lại`);
  return parts.join("; ");
}

// One row in the upload list: the file's name and its state (class and text), with details.
function uploadRow(name) {
  const row = el("li", "upload");
  const state = el("span", "upload-state");
  const detail = el("span", "upload-detail");
  row.append(el("span", "upload-name", name), state, detail);
  $("uploads").appendChild(row);
  return (kind, text, more) => {
    row.className = `upload ${kind}`;
    state.textContent = text;
    detail.textContent = more || "";
  };
}

async function uploadFile(file, collection) {
  const show = uploadRow(file.name);
  show("uploading", "đang tải lên…");
  try {
    const form = new FormData();
    form.append("file", file, file.name);
    const job = await api(`${collectionPath(collection)}/documents`, { method: "POST", body: form });
    show("processing", "đang xử lý…");
    const done = await finishedJob(job);
    show("done", "xong", reportText(done.report));
  } catch (error) {
    show("failed", "lỗi", error.message);
    return;
  }
  if (!docs.listed.includes(collection)) await loadCollections();
  if (currentCollection() === collection) await loadDocuments();
}

function uploadFiles(fileList) {
  const collection = currentCollection();
  return Promise.all([...fileList].map((file) => uploadFile(file, collection)));
}

async function deleteDocument(doc, collection, button) {
  if (!confirm(`Xóa tài liệu «${doc.title}» khỏi bộ «${collection}»? Không hoàn tác được.`)) return;
  const status = $("documents-status");
  button.disabled = true;
  button.textContent = "Đang xóa…";
  status.textContent = `Đang xóa «${doc.title}»…`;
  try {
    await finishedJob(await api(documentPath(collection, doc.doc_id), { method: "DELETE" }));
    status.textContent = `Đã xóa «${doc.title}».`;
  } catch (error) {
    status.textContent = `Không xóa được «${doc.title}»: ${error.message}`;
    button.disabled = false;
    button.textContent = "Xóa";
  }
  if (currentCollection() === collection) await loadDocuments();
}

function setUpDocuments() {
  $("collection").addEventListener("change", collectionChanged);
  $("new-collection").addEventListener("click", () => showCollectionForm($("new-collection-form").hidden));
  $("cancel-collection").addEventListener("click", () => showCollectionForm(false));
  $("new-collection-form").addEventListener("submit", createCollection);
  const input = $("file-input");
  input.addEventListener("change", () => {
    const files = [...input.files];
    input.value = ""; // the same file may be chosen again
    uploadFiles(files);
  });
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", (event) => { if (!zone.contains(event.relatedTarget)) zone.classList.remove("over"); });
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer && event.dataTransfer.files.length) uploadFiles(event.dataTransfer.files);
  });
  // a file dropped beside the zone must not open in place of the page (text dragged into the question still may)
  const carriesFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes("Files");
  window.addEventListener("dragover", (event) => { if (carriesFiles(event)) event.preventDefault(); });
  window.addEventListener("drop", (event) => { if (carriesFiles(event)) event.preventDefault(); });
  loadCollections().then(loadDocuments);
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
  $("close-panel").addEventListener("click", () => { $("passage-panel").hidden = true; });
  setUpDocuments();
  watchReadiness();
  const span = linkedSpan();
  if (span) openLinked(span);
  window.addEventListener("hashchange", () => { const s = linkedSpan(); if (s) openLinked(s); });
});
