// Citations: their buttons, links and page images in the conversation, and the side panel that opens a cited
// passage (or the span of a citation link) in its document.
import { $, appendMarked, el } from "./dom.js";
import { apiHeaders, apiKey, api, documentPath } from "./api.js";

const CONTEXT_CHARS = 400; // characters of context shown around a cited quote
const listed = { collection: null, titles: new Map() }; // doc_id → title, of the collection the documents panel shows

// The documents panel tells what its collection's documents are called now.
export function rememberTitles(collection, titles) {
  listed.collection = collection;
  listed.titles = titles;
}

// A citation's document title: the collection's listing is the latest word, else what the citation carries.
function citationTitle(citation, collection) {
  const title = collection === listed.collection ? listed.titles.get(citation.doc_id) : undefined;
  return title || citation.title || citation.doc_id;
}

// The page's own link to a cited span: /?c=COLLECTION&d=DOC#START-END (see viqa/links.py).
function citationLink(collection, docId, start, end) {
  const query = new URLSearchParams({ c: collection, d: docId });
  return `/?${query.toString()}#${start}-${end}`;
}

// The span the page's address links to, or null.
export function linkedSpan() {
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
  if (!apiKey()) {
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

// One citation in an answer: its button (source and quote, the answer marked), page thumbnail and link.
export function citationItem(citation, collection) {
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
export async function openLinked(span) {
  try {
    await showInPanel(span.collection, span.docId, { title: span.docId, start: span.start, end: span.end },
                      [[span.start, span.end, null]]);
  } catch (error) {
    $("passage-meta").textContent = `Không mở được liên kết (${error.message}).`;
  }
}
