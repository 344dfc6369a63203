// The chat page of an app's site, `/chat/{code}`: signs this browser in to the site (an
// end-user session in an HttpOnly cookie; a passcode when the site has one), shows the app
// from `/api/site` and `/api/parameters`, and runs turns through `POST /api/chat-messages`
// in streaming mode, rendering answers as they arrive. No Service API key ever reaches
// the page: the session decides which app and which end user every request is.

import { Api, ApiError, readFrames } from "./api.js";
import { $, h, icon, storage } from "./dom.js";
import { renderCitations, renderToolCalls, Trace } from "./extras.js";
import { createInputs } from "./inputs.js";
import { renderMarkdown } from "./markdown.js";
import { createSidebar, PLACEHOLDER_NAME } from "./sidebar.js";
import { createSpeech } from "./speech.js";
import { createUploads } from "./uploads.js";
import { createWorkflowPage } from "./workflow.js";

const COLLAPSE_CHARS = 600;
const COLLAPSE_LINES = 10;

const session = {
  api: null,
  code: null,
  operatorLogin: false, // the site opens sessions for console operators only
  csrf: "", // the operator's console CSRF token, on such a site
  site: null,
  params: null,
  conversationId: null,
  run: null, // the turn being streamed: {turn, controller, taskId, stopRequested}
  firstId: null, // the oldest message shown, for "Load earlier messages"
  lastTurn: null,
  // Answers still running in conversations the reader left: conversation id -> {taskId, query}.
  detached: new Map(),
};

const conversationStore = () => `chatflow.conversation.${session.code}`;

function siteCode() {
  const match = /^\/chat\/([A-Za-z0-9_-]{4,32})\/?$/.exec(window.location.pathname);
  return match ? match[1] : null;
}

// ---- errors, notices and the passcode ------------------------------------------------

function describe(error) {
  if (error instanceof ApiError && error.code && !["http_error", "network_error"].includes(error.code)) {
    return `${error.message} (${error.code})`;
  }
  return error.message || String(error);
}

function showError(error) {
  if (error instanceof ApiError && error.code === "web_session_required") {
    start(); // the session ended (a new passcode, a restart of the site): sign in again
    return;
  }
  $("error-text").textContent = describe(error);
  $("error").hidden = false;
  $("error").scrollIntoView({ block: "nearest" });
}

const hideError = () => ($("error").hidden = true);

function showNotice(title, text) {
  $("site-notice-title").textContent = title;
  $("site-notice-text").textContent = text;
  $("site-notice").hidden = false;
  $("query").disabled = true;
  document.body.classList.add("ready", "no-site");
}

function askPasscode(message = "") {
  $("passcode-error").textContent = message;
  $("passcode-input").value = "";
  if (!$("passcode-dialog").open) $("passcode-dialog").showModal();
  $("passcode-input").focus();
}

// ---- the app: header, opening statement, starters, input form ------------------------

function renderApp(site, params) {
  const look = site.site;
  const name = look.title || "Chat";
  document.title = name;
  $("app-name").textContent = name;
  $("app-description").textContent = look.description || "";
  const badge = $("app-icon");
  badge.textContent = look.icon_type === "emoji" && look.icon ? look.icon : name.slice(0, 1).toUpperCase();
  badge.style.background = look.icon_background || "";
  $("opening").replaceChildren(renderMarkdown(params.opening_statement || ""));
  $("opening-row").hidden = !params.opening_statement;
  $("opening-avatar").textContent = badge.textContent;
  $("opening-avatar").style.background = badge.style.background;
  $("starters").replaceChildren(
    ...(params.suggested_questions || []).map((question) =>
      h("button", { class: "chip", type: "button", onclick: () => send(question) }, question),
    ),
  );
  inputs.build(params.user_input_form || []);
  uploads.configure(params);
  $("mic").hidden = !params.speech_to_text?.enabled;
  $("query").disabled = site.mode === "workflow"; // a workflow app runs from its form
}

// The starters and the input form belong to a conversation that has not started yet.
function showStart(show) {
  $("inputs-form").hidden = !show || inputs.count() === 0;
  $("starters").hidden = !show || $("starters").childElementCount === 0;
}

