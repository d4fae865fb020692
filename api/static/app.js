// viqa chat page, the entry module: the conversation (asking, answers, errors), the server's readiness, and the
// wiring of the page. Plain DOM, no dependencies; the other modules hold the API, citations and documents.
import { $, el } from "./dom.js";
import { api, setUpApiKey } from "./api.js";
import { citationItem, linkedSpan, openLinked } from "./citations.js";
import { currentCollection, setUpDocuments } from "./documents.js";

const state = { messages: [], busy: false };

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

document.addEventListener("DOMContentLoaded", () => {
  setUpApiKey();
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
  setUpDocuments({ onCollectionChange: resetConversation, onError: addError });
  watchReadiness();
  const span = linkedSpan();
  if (span) openLinked(span);
  window.addEventListener("hashchange", () => { const s = linkedSpan(); if (s) openLinked(s); });
});
