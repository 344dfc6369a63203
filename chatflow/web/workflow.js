// A workflow app's site: the app's input form with a Run button instead of a chat. A run
// streams through `POST /api/workflows/run` (text as it comes, the node trace when the
// site shows workflow steps) and can be stopped; its outputs show as text (Markdown),
// JSON or files. The sidebar lists this browser's past runs (`GET /api/workflows/runs`);
// opening one shows its inputs, outputs and trace again. A run still going when the page
// is reloaded is picked up again through its resumable stream.

import { ApiError, readFrames } from "./api.js";
import { $, h, storage } from "./dom.js";
import { Trace } from "./extras.js";
import { renderMarkdown } from "./markdown.js";

const PAGE = 20;
const STATUS_TEXT = { succeeded: "Succeeded", failed: "Failed", stopped: "Stopped", running: "Running", "partial-succeeded": "Partly succeeded" };

const isFile = (value) => Boolean(value) && typeof value === "object" && value.dify_model_identity === "__dify__file__";
const pretty = (value) => JSON.stringify(value, null, 2);
const seconds = (value) => (typeof value === "number" ? `${value.toFixed(2)} s` : "");

/** A file output: a link where the server gave a URL this page can open, else its name. */
function fileItem(file) {
  const name = file.filename || file.name || "file";
  const url = typeof file.url === "string" && /^(\/|https?:)/.test(file.url) ? file.url : null;
  const image = url && file.type === "image" ? h("img", { class: "output-image", src: url, alt: name }) : null;
  return h(
    "li",
    { class: "file-chip small" },
    image,
    url ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, name) : h("span", {}, name),
  );
}

/** One output value as the page shows it. */
function outputValue(value) {
  if (typeof value === "string") return h("div", { class: "markdown output-text" }, renderMarkdown(value));
  if (isFile(value)) return h("ul", { class: "output-files" }, fileItem(value));
  if (Array.isArray(value) && value.length && value.every(isFile)) return h("ul", { class: "output-files" }, value.map(fileItem));
  return h("pre", { class: "output-json", tabindex: 0 }, pretty(value));
}

export function renderOutputs(container, outputs) {
  const entries = Object.entries(outputs || {});
  container.replaceChildren(
    ...entries.map(([name, value]) =>
      h("section", { class: "output", "aria-label": `Output ${name}` }, h("h3", { class: "output-name" }, name), outputValue(value)),
    ),
  );
  if (entries.length === 0) container.append(h("p", { class: "muted small" }, "(no outputs)"));
}