// ---- turns -------------------------------------------------------------------------

const thread = () => $("thread");
const nearBottom = () => thread().scrollHeight - thread().scrollTop - thread().clientHeight < 80;
const toBottom = () => (thread().scrollTop = thread().scrollHeight);
// Only workflow-driven apps stream their node steps; chat and agent apps do not (an agent
// app shows its tool calls instead, from its `agent_thought`s).
const showsSteps = () =>
  Boolean(session.site?.site?.show_workflow_steps) && ["advanced-chat", "workflow"].includes(session.site?.mode);

function fileChips(files) {
  if (!files || files.length === 0) return null;
  return h(
    "div",
    { class: "msg-files" },
    files.map((file) =>
      h(
        "span",
        { class: "file-chip small" },
        file.preview ? h("img", { class: "thumb", src: file.preview, alt: "" }) : null,
        file.filename || file.type || "file",
      ),
    ),
  );
}

// The answer's avatar: a copy of the app's badge in the header.
function avatar() {
  const badge = $("app-icon");
  const node = h("div", { class: "avatar", "aria-hidden": "true" }, badge.textContent);
  node.style.background = badge.style.background;
  return node;
}

let queryIds = 0;

/** The user's message; a long one is folded to a few lines with a button to unfold it. */
function queryBlock(query) {
  const text = h("p", { class: "query", id: `query-${(queryIds += 1)}` }, query);
  const long = query.length > COLLAPSE_CHARS || query.split("\n").length > COLLAPSE_LINES;
  if (!long) return [text];
  text.classList.add("collapsed");
  const toggle = h("button", { class: "link-btn small", type: "button", "aria-expanded": "false", "aria-controls": text.id }, "Show more");
  toggle.addEventListener("click", () => {
    const collapsed = text.classList.toggle("collapsed");
    toggle.setAttribute("aria-expanded", String(!collapsed));
    toggle.textContent = collapsed ? "Show more" : "Show less";
  });
  return [text, toggle];
}

function actionButton(name, label, onclick) {
  return h("button", { class: "icon-btn small", type: "button", "aria-label": label, title: label, onclick }, icon(name));
}

function buildTurn({ query, files, answer = "", messageId = null, rating = null, resources = [], thoughts = [] }) {
  const turn = { query, files, answer, messageId, rating, resources, error: null, stopped: false, trace: null };
  turn.thoughts = new Map(thoughts.map((t) => [t.id, t])); // an agent app's rounds, by id
  const edit = actionButton("edit", "Edit and resend", () => editQuery(turn));
  const userItem = h(
    "li",
    { class: "msg user" },
    h(
      "div",
      { class: "bubble user" },
      h("span", { class: "visually-hidden" }, "You: "),
      fileChips(files),
      ...queryBlock(query),
      h("div", { class: "msg-actions" }, edit),
    ),
  );
  turn.answerEl = h("div", { class: "markdown answer" });
  turn.status = h("div", { class: "status muted small" });
  turn.citations = h("div", { class: "citations-box" });
  turn.traceBox = h("div", { class: "trace-box" });
  turn.toolsBox = h("div", { class: "tools-box" });
  turn.actions = h("div", { class: "msg-actions answer-actions", role: "group", "aria-label": "Answer actions" });
  turn.bubble = h(
    "div",
    { class: "bubble bot" },
    h("span", { class: "visually-hidden" }, "Assistant: "),
    turn.traceBox,
    turn.toolsBox,
    turn.answerEl,
    turn.status,
    turn.citations,
  );
  turn.body = h("div", { class: "msg-body" }, turn.bubble, turn.actions);
  turn.userItem = userItem;
  turn.botItem = h("li", { class: "msg bot" }, avatar(), turn.body);
  renderAnswer(turn);
  renderToolCalls(turn.toolsBox, [...turn.thoughts.values()]);
  renderCitations(turn.citations, resources);
  return turn;
}

function renderAnswer(turn) {
  turn.answerEl.replaceChildren(renderMarkdown(turn.answer));
}

