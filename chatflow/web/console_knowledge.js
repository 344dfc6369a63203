// Knowledge in the console: knowledge bases (list, create, delete), documents uploaded
// several at a time with their indexing followed live (waiting → parsing → splitting →
// indexing → completed or error), a document's chunks switched on and off, hit testing,
// and the Knowledge API's dataset keys. It talks to the Knowledge API itself, mounted
// for the operator at `/console/api/kb` (the same routes as `/v1/datasets...`).

import { $, h } from "./dom.js";
import { call, confirmed, fail, tabs, upload, when } from "./console_call.js";

const KB = "/kb/datasets";
const STAGES = ["waiting", "parsing", "splitting", "indexing", "completed"];
const view = { datasets: [], dataset: null, document: null, segmentPage: 1 };

export async function showKnowledge() {
  await Promise.all([loadDatasets(), loadKeys()]);
}

// ---- knowledge bases -----------------------------------------------------------------

async function loadDatasets(selectId = view.dataset?.id) {
  try {
    view.datasets = (await call(`${KB}?limit=100`)).data;
  } catch (error) {
    fail(error);
    return;
  }
  $("kb-list").replaceChildren(
    ...view.datasets.map((d) =>
      h("li", {}, h("button", {
        class: "app-link", type: "button", "data-id": d.id,
        "aria-current": d.id === selectId ? "true" : undefined, onclick: () => openDataset(d.id),
      }, `${d.name} (${d.document_count})`)),
    ),
  );
  if (!view.datasets.length) $("kb-list").append(h("li", { class: "muted small" }, "No knowledge bases yet."));
  const current = view.datasets.find((d) => d.id === selectId);
  if (current) renderDataset(current);
  else closeDataset();
}

function closeDataset() {
  view.dataset = null;
  $("kb-view").hidden = true;
  $("no-kb").hidden = false;
}

function renderDataset(dataset) {
  view.dataset = dataset;
  $("no-kb").hidden = true;
  $("kb-view").hidden = false;
  $("kb-title").textContent = dataset.name;
  const technique = dataset.indexing_technique === "economy" ? "keyword index (economy)"
    : dataset.indexing_technique === "high_quality" ? `embeddings (${dataset.embedding_model || "default"})` : "not indexed yet";
  $("kb-meta").textContent = `${dataset.document_count} documents · ${dataset.word_count} words · `
    + `${technique} · used by ${dataset.app_count} apps · ${dataset.id}`;
}

async function openDataset(id) {
  for (const button of $("kb-list").querySelectorAll(".app-link")) {
    if (button.dataset.id === id) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  $("console-error").hidden = true;
  $("kb-uploads").replaceChildren();
  $("kb-hits").replaceChildren();
  $("kb-hit-status").textContent = "";
  closeChunks();
  renderDataset(view.datasets.find((d) => d.id === id));
  selectKbTab("documents");
}

$("kb-create").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("kb-name").value.trim();
  if (!name) return;
  try {
    const made = await call(KB, { method: "POST", json: { name, indexing_technique: "high_quality" } });
    $("kb-name").value = "";
    await loadDatasets(made.id);
    await openDataset(made.id);
  } catch (error) {
    fail(error);
  }
});

$("kb-delete").addEventListener("click", async () => {
  const dataset = view.dataset;
  if (!dataset || !confirmed(`Delete ${dataset.name} with its ${dataset.document_count} documents?`)) return;
  try {
    await call(`${KB}/${dataset.id}`, { method: "DELETE" });
    await loadDatasets(null);
  } catch (error) {
    fail(error);
  }
});

const selectKbTab = tabs(["documents", "hits"], "kb-", (name) => {
  if (name === "documents" && view.dataset) loadDocuments();
});

// ---- documents and their indexing ----------------------------------------------------

async function loadDocuments() {
  const dataset = view.dataset;
  let found;
  try {
    found = await call(`${KB}/${dataset.id}/documents?limit=100`);
  } catch (error) {
    fail(error);
    return;
  }
  if (view.dataset?.id !== dataset.id) return;
  $("kb-documents").replaceChildren(
    ...found.data.map((d) =>
      h("tr", {},
        h("td", {}, h("button", { class: "link-btn", type: "button", "aria-label": `Chunks of ${d.name}`,
          onclick: () => openChunks(d) }, d.name)),
        h("td", {}, h("span", { class: `status status-${d.display_status}` }, d.display_status),
          d.error ? h("span", { class: "step-error small" }, ` ${d.error}`) : null),
        h("td", {}, String(d.word_count ?? 0)),
        h("td", {}, when(d.created_at)),
        h("td", {}, h("button", { class: "btn ghost", type: "button", "aria-label": `Delete document ${d.name}`,
          onclick: () => deleteDocument(d) }, "Delete"))),
    ),
  );
  if (!found.data.length) {
    $("kb-documents").append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No documents yet: upload some.")));
  }
}

