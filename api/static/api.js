// Talking to the API: the key (kept for the tab in sessionStorage), request headers, the JSON fetch wrapper and
// its errors, and the paths of collections and documents.
import { $ } from "./dom.js";

const KEY_STORAGE = "viqa-api-key";

// The API key typed in the settings, or "" without one.
export const apiKey = () => $("api-key").value.trim();

// Restore the key of this tab's session into its field, and keep it there when it changes.
export function setUpApiKey() {
  const keyInput = $("api-key");
  keyInput.value = sessionStorage.getItem(KEY_STORAGE) || "";
  keyInput.addEventListener("change", () => sessionStorage.setItem(KEY_STORAGE, keyInput.value.trim()));
}

export function apiHeaders(json) {
  const headers = {};
  if (json) headers["Content-Type"] = "application/json";
  const key = apiKey();
  if (key) headers["X-API-Key"] = key;
  headers["X-Requested-With"] = "viqa"; // a cross-site form cannot send it: proof of the same origin for writes
  return headers;
}

// JSON from the API; a failure throws an Error with the server's message and the HTTP `status`.
// A string body is sent as JSON; FormData (uploads) carries its own multipart Content-Type.
export async function api(path, options = {}) {
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

export const collectionPath = (name) => `/v1/collections/${encodeURIComponent(name)}`;
export const documentPath = (collection, docId) =>
  `${collectionPath(collection)}/documents/${encodeURIComponent(docId)}`;