function renderActions(turn) {
  if (!turn.messageId || turn.bubble.classList.contains("streaming")) {
    turn.actions.replaceChildren();
    return;
  }
  const like = actionButton("up", "Like this answer", () => rate(turn, turn.rating === "like" ? null : "like"));
  const dislike = actionButton("down", "Dislike this answer", () =>
    turn.rating === "dislike" ? rate(turn, null) : askFeedback(turn),
  );
  like.setAttribute("aria-pressed", String(turn.rating === "like"));
  dislike.setAttribute("aria-pressed", String(turn.rating === "dislike"));
  const buttons = [actionButton("copy", "Copy answer", () => copyAnswer(turn)), like, dislike];
  if (session.params?.text_to_speech?.enabled) {
    const speak = actionButton("speaker", "Read aloud", () => speech.toggle(turn, speak));
    speak.setAttribute("aria-pressed", "false");
    buttons.push(speak);
  }
  if (turn === session.lastTurn) buttons.push(actionButton("redo", "Regenerate answer", () => regenerate(turn)));
  turn.actions.replaceChildren(...buttons);
}

function scheduleRender(turn) {
  if (turn.renderQueued) return;
  turn.renderQueued = true;
  requestAnimationFrame(() => {
    turn.renderQueued = false;
    const stick = nearBottom();
    renderAnswer(turn);
    if (turn.trace) turn.trace.render(turn.traceBox);
    if (stick) toBottom();
  });
}

function setStatus(turn, text) {
  turn.status.textContent = text;
}

function setTurnError(turn, error) {
  turn.error = error;
  turn.bubble.querySelector(".turn-error")?.remove();
  const note = h("div", { class: "turn-error", role: "alert" }, describe(error));
  turn.bubble.append(note);
  if (turn === session.lastTurn) note.scrollIntoView({ block: "nearest" });
}

function appendTurn(spec) {
  const previous = session.lastTurn;
  const turn = buildTurn(spec);
  $("messages").append(turn.userItem, turn.botItem);
  session.lastTurn = turn;
  if (previous) renderActions(previous); // only the last answer can be regenerated
  return turn;
}

function clearFollowups() {
  for (const node of document.querySelectorAll(".followups")) node.remove();
}

function historyTurn(message) {
  const turn = buildTurn({
    query: message.query,
    files: message.message_files,
    answer: message.answer,
    messageId: message.id,
    rating: message.feedback?.rating || null,
    resources: message.retriever_resources,
    thoughts: message.agent_thoughts || [],
  });
  if (message.status === "error") setTurnError(turn, new Error(message.error || "The run failed."));
  if (message.stopped) {
    turn.stopped = true;
    setStatus(turn, "Stopped");
  }
  if (showsSteps() && message.workflow_run_id) lazyTrace(turn);
  return turn;
}

/** A stored answer's run trace, fetched the first time it is opened. */
function lazyTrace(turn) {
  const details = h("details", { class: "trace" }, h("summary", {}, "Workflow steps"));
  details.addEventListener("toggle", async () => {
    if (!details.open || turn.trace) return;
    turn.trace = new Trace();
    try {
      const { data } = await session.api.request(`/messages/${encodeURIComponent(turn.messageId)}/trace`);
      for (const node of data) turn.trace.add({ event: "node_finished", data: node });
      turn.trace.render(turn.traceBox);
    } catch (error) {
      turn.trace = null;
      showError(error);
    }
  });
  turn.traceBox.replaceChildren(details);
}

// ---- answer actions ----------------------------------------------------------------

async function copyAnswer(turn) {
  try {
    await navigator.clipboard.writeText(turn.answer);
    $("announcer").textContent = "Answer copied";
    setStatus(turn, "Copied");
    setTimeout(() => turn.status.textContent === "Copied" && setStatus(turn, turn.stopped ? "Stopped" : ""), 2000);
  } catch {
    showError(new Error("The browser did not allow copying; select the text instead."));
  }
}