async function deleteDocument(document) {
  if (!confirmed(`Delete the document ${document.name}?`)) return;
  try {
    await call(`${KB}/${view.dataset.id}/documents/${document.id}`, { method: "DELETE" });
    if (view.document?.id === document.id) closeChunks();
    await loadDatasets();
    await loadDocuments();
  } catch (error) {
    fail(error);
  }
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The stages as a row: those passed ticked, the current one marked; on an error, the
 * last stage seen under way failed (parsing, when it failed before any was seen). */
function stageList(stage, lastSeen) {
  const failed = stage === "error";
  const at = failed ? Math.min(Math.max(STAGES.indexOf(lastSeen), 1), STAGES.length - 2)
    : STAGES.indexOf(stage === "cleaning" ? "parsing" : stage);
  const kind = (i) => (failed && i === at ? "stage failed" : i < at || (i === at && stage === "completed") ? "stage done"
    : i === at ? "stage current" : "stage");
  return h("ol", { class: "stages", "aria-hidden": "true" }, STAGES.map((name, i) => h("li", { class: kind(i) }, name)));
}

function progressOf(status) {
  const at = Math.max(STAGES.indexOf(status.indexing_status === "cleaning" ? "parsing" : status.indexing_status), 0);
  const inIndexing = status.total_segments ? status.completed_segments / status.total_segments : 0;
  if (status.indexing_status === "completed" || status.indexing_status === "error") return 100;
  return Math.round(((at + (status.indexing_status === "indexing" ? inIndexing : 0)) / (STAGES.length - 1)) * 100);
}

/** One upload's line: its stages, a progress bar and a status text that reads out. */
function renderUpload(item, name, status) {
  const failed = status.indexing_status === "error";
  const done = status.indexing_status === "completed";
  const chunks = status.total_segments ? ` · ${status.completed_segments}/${status.total_segments} chunks` : "";
  const text = failed ? `error: ${status.error || "indexing failed"}` : `${status.indexing_status}${chunks}`;
  if (!failed) item.dataset.stage = status.indexing_status === "cleaning" ? "parsing" : status.indexing_status;
  item.className = `upload ${failed ? "failed" : done ? "done" : "busy"}`;
  item.replaceChildren(
    h("span", { class: "upload-name" }, name),
    h("progress", { max: 100, value: progressOf(status), "aria-label": `Indexing ${name}` }),
    h("span", { class: "upload-status", "data-status": status.indexing_status }, text),
    stageList(status.indexing_status, item.dataset.stage),
  );
}

async function uploadOne(file, datasetId) {
  const item = h("li", { class: "upload busy" });
  $("kb-uploads").append(item);
  renderUpload(item, file.name, { indexing_status: "waiting" });
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("data", JSON.stringify({ indexing_technique: "high_quality", process_rule: { mode: "automatic" } }));
  let batch;
  try {
    batch = (await upload(`${KB}/${datasetId}/document/create-by-file`, form)).batch;
  } catch (error) {
    renderUpload(item, file.name, { indexing_status: "error", error: error.message });
    return;
  }
  // Follow the batch until it settles: quick at first, then every two seconds.
  for (let wait = 150; ; wait = Math.min(wait * 1.5, 2000)) {
    let status;
    try {
      [status] = (await call(`${KB}/${datasetId}/documents/${batch}/indexing-status`)).data;
    } catch (error) {
      renderUpload(item, file.name, { indexing_status: "error", error: error.message });
      return;
    }
    renderUpload(item, file.name, status);
    if (status.indexing_status === "completed" || status.indexing_status === "error") return;
    await pause(wait);
  }
}

async function uploadFiles(files) {
  const datasetId = view.dataset?.id;
  if (!datasetId || !files.length) return;
  await Promise.all([...files].map((file) => uploadOne(file, datasetId)));
  if (view.dataset?.id === datasetId) {
    await loadDatasets(datasetId);
    await loadDocuments();
  }
}

const drop = $("kb-drop");
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  uploadFiles(event.dataTransfer.files);
});
drop.addEventListener("click", () => $("kb-files").click());
drop.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    $("kb-files").click();
  }
});
$("kb-files").addEventListener("change", () => {
  const files = [...$("kb-files").files];
  $("kb-files").value = "";
  uploadFiles(files);
});

// ---- chunks --------------------------------------------------------------------------

function closeChunks() {
  view.document = null;
  $("kb-chunks").hidden = true;
  $("kb-segments").replaceChildren();
}

