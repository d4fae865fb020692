// The documents panel: the collection the page works in (chosen or named anew), uploads by the drop zone and the
// file input (one request and one job per file, polled until done), and the collection's documents, with delete.
import { $, el } from "./dom.js";
import { api, collectionPath, documentPath } from "./api.js";
import { linkedSpan, rememberTitles } from "./citations.js";

// What the chat does when the collection changes, and how it shows an error: set by setUpDocuments.
const chat = { reset: () => {}, error: () => {} };

// The collection the page works in: the select is the one source of truth (asking, uploads, the list).
export function currentCollection() {
  const select = $("collection");
  return select.value || select.dataset.default || "default";
}

const NAME_PATTERN = /^[A-Za-z0-9](?:\.?[A-Za-z0-9_-])*\.?$/; // NAME_PATTERN of api/schemas.py
const NAME_MAX_CHARS = 64;
const POLL_MS = 500;
const docs = {
  listed: [],          // collections the server lists
  created: new Set(),  // named here, made on the server by their first upload
  seq: 0,              // the latest listing request: an older answer is dropped
};
const FORMATS = { text: "văn bản", pdf: "PDF", docx: "Word", html: "HTML" };
const orDash = (value) => (value === undefined || value === null || value === "" ? "—" : String(value));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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
    chat.error(`không tải được danh sách bộ tài liệu (${error.message})`);
  }
}

function collectionChanged() {
  chat.reset();
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
  rememberTitles(collection, new Map(list.map((d) => [d.doc_id, d.title])));
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

// Wire the panel and load it; `onCollectionChange` starts a new conversation, `onError` shows an error in the chat.
export function setUpDocuments({ onCollectionChange, onError }) {
  chat.reset = onCollectionChange;
  chat.error = onError;
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