async function rate(turn, rating, content = null) {
  try {
    await session.api.request(`/messages/${encodeURIComponent(turn.messageId)}/feedbacks`, {
      method: "POST",
      json: { rating, content },
    });
    turn.rating = rating;
    renderActions(turn);
    $("announcer").textContent = rating ? `Feedback sent: ${rating}` : "Feedback removed";
  } catch (error) {
    showError(error);
  }
}

let feedbackTurn = null;

function askFeedback(turn) {
  feedbackTurn = turn;
  $("feedback-input").value = "";
  $("feedback-dialog").showModal();
  $("feedback-input").focus();
}

function regenerate(turn) {
  if (session.run) return;
  send(turn.query);
}

function editQuery(turn) {
  if (session.run) return;
  $("query").value = turn.query;
  autosize();
  $("query").focus();
  $("query").setSelectionRange(turn.query.length, turn.query.length);
}

async function loadSuggestions(turn) {
  try {
    const result = await session.api.request(`/messages/${encodeURIComponent(turn.messageId)}/suggested-questions`);
    if (turn !== session.lastTurn || session.run || !result.data?.length) return;
    const stick = nearBottom();
    turn.body.append(
      h(
        "div",
        { class: "chips followups", role: "group", "aria-label": "Suggested follow-up questions" },
        result.data.map((q) => h("button", { class: "chip", type: "button", onclick: () => send(q) }, q)),
      ),
    );
    if (stick) toBottom();
  } catch {
    // follow-up suggestions are a nicety; the answer stands without them
  }
}

// ---- streaming a turn ----------------------------------------------------------------

function setRunning(running) {
  const had = document.activeElement;
  $("send").hidden = running;
  $("stop").hidden = !running;
  $("messages").setAttribute("aria-busy", String(running));
  if (running && had === $("send")) $("stop").focus();
  if (!running && had === $("stop")) $("query").focus();
  updateSend();
}

function updateSend() {
  const empty = !$("query").value.trim();
  $("send").disabled = empty || uploads.busy() || $("query").disabled;
}

function onFrame(run, frame) {
  const turn = run.turn;
  if (frame.task_id && !run.taskId) {
    run.taskId = frame.task_id;
    if (run.stopRequested) requestStop(run);
  }
  // A first turn creates its conversation: it shows in the sidebar at once, and becomes
  // the open one unless the reader has moved on (a new chat, another conversation).
  if (frame.conversation_id && !run.conversationId) {
    run.conversationId = frame.conversation_id;
    run.created = true;
    if (session.conversationId === null && session.lastTurn === turn) {
      session.conversationId = frame.conversation_id;
      storage.set(conversationStore(), frame.conversation_id);
    }
    sidebar.upsert({ id: frame.conversation_id, name: PLACEHOLDER_NAME });
  }
  if (run.stopRequested || run.detached) return;
  if (frame.message_id) turn.messageId = frame.message_id;
  if (turn.trace && turn.trace.add(frame)) scheduleRender(turn);
  switch (frame.event) {
    case "message":
    case "agent_message":
      turn.answer += frame.answer || "";
      setStatus(turn, "");
      scheduleRender(turn);
      break;
    case "message_replace":
      turn.answer = frame.answer || "";
      scheduleRender(turn);
      break;
    case "agent_thought":
      turn.thoughts.set(frame.id, frame);
      renderToolCalls(turn.toolsBox, [...turn.thoughts.values()]);
      break;
    case "message_end":
      turn.resources = frame.metadata?.retriever_resources || [];
      renderCitations(turn.citations, turn.resources);
      break;
    case "node_started":
      if (!turn.answer && frame.data?.title) setStatus(turn, `${frame.data.title}…`);
      break;
    case "workflow_paused":
    case "human_input_required":
      setStatus(turn, "The app is waiting for a form this page cannot show.");
      break;
    case "workflow_finished":
      if (frame.data?.status === "failed") setTurnError(turn, new Error(frame.data.error || "The run failed."));
      break;
    case "error":
      setTurnError(turn, new ApiError(frame.status || 500, frame.code || "error", frame.message || "The run failed."));
      break;
    default:
      break; // the other progress frames need nothing more here
  }
}

