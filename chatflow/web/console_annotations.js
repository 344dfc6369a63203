// An app's annotations in the console: a page of them (searched), add, edit (the form
// above the list takes the annotation, then saves it), delete, and the annotation-reply
// switch (a background job that embeds every annotation; its state is polled).

import { $, h } from "./dom.js";
import { call, confirmed, fail, when } from "./console_call.js";

const LIMIT = 20;
const view = { appId: "", page: 1, keyword: "", editing: null, pages: 1 };

export async function showAnnotations(appId) {
  if (view.appId !== appId) {
    Object.assign(view, { appId, page: 1, keyword: "", editing: null });
    $("ann-keyword").value = "";
    stopEditing();
  }
  await Promise.all([loadPage(), loadReply()]);
}

async function loadPage() {
  const { appId, page, keyword } = view;
  const query = new URLSearchParams({ page: String(page), limit: String(LIMIT) });
  if (keyword) query.set("keyword", keyword);
  let found;
  try {
    found = await call(`/apps/${appId}/annotations?${query}`);
  } catch (error) {
    fail(error);
    return;
  }
  if (view.appId !== appId) return;
  view.pages = Math.max(1, Math.ceil(found.total / LIMIT));
  $("annotations").replaceChildren(
    ...found.data.map((a) =>
      h("tr", {},
        h("td", { class: "cell-text" }, a.question),
        h("td", { class: "cell-text" }, a.answer),
        h("td", {}, String(a.hit_count)),
        h("td", {}, when(a.created_at)),
        h("td", { class: "actions" },
          h("button", { class: "btn ghost", type: "button", "aria-label": `Edit annotation: ${a.question.slice(0, 60)}`,
            onclick: () => startEditing(a) }, "Edit"),
          h("button", { class: "btn ghost", type: "button", "aria-label": `Delete annotation: ${a.question.slice(0, 60)}`,
            onclick: () => remove(a) }, "Delete"))),
    ),
  );
  if (!found.data.length) {
    $("annotations").append(h("tr", {}, h("td", { colspan: 5, class: "muted" },
      keyword ? `No annotations match “${keyword}”.` : "No annotations yet.")));
  }
  $("ann-page").textContent = `Page ${page} of ${view.pages} · ${found.total} annotations`;
  $("ann-prev").disabled = page <= 1;
  $("ann-next").disabled = !found.has_more;
}

function startEditing(annotation) {
  view.editing = annotation.id;
  $("ann-form-title").textContent = "Edit the annotation";
  $("ann-question").value = annotation.question;
  $("ann-answer").value = annotation.answer;
  $("ann-save").textContent = "Save changes";
  $("ann-cancel").hidden = false;
  $("ann-question").focus();
}

function stopEditing() {
  view.editing = null;
  $("ann-form-title").textContent = "Add an annotation";
  $("ann-save").textContent = "Add annotation";
  $("ann-cancel").hidden = true;
  $("ann-form").reset();
}

async function remove(annotation) {
  if (!confirmed(`Delete the annotation “${annotation.question.slice(0, 80)}”?`)) return;
  try {
    await call(`/apps/${view.appId}/annotations/${annotation.id}`, { method: "DELETE" });
    if (view.editing === annotation.id) stopEditing();
    await loadPage();
  } catch (error) {
    fail(error);
  }
}

$("ann-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const json = { question: $("ann-question").value.trim(), answer: $("ann-answer").value.trim() };
  if (!json.question || !json.answer) return;
  try {
    if (view.editing) {
      await call(`/apps/${view.appId}/annotations/${view.editing}`, { method: "PUT", json });
    } else {
      await call(`/apps/${view.appId}/annotations`, { method: "POST", json });
      view.page = 1;
    }
    stopEditing();
    await loadPage();
  } catch (error) {
    fail(error);
  }
});
$("ann-cancel").addEventListener("click", stopEditing);
$("ann-search").addEventListener("submit", (event) => {
  event.preventDefault();
  view.keyword = $("ann-keyword").value.trim();
  view.page = 1;
  loadPage();
});
$("ann-prev").addEventListener("click", () => {
  view.page = Math.max(1, view.page - 1);
  loadPage();
});
$("ann-next").addEventListener("click", () => {
  view.page += 1;
  loadPage();
});

// ---- annotation reply --------------------------------------------------------------

function showReply(state) {
  $("reply-enabled").checked = state.enabled;
  if (state.score_threshold !== null) $("reply-threshold").value = String(state.score_threshold);
  $("reply-status").textContent = state.enabled ? `On (threshold ${state.score_threshold})` : "Off";
}

async function loadReply() {
  const appId = view.appId;
  try {
    const state = await call(`/apps/${appId}/annotation-reply`);
    if (view.appId === appId) showReply(state);
  } catch (error) {
    fail(error);
  }
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function switchReply() {
  const appId = view.appId;
  const enabled = $("reply-enabled").checked;
  const threshold = Number($("reply-threshold").value);
  if (enabled && !(threshold >= 0 && threshold <= 1)) {
    $("reply-status").textContent = "The score threshold is a number from 0 to 1.";
    $("reply-enabled").checked = false;
    return;
  }
  $("reply-enabled").disabled = true;
  $("reply-status").textContent = enabled ? "Turning on (embedding the annotations)…" : "Turning off…";
  try {
    const job = await call(`/apps/${appId}/annotation-reply`, {
      method: "PUT", json: { enabled, score_threshold: threshold },
    });
    let status = job;
    for (let wait = 100; !["completed", "failed"].includes(status.job_status); wait = Math.min(wait * 2, 2000)) {
      await pause(wait);
      status = await call(`/apps/${appId}/annotation-reply/${job.action}/status/${job.job_id}`);
    }
    if (status.job_status === "failed") $("reply-status").textContent = `Failed: ${status.error_msg}`;
    else await loadReply();
  } catch (error) {
    fail(error);
    await loadReply();
  } finally {
    $("reply-enabled").disabled = false;
  }
}

$("reply-enabled").addEventListener("change", switchReply);
