// The chat site's API as the page uses it: requests under `/api` naming the site in
// `X-App-Code`, authenticated by the end-user session cookie (HttpOnly: this script never
// sees it, and no Service API key is involved), Dify's error envelope as `ApiError`, and
// a reader for streaming (SSE) responses over fetch.

const BASE = "/api";

/** A non-2xx answer: Dify's `{code, message, status}` (or the best we can make of it). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: a proxy's page, say; fall through to the status line
  }
  const message = (body && body.message) || response.statusText || "Request failed";
  return new ApiError(response.status, (body && body.code) || "http_error", message);
}

export class Api {
  constructor(code) {
    this.code = code;
  }

  /**
   * `request("/info")`, `request("/x", {method: "POST", json: {...}})`, `form: FormData`,
   * `query: {...}` (empty values dropped), `stream: true` returns the Response itself.
   */
  async request(path, { method = "GET", json, form, query, signal, stream = false, headers: extra } = {}) {
    const url = new URL(BASE + path, window.location.origin);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
    const headers = { "X-App-Code": this.code, ...(extra || {}) };
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      body = form; // the browser sets the multipart boundary
    }
    let response;
    try {
      response = await fetch(url, { method, headers, body, signal, cache: "no-store", credentials: "same-origin" });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, "network_error", "Cannot reach the server. Is it running?");
    }
    if (!response.ok) throw await errorOf(response);
    if (stream || response.status === 204) return response;
    return response.json();
  }
}

/** Parse one SSE block into its JSON payload; keep-alive `event: ping` and comments -> null. */
export function parseFrame(block) {
  let event = "";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (event === "ping" || data.length === 0) return null;
  return JSON.parse(data.join("\n"));
}

/** Feed each JSON frame of a streaming response to `onFrame` as it arrives; `onId` gets
 * each frame's SSE `id:` (resumable streams), so a dropped stream can resume after it. */
export async function readFrames(response, onFrame, onId = null) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    // Dify frames end with a blank line; CRs (from proxies) are dropped first.
    buffer += decoder.decode(value, { stream: true }).replace(/\r/g, "");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      const frame = parseFrame(block);
      buffer = buffer.slice(end + 2);
      const id = /^id: ?(.*)$/m.exec(block);
      if (id && onId) onId(id[1]);
      if (frame !== null) onFrame(frame);
    }
  }
  const last = buffer.trim() ? parseFrame(buffer) : null;
  if (last !== null) onFrame(last);
}