function newRun(turn, conversationId) {
  turn.bubble.classList.add("streaming");
  if (showsSteps()) turn.trace = new Trace();
  const run = { turn, controller: new AbortController(), taskId: null, stopRequested: false, conversationId };
  session.run = run;
  setRunning(true);
  return run;
}

async function send(text) {
  const query = (text ?? $("query").value).trim();
  if (!query || session.run || !session.api || $("query").disabled) return;
  if (uploads.busy()) return showError(new Error("Wait for the attached files to finish uploading."));
  if (session.conversationId === null && !$("inputs-form").hidden && !inputs.validate()) return;
  hideError();
  clearFollowups();
  const attached = uploads.take();
  const turn = appendTurn({ query, files: attached.map((f) => f.shown) });
  if (!text || text === $("query").value.trim()) $("query").value = "";
  autosize();
  showStart(false);
  toBottom();
  const run = newRun(turn, session.conversationId);
  run.query = query;
  try {
    const response = await session.api.request("/chat-messages", {
      method: "POST",
      json: {
        inputs: inputs.values(),
        query,
        response_mode: "streaming",
        conversation_id: session.conversationId || "",
        files: attached.map((f) => f.request),
      },
      signal: run.controller.signal,
      stream: true,
    });
    await readFrames(response, (frame) => onFrame(run, frame));
  } catch (error) {
    if (error.name !== "AbortError") setTurnError(turn, error);
  } finally {
    finish(run);
  }
}

/** Reopen a running answer's stream (the resumable stream replays it from the start). */
async function resume(turn, taskId, conversationId) {
  turn.answer = "";
  turn.bubble.querySelector(".turn-error")?.remove();
  const run = newRun(turn, conversationId);
  run.taskId = taskId;
  try {
    const response = await session.api.request(`/chat-messages/${encodeURIComponent(taskId)}/events`, {
      signal: run.controller.signal,
      stream: true,
    });
    await readFrames(response, (frame) => onFrame(run, frame));
  } catch (error) {
    if (error.name === "AbortError") return;
    // Finished (and its stream expired) meanwhile: the stored message is the answer.
    if (error instanceof ApiError && error.status === 404) {
      finish(run);
      await openConversation(conversationId, { restoring: true });
      return;
    }
    setTurnError(turn, error);
  } finally {
    finish(run);
  }
}

/** Stop button: the page stops at once; the server is told as soon as the task id is known. */
function stop() {
  const run = session.run;
  if (!run) return;
  run.stopRequested = true;
  run.turn.stopped = true;
  if (run.taskId) requestStop(run);
  finish(run);
}

/** Leaving a conversation mid-answer: the answer goes on on the server, and the page
 * picks its stream up again when the reader comes back. */
function detach() {
  const run = session.run;
  if (!run) return;
  run.detached = true;
  if (run.taskId && run.conversationId) {
    session.detached.set(run.conversationId, { taskId: run.taskId, query: run.query || run.turn.query });
  }
  run.controller.abort();
  finish(run);
}

function requestStop(run) {
  run.controller.abort();
  session.api
    .request(`/chat-messages/${encodeURIComponent(run.taskId)}/stop`, { method: "POST", json: {} })
    .catch(showError);
}

function finish(run) {
  if (run.finished) return;
  run.finished = true;
  const turn = run.turn;
  if (session.run === run) {
    session.run = null;
    setRunning(false);
  }
  if (run.detached) return;
  if (run.conversationId) session.detached.delete(run.conversationId);
  turn.bubble.classList.remove("streaming");
  renderAnswer(turn);
  if (turn.trace) turn.trace.render(turn.traceBox);
  // Screen readers hear the finished answer once, not every streamed word.
  $("announcer").textContent = turn.error ? describe(turn.error) : turn.answer.slice(0, 500);
  if (turn.stopped) setStatus(turn, "Stopped");
  else if (!turn.answer && !turn.error) setStatus(turn, "(no answer)");
  else setStatus(turn, "");
  renderActions(turn);
  if (run.created) {
    // A first turn that failed leaves no name to wait for: name it after its question.
    if (turn.error) sidebar.nameAfter(run.conversationId, turn.query);
    else sidebar.awaitName(run.conversationId);
  } else sidebar.refresh();
  const followups = session.params?.suggested_questions_after_answer?.enabled;
  if (followups && !turn.error && !turn.stopped && turn.messageId) loadSuggestions(turn);
}

