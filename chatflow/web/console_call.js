// The console's requests to `/console/api`: the session cookie goes by itself (HttpOnly),
// the CSRF token (kept in memory only) as `X-CSRF-Token` on every write; Dify's error
// envelope comes back as `ApiError`. Shared by the console's modules.

import { ApiError } from "./api.js";
import { $ } from "./dom.js";

const BASE = "/console/api";
export const session = { csrf: "", onSignedOut: () => {} };

async function send(path, method, headers, body) {
  if (method !== "GET") headers["X-CSRF-Token"] = session.csrf;
  let response;
  try {
    response = await fetch(BASE + path, { method, headers, body, credentials: "same-origin", cache: "no-store" });
  } catch {
    throw new ApiError(0, "network_error", "Cannot reach the server.");
  }
  if (response.status === 204) return null;
  let parsed = null;
  try {
    parsed = await response.json();
  } catch {
    // not JSON
  }
  if (!response.ok) {
    throw new ApiError(response.status, parsed?.code || "http_error", parsed?.message || response.statusText);
  }
  return parsed;
}

/** A JSON request; `json` is the body, if any. */
export function call(path, { method = "GET", json } = {}) {
  const headers = json === undefined ? {} : { "Content-Type": "application/json" };
  return send(path, method, headers, json === undefined ? undefined : JSON.stringify(json));
}

/** A multipart request (file uploads); the browser sets the boundary. */
export function upload(path, form) {
  return send(path, "POST", {}, form);
}

/** Show an error in the console's banner (or the sign-in form when signed out). */
export function fail(error) {
  if (error instanceof ApiError && error.code === "console_login_required") return session.onSignedOut();
  $("console-error-text").textContent = `${error.message}${error.code ? ` (${error.code})` : ""}`;
  $("console-error").hidden = false;
}

export const when = (ts) => (ts ? new Date(ts * 1000).toLocaleString() : "—");

/** Ask before something that cannot be undone. */
export const confirmed = (text) => window.confirm(text);

/** Arrow keys move between the tabs of a tablist, as WAI-ARIA's tabs pattern has it. */
export function tabs(names, prefix, onSelect) {
  const select = (name) => {
    for (const tab of names) {
      const selected = tab === name;
      $(`${prefix}tab-${tab}`).setAttribute("aria-selected", String(selected));
      $(`${prefix}tab-${tab}`).tabIndex = selected ? 0 : -1;
      $(`${prefix}pane-${tab}`).hidden = !selected;
    }
    onSelect(name);
  };
  for (const tab of names) {
    $(`${prefix}tab-${tab}`).addEventListener("click", () => select(tab));
    $(`${prefix}tab-${tab}`).addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = names[(names.indexOf(tab) + step + names.length) % names.length];
      select(next);
      $(`${prefix}tab-${next}`).focus();
    });
  }
  return select;
}