export function createWorkflowPage({ session, inputs, uploads, onError, hideError, announce, closeSidebar }) {
  let runs = [];
  let page = 0;
  let hasMore = false;
  let current = null; // the run being streamed: {controller, taskId, runId, trace, text, stopRequested}
  let shownRunId = null;

  const showsSteps = () => Boolean(session.site?.site?.show_workflow_steps);
  // The run this browser has going: {taskId, runId}, kept across reloads.
  const runningKey = () => `chatflow.workflow-run.${session.code}`;

  function setRunning(running) {
    const had = document.activeElement;
    $("run-workflow").hidden = running;
    $("stop-workflow").hidden = !running;
    $("workflow-result").setAttribute("aria-busy", String(running));
    if (running && had === $("run-workflow")) $("stop-workflow").focus();
    if (!running && had === $("stop-workflow")) $("run-workflow").focus();
  }

  function setStatus(status, detail = "") {
    const box = $("run-status");
    box.className = `run-status ${status}`;
    box.textContent = [STATUS_TEXT[status] || status, detail].filter(Boolean).join(" · ");
  }

  function showResult() {
    $("workflow-result").hidden = false;
  }

  // ---- past runs ---------------------------------------------------------------------

  function runItem(run) {
    const when = run.created_at ? new Date(run.created_at * 1000).toLocaleString() : "";
    const first = Object.values(run.inputs || {}).find((v) => typeof v === "string" && v);
    const name = first ? first.slice(0, 60) : "Run";
    const active = run.id === shownRunId;
    return h(
      "li",
      { class: active ? "conv run active" : "conv run", "data-id": run.id },
      h(
        "button",
        { class: "conv-open run-open", type: "button", title: name, "aria-current": active ? "true" : null, onclick: () => openRun(run.id) },
        h("span", { class: "run-name" }, name),
        h("span", { class: `run-meta small ${run.status}` }, `${STATUS_TEXT[run.status] || run.status} · ${when}`),
      ),
    );
  }

  function renderRuns() {
    $("runs").replaceChildren(...runs.map(runItem));
    $("runs-empty").hidden = runs.length > 0;
    $("runs-more").hidden = !hasMore;
  }

  async function loadRuns({ more = false } = {}) {
    const next = more ? page + 1 : 1;
    try {
      const result = await session.api.request("/workflows/runs", { query: { page: next, limit: PAGE } });
      runs = more ? [...runs, ...result.data.filter((r) => !runs.some((x) => x.id === r.id))] : result.data;
      page = next;
      hasMore = result.has_more;
      renderRuns();
    } catch (error) {
      onError(error);
    }
  }

  async function openRun(id) {
    if (current) {
      // One thing at a time: the running one stays in view.
      onError(new Error("A run is going: wait for it to end, or stop it, to open another."));
      return;
    }
    closeSidebar();
    let run;
    try {
      run = await session.api.request(`/workflows/runs/${encodeURIComponent(id)}`);
    } catch (error) {
      onError(error);
      return;
    }
    hideError();
    shownRunId = id;
    renderRuns();
    showResult();
    const when = run.created_at ? new Date(run.created_at * 1000).toLocaleString() : "";
    setStatus(run.status, [seconds(run.elapsed_time), when].filter(Boolean).join(" · "));
    $("run-inputs").replaceChildren(
      h("summary", {}, "Inputs"),
      h("pre", { tabindex: 0 }, pretty(run.inputs || {})),
    );
    $("run-inputs").hidden = false;
    $("run-error").textContent = run.error || "";
    $("run-error").hidden = !run.error;
    $("run-stream").replaceChildren();
    renderOutputs($("run-outputs"), run.outputs);
    $("run-trace").replaceChildren();
    if (run.nodes) {
      const trace = new Trace();
      for (const node of run.nodes) trace.add({ event: "node_finished", data: node });
      trace.render($("run-trace"));
    }
    $("workflow-result").focus();
  }

  // ---- running -------------------------------------------------------------------------

  function onFrame(run, frame) {
    if (frame.task_id && !run.taskId) {
      run.taskId = frame.task_id;
      if (run.stopRequested) requestStop(run);
    }
    if (frame.workflow_run_id && !run.runId) {
      run.runId = frame.workflow_run_id;
      if (run.taskId && !run.stopRequested) storage.set(runningKey(), JSON.stringify({ taskId: run.taskId, runId: run.runId }));
    }
    if (run.stopRequested) return;
    if (run.trace && run.trace.add(frame)) run.trace.render($("run-trace"));
    const data = frame.data || {};
    switch (frame.event) {
      case "node_started":
        setStatus("running", data.title ? `${data.title}…` : "");
        break;
      case "text_chunk":
        run.text += data.text || "";
        $("run-stream").replaceChildren(renderMarkdown(run.text));
        break;
      case "text_replace":
        run.text = data.text || "";
        $("run-stream").replaceChildren(renderMarkdown(run.text));
        break;
      case "workflow_finished":
        run.finished = data;
        break;
      case "workflow_paused":
      case "human_input_required":
        setStatus("running", "waiting for a form this page cannot show");
        break;
      case "error":
        run.error = new ApiError(frame.status || 500, frame.code || "error", frame.message || "The run failed.");
        break;
      default:
        break;
    }
  }

  async function runWorkflow() {
    if (current || !inputs.validate()) return;
    if (uploads.busy()) {
      onError(new Error("Wait for the attached files to finish uploading."));
      return;
    }
    hideError();
    const files = uploads.take().map((f) => f.request);
    const run = begin();
    try {
      const response = await session.api.request("/workflows/run", {
        method: "POST",
        json: { inputs: inputs.values(), files },
        signal: run.controller.signal,
        stream: true,
      });
      await readFrames(response, (frame) => onFrame(run, frame));
    } catch (error) {
      if (error.name !== "AbortError") run.error = error;
    }
    finish(run);
  }

  /** A fresh result panel for a run that starts (or is picked up again) now. */
  function begin(shown = null) {
    const run = { controller: new AbortController(), taskId: null, runId: null, text: "", stopRequested: false, finished: null, error: null };
    run.trace = showsSteps() ? new Trace() : null;
    current = run;
    shownRunId = shown;
    renderRuns();
    showResult();
    setStatus("running");
    $("run-inputs").hidden = true;
    $("run-error").hidden = true;
    for (const id of ["run-stream", "run-outputs", "run-trace"]) $(id).replaceChildren();
    setRunning(true);
    return run;
  }

  /** The run this browser left going (a reload mid-run): its stream replays from the start. */
  async function resume({ taskId, runId }) {
    const run = begin(runId);
    run.taskId = taskId;
    try {
      const response = await session.api.request(`/workflows/tasks/${encodeURIComponent(taskId)}/events`, {
        signal: run.controller.signal,
        stream: true,
      });
      await readFrames(response, (frame) => onFrame(run, frame));
    } catch (error) {
      if (error.name === "AbortError") return finish(run);
      if (error instanceof ApiError && error.status === 404) {
        // Ended, and its stream expired, meanwhile: the stored run is the result.
        current = null;
        setRunning(false);
        storage.remove(runningKey());
        await openRun(runId);
        return undefined;
      }
      run.error = error;
    }
    return finish(run);
  }

  function finish(run) {
    if (current !== run) return;
    current = null;
    storage.remove(runningKey());
    setRunning(false);
    const end = run.finished;
    if (run.stopRequested) setStatus("stopped");
    else if (end) setStatus(end.status, seconds(end.elapsed_time));
    else setStatus("failed");
    const error = run.error?.message || (end && end.status === "failed" ? end.error : null);
    $("run-error").textContent = error || "";
    $("run-error").hidden = !error;
    if (end) {
      $("run-stream").replaceChildren();
      renderOutputs($("run-outputs"), end.outputs);
    }
    if (run.trace) run.trace.render($("run-trace"));
    announce(error ? `Run failed: ${error}` : `Run ${run.stopRequested ? "stopped" : end?.status || "ended"}`);
    shownRunId = run.runId;
    loadRuns();
  }

  function requestStop(run) {
    run.controller.abort();
    session.api
      .request(`/workflows/tasks/${encodeURIComponent(run.taskId)}/stop`, { method: "POST", json: {} })
      .catch(onError);
  }

  /** Stop button: the page stops at once; the server is told as soon as the task id is known. */
  function stop() {
    const run = current;
    if (!run) return;
    run.stopRequested = true;
    if (run.taskId) requestStop(run);
    finish(run);
  }

  function newRun() {
    if (current) return;
    shownRunId = null;
    renderRuns();
    $("workflow-result").hidden = true;
    closeSidebar();
    $("inputs-fields").querySelector("input, textarea, select")?.focus();
  }

  /** Turn the chat page into the workflow page: the form stays, the composer goes. */
  async function start() {
    document.body.classList.add("workflow-app");
    $("inputs-title").textContent = inputs.count() ? "Inputs" : "Run this workflow";
    $("inputs-form").hidden = false;
    $("starters").hidden = true;
    $("opening-row").hidden = true;
    $("workflow-actions").hidden = false;
    // The app's own files (`sys.files`), when it takes them: attached in the form.
    if (!$("attach").hidden) {
      $("attach").classList.add("btn", "ghost");
      $("attach").append("Attach files");
      $("attach").setAttribute("aria-label", "Attach files");
      $("workflow-files").append($("attachments"), $("attach"));
      $("workflow-files").hidden = false;
    }
    $("runs-nav").hidden = false;
    $("sidebar").setAttribute("aria-label", "Past runs");
    $("toggle-sidebar").setAttribute("aria-label", "Show past runs");
    $("new-chat-label").textContent = "New run";
    await loadRuns();
    let saved = null;
    try {
      saved = JSON.parse(storage.get(runningKey()) || "null");
    } catch {
      saved = null;
    }
    if (saved?.taskId && runs.some((r) => r.id === saved.runId && r.status === "running")) resume(saved);
    else storage.remove(runningKey());
  }

  $("stop-workflow").addEventListener("click", stop);
  $("runs-more").addEventListener("click", () => loadRuns({ more: true }));

  return { start, run: runWorkflow, newRun, active: () => document.body.classList.contains("workflow-app") };
}