// ---- conversations -------------------------------------------------------------------

function resetThread() {
  $("messages").replaceChildren();
  $("load-earlier").hidden = true;
  session.firstId = null;
  session.lastTurn = null;
}

function newChat() {
  detach();
  session.conversationId = null;
  storage.remove(conversationStore());
  resetThread();
  showStart(true);
  sidebar.render();
  sidebar.close();
  $("query").focus();
}

async function openConversation(id, { restoring = false } = {}) {
  detach();
  sidebar.close();
  let page;
  try {
    page = await session.api.request("/messages", { query: { conversation_id: id, limit: 50 } });
  } catch (error) {
    if (!restoring || !(error instanceof ApiError && error.status === 404)) showError(error);
    if (error instanceof ApiError && error.status === 404) newChat();
    return;
  }
  session.conversationId = id;
  storage.set(conversationStore(), id);
  resetThread();
  showStart(false);
  const turns = page.data.map(historyTurn);
  for (const turn of turns) $("messages").append(turn.userItem, turn.botItem);
  session.lastTurn = turns.at(-1) ?? null;
  for (const turn of turns) renderActions(turn); // after: only the last one regenerates
  session.firstId = page.data[0]?.id ?? null;
  $("load-earlier").hidden = !page.has_more;
  sidebar.render();
  toBottom();
  const running = session.detached.get(id);
  const last = page.data.at(-1);
  const stored = last && last.query === running?.query;
  if (running && stored && !last.running) session.detached.delete(id); // it finished meanwhile
  else if (running) {
    // The answer cut off when the reader left: pick its stream up again.
    resume(stored ? session.lastTurn : appendTurn({ query: running.query }), running.taskId, id);
  }
}

async function loadEarlier() {
  if (!session.firstId || !session.conversationId) return;
  try {
    const page = await session.api.request("/messages", {
      query: { conversation_id: session.conversationId, first_id: session.firstId, limit: 50 },
    });
    const before = thread().scrollHeight;
    const turns = page.data.map(historyTurn);
    $("messages").prepend(...turns.flatMap((turn) => [turn.userItem, turn.botItem]));
    for (const turn of turns) renderActions(turn);
    thread().scrollTop += thread().scrollHeight - before; // keep the reader's place
    session.firstId = page.data[0]?.id ?? session.firstId;
    $("load-earlier").hidden = !page.has_more;
  } catch (error) {
    showError(error);
  }
}

// ---- start-up ------------------------------------------------------------------------

async function start() {
  session.code = siteCode();
  if (!session.code) {
    showNotice("No chat here", "Chat pages live at /chat/CODE: `chatflow serve` prints each app's link.");
    return;
  }
  session.api = new Api(session.code);
  let site;
  try {
    site = await session.api.request("/site");
    session.operatorLogin = Boolean(site.operator_login_required);
    if (!site.signed_in) {
      if (session.operatorLogin && !(await operatorSignedIn())) return;
      if (site.passcode_required) {
        askPasscode();
        return;
      }
      await passport({});
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      showNotice("This chat is not available", "The link is wrong, or the app's chat site has been turned off.");
    } else showError(error);
    return;
  }
  await load(site);
}

// An operator-login site opens sessions only through the console (whose cookie is sent
// only under /console): the operator's CSRF token first, then the console's passport.
async function operatorSignedIn() {
  const me = await fetch("/console/api/me", { cache: "no-store", credentials: "same-origin" });
  if (me.ok) {
    session.csrf = (await me.json()).csrf_token;
    return true;
  }
  showNotice("This chat is for operators", "Sign in to the console at /console, then reload this page.");
  return false;
}