async function openChunks(document) {
  view.document = document;
  view.segmentPage = 1;
  $("kb-chunks").hidden = false;
  $("kb-chunks-title").textContent = `Chunks of ${document.name}`;
  $("kb-segments").replaceChildren();
  await loadSegments();
  $("kb-chunks-title").scrollIntoView({ block: "nearest" });
}

async function loadSegments() {
  const { dataset, document, segmentPage } = view;
  let found;
  try {
    found = await call(`${KB}/${dataset.id}/documents/${document.id}/segments?page=${segmentPage}&limit=50`);
  } catch (error) {
    fail(error);
    return;
  }
  if (view.document?.id !== document.id) return;
  $("kb-segments").append(...found.data.map((s) => segmentItem(s)));
  if (segmentPage === 1 && !found.data.length) $("kb-segments").append(h("li", { class: "muted" }, "No chunks (yet)."));
  $("kb-more-segments").hidden = !found.has_more;
}

function segmentItem(segment) {
  const id = `seg-${segment.id}`;
  const toggle = h("input", { id, type: "checkbox", checked: segment.enabled });
  const item = h("li", { class: `chunk${segment.enabled ? "" : " disabled"}` },
    h("div", { class: "chunk-head small" },
      h("span", { class: "muted" }, `#${segment.position} · ${segment.word_count} characters · ${segment.hit_count} hits`),
      h("label", { class: "switch", for: id }, toggle, ` Chunk ${segment.position} enabled`)),
    h("p", { class: "chunk-text", tabindex: 0 }, segment.content));
  toggle.addEventListener("change", async () => {
    toggle.disabled = true;
    try {
      const { data } = await call(`${KB}/${view.dataset.id}/documents/${segment.document_id}/segments/${segment.id}`, {
        method: "POST", json: { segment: { enabled: toggle.checked } },
      });
      toggle.checked = data.enabled;
      item.classList.toggle("disabled", !data.enabled);
    } catch (error) {
      toggle.checked = !toggle.checked;
      fail(error);
    } finally {
      toggle.disabled = false;
    }
  });
  return item;
}

$("kb-more-segments").addEventListener("click", () => {
  view.segmentPage += 1;
  loadSegments();
});

// ---- hit testing ---------------------------------------------------------------------

$("kb-hit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const query = $("kb-query").value.trim();
  if (!query || !view.dataset) return;
  $("kb-hit-status").textContent = "Searching…";
  try {
    const { records } = await call(`${KB}/${view.dataset.id}/hit-testing`, { method: "POST", json: { query } });
    $("kb-hit-status").textContent = `${records.length} chunks retrieved for “${query}”, best first.`;
    $("kb-hits").replaceChildren(
      ...records.map((r, i) =>
        h("li", { class: "hit" },
          h("div", { class: "chunk-head small" },
            h("strong", { class: "hit-score" }, `${i + 1}. score ${r.score.toFixed(3)}`),
            h("span", { class: "muted" }, ` ${r.segment.document.name} · chunk #${r.segment.position}`)),
          h("p", { class: "chunk-text", tabindex: 0 }, r.segment.content))),
    );
  } catch (error) {
    $("kb-hit-status").textContent = "";
    fail(error);
  }
});

// ---- dataset API keys ----------------------------------------------------------------

async function loadKeys() {
  let found;
  try {
    found = (await call("/dataset-keys")).data;
  } catch (error) {
    fail(error);
    return;
  }
  $("dataset-keys").replaceChildren(
    ...found.map((key) =>
      h("tr", {},
        h("td", {}, h("code", {}, `${key.prefix}…`)),
        h("td", {}, when(key.created_at)),
        h("td", {}, h("button", { class: "btn ghost", type: "button", "aria-label": `Revoke dataset key ${key.prefix}…`,
          onclick: () => revokeKey(key) }, "Revoke"))),
    ),
  );
  if (!found.length) $("dataset-keys").append(h("tr", {}, h("td", { colspan: 3, class: "muted" }, "No dataset keys.")));
}

$("dataset-key-create").addEventListener("click", async () => {
  try {
    const key = await call("/dataset-keys", { method: "POST" });
    $("dataset-new-key").replaceChildren(h("p", {}, "New key (shown only now): ", h("code", { class: "token" }, key.token)));
    await loadKeys();
  } catch (error) {
    fail(error);
  }
});

async function revokeKey(key) {
  if (!confirmed(`Revoke ${key.prefix}…? Clients using it stop working at once.`)) return;
  try {
    await call(`/dataset-keys/${key.id}`, { method: "DELETE" });
    $("dataset-new-key").replaceChildren();
    await loadKeys();
  } catch (error) {
    fail(error);
  }
}
