// The chat page: connects with the app's key (from `#key=...` or a prompt, then kept in
// localStorage), shows the app from `/info`, `/parameters` and `/site`, and runs turns
// through `POST /chat-messages` in streaming mode, rendering answers as they arrive.
//
// The key travels in the URL fragment, which browsers never send to the server, and is
// removed from the address bar as soon as it is read.

import { Api, ApiError, readFrames } from "./api.js";
import { $, h, storage } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { createSidebar } from "./sidebar.js";
import { createUploads } from "./uploads.js";

const KEY_STORE = "chatflow.key";
const USER_STORE = "chatflow.user";

const session = {
  api: null,
  user: "",
  params: null,
  conversationId: null,
  inputFields: [],
  run: null, // the turn being streamed: {turn, controller, taskId, stopRequested}
  firstId: null, // the oldest message shown, for "Load earlier messages"
  lastTurn: null,
};

// A stable per-browser end-user id: Dify scopes conversations and files by it.
function browserUser() {
  let user = storage.get(USER_STORE);
  if (!user) {
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    user = `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
    storage.set(USER_STORE, user);
  }
  return user;
}

// The open conversation is remembered per app key (an FNV-1a tag, not the key itself).
function conversationStore() {
  let hash = 0x811c9dc5;
  for (const ch of session.api.key) hash = Math.imul(hash ^ ch.codePointAt(0), 0x01000193) >>> 0;
  return `chatflow.conversation.${hash.toString(16)}`;
}

// ---- errors and the key prompt -------------------------------------------------------

function describe(error) {
  if (error instanceof ApiError && error.code && !["http_error", "network_error"].includes(error.code)) {
    return `${error.message} (${error.code})`;
  }
  return error.message || String(error);
}

function showError(error) {
  if (error instanceof ApiError && error.status === 401) {
    askKey("The API key was not accepted. Paste a valid key for this app.");
    return;
  }
  $("error-text").textContent = describe(error);
  $("error").hidden = false;
}

const hideError = () => ($("error").hidden = true);

function keyFromFragment() {
  const key = new URLSearchParams(window.location.hash.slice(1)).get("key");
  if (key === null) return null;
  // Out of the address bar, the history and any bookmark made from here on.
  history.replaceState(null, "", window.location.pathname + window.location.search);
  return key.trim() || null;
}

function askKey(message = "") {
  $("key-error").textContent = message;
  $("key-input").value = "";
  if (!$("key-dialog").open) $("key-dialog").showModal();
  $("key-input").focus();
}

// ---- the app: header, opening statement, starters, input form ------------------------

function renderApp(info, params, site) {
  const name = site.title || info.name || "Chat";
  document.title = name;
  $("app-name").textContent = name;
  $("app-description").textContent = info.description || site.description || "";
  const badge = $("app-icon");
  badge.textContent = site.icon_type === "emoji" && site.icon ? site.icon : name.slice(0, 1).toUpperCase();
  badge.style.background = site.icon_background || "";
  $("opening").replaceChildren(renderMarkdown(params.opening_statement || ""));
  $("opening-row").hidden = !params.opening_statement;
  $("opening-avatar").textContent = badge.textContent;
  $("opening-avatar").style.background = badge.style.background;
  $("starters").replaceChildren(
    ...(params.suggested_questions || []).map((question) =>
      h("button", { class: "chip", type: "button", onclick: () => send(question) }, question),
    ),
  );
  buildInputs(params.user_input_form || []);
  uploads.configure(params);
  const workflow = info.mode === "workflow";
  $("query").disabled = workflow;
  if (workflow) showError(new Error("This is a workflow app; the chat page serves chat apps."));
}

function buildInputs(form) {
  session.inputFields = [];
  const fields = [];
  for (const entry of form) {
    const [type, spec] = Object.entries(entry)[0] || [];
    if (!spec || !spec.variable) continue;
    let control;
    if (type === "paragraph") control = h("textarea", { rows: 3 });
    else if (type === "number") control = h("input", { type: "number", step: "any" });
    else if (type === "checkbox") control = h("input", { type: "checkbox" });
    else if (type === "text-input" || type === "string") control = h("input", { type: "text" });
    else if (type === "select") {
      control = h("select", {}, spec.required ? null : h("option", { value: "" }, "—"));
      for (const option of spec.options || []) control.append(h("option", { value: option }, option));
    } else continue; // file inputs are not offered by this page
    control.id = `input-${spec.variable}`;
    control.name = spec.variable;
    control.required = Boolean(spec.required);
    if (spec.max_length && (type === "text-input" || type === "paragraph")) control.maxLength = spec.max_length;
    if (spec.default !== undefined && spec.default !== null && spec.default !== "") {
      if (type === "checkbox") control.checked = Boolean(spec.default);
      else control.value = String(spec.default);
    }
    const label = h(
      "label",
      { for: control.id },
      spec.label || spec.variable,
      spec.required ? h("span", { class: "required", "aria-hidden": "true" }, " *") : null,
    );
    fields.push(h("div", { class: type === "checkbox" ? "field checkbox" : "field" }, label, control));
    session.inputFields.push({ type, spec, control });
  }
  $("inputs-fields").replaceChildren(...fields);
}

function collectInputs() {
  const inputs = {};
  for (const { type, spec, control } of session.inputFields) {
    if (type === "checkbox") inputs[spec.variable] = control.checked;
    else if (control.value !== "") inputs[spec.variable] = type === "number" ? Number(control.value) : control.value;
  }
  return inputs;
}

// The starters and the input form belong to a conversation that has not started yet.
function showStart(show) {
  $("inputs-form").hidden = !show || session.inputFields.length === 0;
  $("starters").hidden = !show || $("starters").childElementCount === 0;
}

// ---- turns -------------------------------------------------------------------------

const thread = () => $("thread");
const nearBottom = () => thread().scrollHeight - thread().scrollTop - thread().clientHeight < 80;
const toBottom = () => (thread().scrollTop = thread().scrollHeight);

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

function buildTurn({ query, files, answer = "", messageId = null }) {
  const userItem = h(
    "li",
    { class: "msg user" },
    h("div", { class: "bubble user" }, h("span", { class: "visually-hidden" }, "You: "), fileChips(files), h("p", { class: "query" }, query)),
  );
  const answerEl = h("div", { class: "markdown answer" });
  const status = h("div", { class: "status muted small" });
  const bubble = h("div", { class: "bubble bot" }, h("span", { class: "visually-hidden" }, "Assistant: "), answerEl, status);
  const body = h("div", { class: "msg-body" }, bubble);
  const botItem = h("li", { class: "msg bot" }, avatar(), body);
  const turn = { query, answer, messageId, userItem, botItem, body, bubble, answerEl, status, error: null, stopped: false };
  renderAnswer(turn);
  return turn;
}

function renderAnswer(turn) {
  turn.answerEl.replaceChildren(renderMarkdown(turn.answer));
}

function scheduleRender(turn) {
  if (turn.renderQueued) return;
  turn.renderQueued = true;
  requestAnimationFrame(() => {
    turn.renderQueued = false;
    const stick = nearBottom();
    renderAnswer(turn);
    if (stick) toBottom();
  });
}

function setStatus(turn, text) {
  turn.status.textContent = text;
}

function setTurnError(turn, error) {
  turn.error = error;
  turn.bubble.querySelector(".turn-error")?.remove();
  turn.bubble.append(h("div", { class: "turn-error", role: "alert" }, describe(error)));
}

function appendTurn(spec) {
  const turn = buildTurn(spec);
  $("messages").append(turn.userItem, turn.botItem);
  session.lastTurn = turn;
  return turn;
}

function clearFollowups() {
  for (const node of document.querySelectorAll(".followups")) node.remove();
}

function historyTurn(message) {
  const turn = buildTurn({ query: message.query, files: message.message_files, answer: message.answer, messageId: message.id });
  if (message.status === "error") setTurnError(turn, new Error(message.error || "The run failed."));
  return turn;
}

async function loadSuggestions(turn) {
  try {
    const result = await session.api.request(`/messages/${encodeURIComponent(turn.messageId)}/suggested`, {
      query: { user: session.user },
    });
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
  // A first turn creates its conversation; it becomes the open one unless the reader has
  // moved on (a new chat, another conversation) in the meantime.
  if (frame.conversation_id && run.conversationId === null && !run.adopted) {
    run.adopted = true;
    if (session.conversationId === null && session.lastTurn === turn) {
      session.conversationId = frame.conversation_id;
      storage.set(conversationStore(), frame.conversation_id);
      if (run.finished) sidebar.refresh(); // stopped before the first frame
    }
  }
  if (run.stopRequested) return;
  if (frame.message_id) turn.messageId = frame.message_id;
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
      break; // message_end and the node/workflow progress frames need nothing more here
  }
}

async function send(text) {
  const query = (text ?? $("query").value).trim();
  if (!query || session.run || !session.api || $("query").disabled) return;
  if (uploads.busy()) return showError(new Error("Wait for the attached files to finish uploading."));
  if (session.conversationId === null && !$("inputs-form").hidden && !$("inputs-form").reportValidity()) return;
  hideError();
  clearFollowups();
  const attached = uploads.take();
  const turn = appendTurn({ query, files: attached.map((f) => f.shown) });
  turn.bubble.classList.add("streaming");
  if (!text) $("query").value = "";
  autosize();
  showStart(false);
  toBottom();
  const run = { turn, controller: new AbortController(), taskId: null, stopRequested: false, conversationId: session.conversationId };
  session.run = run;
  setRunning(true);
  try {
    const response = await session.api.request("/chat-messages", {
      method: "POST",
      json: {
        inputs: collectInputs(),
        query,
        user: session.user,
        response_mode: "streaming",
        conversation_id: session.conversationId || "",
        files: attached.map((f) => f.request),
      },
      signal: run.controller.signal,
      stream: true,
    });
    await readFrames(response, (frame) => onFrame(run, frame));
  } catch (error) {
    if (error.name !== "AbortError") {
      if (error instanceof ApiError && error.status === 401) showError(error);
      setTurnError(turn, error);
    }
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

function requestStop(run) {
  run.controller.abort();
  session.api
    .request(`/chat-messages/${encodeURIComponent(run.taskId)}/stop`, { method: "POST", json: { user: session.user } })
    .catch(showError);
}

function finish(run) {
  if (run.finished) return;
  run.finished = true;
  const turn = run.turn;
  turn.bubble.classList.remove("streaming");
  renderAnswer(turn);
  // Screen readers hear the finished answer once, not every streamed word.
  $("announcer").textContent = turn.error ? describe(turn.error) : turn.answer.slice(0, 500);
  if (turn.stopped) setStatus(turn, "Stopped");
  else if (!turn.answer && !turn.error) setStatus(turn, "(no answer)");
  else setStatus(turn, "");
  if (session.run === run) {
    session.run = null;
    setRunning(false);
  }
  const created = run.conversationId === null ? session.conversationId : null;
  if (created) sidebar.awaitName(created);
  else sidebar.refresh();
  const followups = session.params?.suggested_questions_after_answer?.enabled;
  if (followups && !turn.error && !turn.stopped && turn.messageId) loadSuggestions(turn);
}

// ---- conversations -------------------------------------------------------------------

function resetThread() {
  $("messages").replaceChildren();
  $("load-earlier").hidden = true;
  session.firstId = null;
  session.lastTurn = null;
  hideError();
}

function newChat() {
  stop();
  session.conversationId = null;
  if (session.api) storage.remove(conversationStore());
  resetThread();
  showStart(true);
  sidebar.render();
  sidebar.close();
  $("query").focus();
}

async function openConversation(id, { restoring = false } = {}) {
  stop();
  sidebar.close();
  let page;
  try {
    page = await session.api.request("/messages", { query: { conversation_id: id, user: session.user, limit: 50 } });
  } catch (error) {
    if (!restoring) showError(error);
    if (restoring || (error instanceof ApiError && error.status === 404)) newChat();
    return;
  }
  session.conversationId = id;
  storage.set(conversationStore(), id);
  resetThread();
  showStart(false);
  for (const message of page.data) {
    const turn = historyTurn(message);
    $("messages").append(turn.userItem, turn.botItem);
    session.lastTurn = turn;
  }
  session.firstId = page.data[0]?.id ?? null;
  $("load-earlier").hidden = !page.has_more;
  sidebar.render();
  toBottom();
}

async function loadEarlier() {
  if (!session.firstId || !session.conversationId) return;
  try {
    const page = await session.api.request("/messages", {
      query: { conversation_id: session.conversationId, user: session.user, first_id: session.firstId, limit: 50 },
    });
    const before = thread().scrollHeight;
    const items = page.data.flatMap((message) => {
      const turn = historyTurn(message);
      return [turn.userItem, turn.botItem];
    });
    $("messages").prepend(...items);
    thread().scrollTop += thread().scrollHeight - before; // keep the reader's place
    session.firstId = page.data[0]?.id ?? session.firstId;
    $("load-earlier").hidden = !page.has_more;
  } catch (error) {
    showError(error);
  }
}

// ---- start-up ------------------------------------------------------------------------

async function connect(key) {
  const api = new Api(key);
  const query = { query: { user: session.user } };
  let info, params, site;
  try {
    [info, params, site] = await Promise.all([
      api.request("/info", query),
      api.request("/parameters", query),
      api.request("/site", query),
    ]);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) askKey("That key was not accepted. Check it and try again.");
    else showError(error);
    return;
  }
  if ($("key-dialog").open) $("key-dialog").close();
  stop();
  session.api = api;
  session.params = params;
  storage.set(KEY_STORE, key);
  hideError();
  renderApp(info, params, site);
  document.body.classList.add("ready");
  await sidebar.refresh();
  const saved = storage.get(conversationStore());
  if (saved) await openConversation(saved, { restoring: true });
  else newChat();
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
  $("new-chat").addEventListener("click", newChat);
  $("load-earlier").addEventListener("click", loadEarlier);
  $("error-close").addEventListener("click", hideError);
  $("change-key").addEventListener("click", () => askKey());
  $("inputs-form").addEventListener("submit", (event) => {
    event.preventDefault();
    $("query").focus();
  });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("key-input").value.trim();
    if (key) connect(key);
  });
  // Without a working key there is nothing behind the dialog to go back to.
  $("key-dialog").addEventListener("cancel", (event) => session.api || event.preventDefault());
  window.addEventListener("hashchange", () => {
    const key = keyFromFragment();
    if (key) connect(key);
  });
}

session.user = browserUser();
bindUi();
const initialKey = keyFromFragment() || storage.get(KEY_STORE);
if (initialKey) connect(initialKey);
else askKey();