async function passport(json) {
  if (!session.operatorLogin) return session.api.request("/passport", { method: "POST", json });
  const response = await fetch("/console/api/site-passport", {
    method: "POST",
    headers: { "X-App-Code": session.code, "X-CSRF-Token": session.csrf, "Content-Type": "application/json" },
    body: JSON.stringify(json),
    cache: "no-store",
    credentials: "same-origin",
  });
  if (!response.ok) {
    let body = {};
    try {
      body = await response.json();
    } catch {
      // not JSON: the status line says enough
    }
    throw new ApiError(response.status, body.code || "http_error", body.message || response.statusText);
  }
  return response.json();
}

async function signIn(passcode) {
  try {
    await passport({ passcode });
    const site = await session.api.request("/site");
    $("passcode-dialog").close();
    await load(site);
  } catch (error) {
    const wrong = error instanceof ApiError && error.code === "passcode_required";
    askPasscode(wrong ? "That passcode is not right." : describe(error));
  }
}

async function load(site) {
  let params;
  try {
    params = await session.api.request("/parameters");
  } catch (error) {
    showError(error);
    return;
  }
  detach();
  session.site = site;
  session.params = params;
  $("site-notice").hidden = true;
  document.body.classList.remove("no-site");
  renderApp(site, params);
  if (site.mode === "workflow") {
    await workflowPage.start();
    document.body.classList.add("ready");
    return;
  }
  // Nothing can be typed until the open conversation is back (a message sent meanwhile
  // would land in a thread about to be replaced).
  const workflow = $("query").disabled;
  $("query").disabled = true;
  await sidebar.refresh();
  const saved = storage.get(conversationStore());
  if (saved) await openConversation(saved, { restoring: true });
  else newChat();
  $("query").disabled = workflow;
  updateSend();
  if (!workflow) $("query").focus();
  document.body.classList.add("ready");
}

function autosize() {
  const box = $("query");
  box.style.height = "auto";
  box.style.height = `${Math.min(box.scrollHeight, 200)}px`;
  updateSend();
}

const sidebar = createSidebar({
  session,
  onOpen: (id) => openConversation(id),
  onDeleted: (id) => id === session.conversationId && newChat(),
  onError: showError,
});
const uploads = createUploads({ session, onError: showError, onChange: updateSend });
const inputs = createInputs({ api: () => session.api, onError: showError, onChange: updateSend });
const speech = createSpeech({
  session,
  onError: showError,
  onText: (text) => {
    const box = $("query");
    box.value = box.value ? `${box.value} ${text}` : text;
    autosize();
    box.focus();
  },
  announce: (text) => ($("announcer").textContent = text),
});

const workflowPage = createWorkflowPage({
  session,
  inputs,
  uploads,
  onError: showError,
  hideError,
  announce: (text) => ($("announcer").textContent = text),
  closeSidebar: () => sidebar.close(),
});

function bindUi() {
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  $("query").addEventListener("keydown", (event) => {
    // Enter sends, Shift+Enter is a new line; Enter that confirms an IME candidate is not a send.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      send();
    }
  });
  $("query").addEventListener("input", autosize);
  $("stop").addEventListener("click", stop);
  $("new-chat").addEventListener("click", () => (workflowPage.active() ? workflowPage.newRun() : newChat()));
  $("load-earlier").addEventListener("click", loadEarlier);
  $("error-close").addEventListener("click", hideError);
  $("inputs-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (workflowPage.active()) workflowPage.run();
    else $("query").focus();
  });
  $("passcode-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const passcode = $("passcode-input").value;
    if (passcode) signIn(passcode);
  });
  // Closing the passcode prompt leaves a notice with a way back to it, never a trap.
  $("passcode-dialog").addEventListener("close", () => {
    if (!session.params) showNotice("This chat needs a passcode", "Reload the page to enter it.");
  });
  $("feedback-form").addEventListener("submit", (event) => {
    event.preventDefault();
    $("feedback-dialog").close();
    if (feedbackTurn) rate(feedbackTurn, "dislike", $("feedback-input").value.trim() || null);
  });
  $("feedback-cancel").addEventListener("click", () => $("feedback-dialog").close());
}

bindUi();
start();
