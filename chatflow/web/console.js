// The operator console at `/console`: sign in (HttpOnly session cookie; the CSRF token
// is kept in memory only and sent as `X-CSRF-Token` on writes), then four sections:
// apps (import a DSL by drag and drop with missing tools and datasets mapped, the graph
// drawn, the chat site on or off, API keys, every user's conversations, workflow runs with
// their node timelines, annotations), knowledge (console_knowledge.js), tools
// (console_tools.js) and model backends (console_models.js).

import { ApiError } from "./api.js";
import { $, h } from "./dom.js";
import { showAnnotations } from "./console_annotations.js";
import { call, fail, session, tabs, when } from "./console_call.js";
import { showKnowledge } from "./console_knowledge.js";
import { showModels } from "./console_models.js";
import { mapToolForms, showTools } from "./console_tools.js";

const state = { apps: [], app: null };

// ---- sign-in ---------------------------------------------------------------------

function showLogin(message = "") {
  $("console-view").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = message;
  $("login-user").focus();
  document.body.classList.add("ready");
}

session.onSignedOut = () => showLogin();

async function signedIn(me) {
  session.csrf = me.csrf_token;
  $("who").textContent = `Signed in as ${me.username}`;
  $("login-view").hidden = true;
  $("console-view").hidden = false;
  await loadApps();
  document.body.classList.add("ready");
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const me = await call("/login", {
      method: "POST",
      json: { username: $("login-user").value, password: $("login-pass").value },
    });
    $("login-pass").value = "";
    await signedIn(me);
  } catch (error) {
    showLogin(error.message);
  }
});

$("logout").addEventListener("click", async () => {
  try {
    await call("/logout", { method: "POST" });
  } catch {
    // signed out either way
  }
  session.csrf = "";
  showLogin();
});

// ---- apps ------------------------------------------------------------------------

async function loadApps(selectId = state.app?.id) {
  try {
    state.apps = (await call("/apps")).data;
  } catch (error) {
    fail(error);
    return;
  }
  $("app-list").replaceChildren(
    ...state.apps.map((app) =>
      h(
        "li",
        {},
        h("button", {
          class: "app-link", type: "button", "data-id": app.id,
          onclick: () => openApp(app.id),
        }, `${app.icon || ""} ${app.name}`.trim()),
      ),
    ),
  );
  if (selectId) openApp(selectId);
}

async function importFile(file) {
  $("import-result").textContent = `Importing ${file.name}…`;
  try {
    const result = await call("/apps/import", { method: "POST", json: { dsl: await file.text() } });
    const lines = [`${result.created ? "Created" : "Updated"} ${result.name}.`];
    if (result.api_key) lines.push(`Its API key (shown once): ${result.api_key}`);
    $("import-result").replaceChildren(...lines.map((line) => h("p", {}, line)));
    if (result.missing_tools.length) await mapToolForms(result.app_id, $("import-result"));
    if (result.unmapped_datasets.length) await mappingForms(result.app_id, result.unmapped_datasets);
    await loadApps(result.app_id);
  } catch (error) {
    $("import-result").textContent = `Import failed: ${error.message}`;
  }
}

let mapForms = 0;

/** One small form per dataset reference that matches no dataset here: pick one, map it. */
async function mappingForms(appId, refs) {
  const { data } = await call("/datasets");
  const forms = refs.map((ref) => {
    const id = `map-${(mapForms += 1)}`;
    const select = h("select", { id }, h("option", { value: "" }, "— choose —"),
      data.map((d) => h("option", { value: d.id }, d.name)));
    const form = h("form", { class: "map-form" },
      h("label", { for: id }, `Dataset for ${ref}`), select,
      h("button", { class: "btn ghost", type: "submit" }, "Map"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!select.value) return;
      try {
        const left = await call(`/apps/${appId}/datasets`, { method: "PUT", json: { ref, dataset: select.value } });
        form.replaceWith(h("p", {}, `Mapped ${ref}. ${left.unmapped_datasets.length} left unmapped.`));
      } catch (error) {
        fail(error);
      }
    });
    return form;
  });
  $("import-result").append(
    h("p", {}, data.length ? "Unmapped datasets (knowledge nodes fail until mapped):"
      : "Unmapped datasets; create datasets first (Knowledge API or `chatflow kb create`)."),
    ...(data.length ? forms : refs.map((ref) => h("p", {}, ref))),
  );
}

const zone = $("drop-zone");
zone.addEventListener("dragover", (event) => {
  event.preventDefault();
  zone.classList.add("over");
});
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  zone.classList.remove("over");
  for (const file of event.dataTransfer.files) importFile(file);
});
zone.addEventListener("click", () => $("dsl-file").click());
zone.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    $("dsl-file").click();
  }
});
$("dsl-file").addEventListener("change", () => {
  for (const file of $("dsl-file").files) importFile(file);
  $("dsl-file").value = "";
});

function openApp(id) {
  const app = state.apps.find((a) => a.id === id);
  if (!app) return;
  state.app = app;
  $("console-error").hidden = true;
  for (const button of document.querySelectorAll(".app-link")) {
    if (button.dataset.id === id) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  $("no-app").hidden = true;
  $("app-view").hidden = false;
  $("app-title").textContent = app.name;
  $("app-meta").textContent = `${app.mode} · ${app.id}`;
  renderSite(app.site);
  renderKeys(app);
  $("metrics").replaceChildren(); // not the previous app's while this one's load
  $("graph").replaceChildren();
  selectTab("overview");
  drawGraph(app.id);
  drawMetrics(app.id);
}

function renderSite(site) {
  $("site-enabled").checked = Boolean(site?.enabled);
  $("site-operator-login").checked = Boolean(site?.operator_login);
  const url = site ? `${window.location.origin}/chat/${site.code}` : "";
  $("site-link").textContent = site?.enabled ? url : "";
  $("site-link").href = site?.enabled ? url : "#";
  $("site-link").hidden = !site?.enabled;
}

async function saveSite() {
  try {
    const json = { enabled: $("site-enabled").checked, operator_login: $("site-operator-login").checked };
    const site = await call(`/apps/${state.app.id}/site`, { method: "PUT", json });
    state.app.site = { ...(state.app.site || {}), ...site };
    renderSite(state.app.site);
  } catch (error) {
    fail(error);
  }
}

$("site-enabled").addEventListener("change", saveSite);
$("site-operator-login").addEventListener("change", saveSite);

// ---- sections and tabs -----------------------------------------------------------

const SECTIONS = { apps: () => {}, knowledge: showKnowledge, tools: showTools, models: showModels };

function showSection(name) {
  for (const section of Object.keys(SECTIONS)) {
    $(`section-${section}`).hidden = section !== name;
    if (section === name) $(`nav-${section}`).setAttribute("aria-current", "page");
    else $(`nav-${section}`).removeAttribute("aria-current");
  }
  $("console-error").hidden = true;
  SECTIONS[name]();
}

for (const section of Object.keys(SECTIONS)) {
  $(`nav-${section}`).addEventListener("click", () => showSection(section));
}

const selectTab = tabs(["overview", "keys", "conversations", "runs", "annotations"], "", (name) => {
  if (name === "conversations") loadConversations();
  if (name === "runs") loadRuns();
  if (name === "annotations") showAnnotations(state.app.id);
});

// ---- graph -------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 200;
const NODE_H = 56;

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

async function drawGraph(id) {
  let graph;
  try {
    graph = await call(`/apps/${id}/graph`);
  } catch (error) {
    fail(error);
    return;
  }
  if (state.app?.id !== id) return;
  const xs = graph.nodes.map((n) => n.x);
  const ys = graph.nodes.map((n) => n.y);
  // The editor's coordinates, framed around the nodes themselves.
  const minX = (xs.length ? Math.min(...xs) : 0) - 20;
  const minY = (ys.length ? Math.min(...ys) : 0) - 20;
  const width = (xs.length ? Math.max(...xs) : 0) - minX + NODE_W + 20;
  const height = (ys.length ? Math.max(...ys) : 0) - minY + NODE_H + 20;
  const at = new Map(graph.nodes.map((n) => [n.id, n]));
  const edges = graph.edges
    .filter((e) => at.has(e.source) && at.has(e.target))
    .map((e) => {
      const a = at.get(e.source);
      const b = at.get(e.target);
      const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
      const mid = (x1 + x2) / 2;
      return svg("path", { class: "edge", d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` });
    });
  const nodes = graph.nodes.map((n) =>
    svg(
      "g",
      { class: `node type-${n.type}`, transform: `translate(${n.x},${n.y})` },
      svg("title", {}, `${n.title} (${n.type})`),
      svg("rect", { width: NODE_W, height: NODE_H, rx: 10 }),
      svg("text", { x: 12, y: 24, class: "node-title" }, n.title.slice(0, 24)),
      svg("text", { x: 12, y: 44, class: "node-type" }, n.type),
    ),
  );
  const labels = graph.nodes.map((n) => `${n.title} (${n.type})`).join(", ");
  $("graph").replaceChildren(
    svg(
      "svg",
      { viewBox: `${minX} ${minY} ${width} ${height}`, role: "img",
        "aria-label": `Graph of ${graph.nodes.length} nodes and ${graph.edges.length} edges: ${labels}` },
      svg("g", {}, ...edges),
      svg("g", {}, ...nodes),
    ),
  );
}

// ---- metrics ------------------------------------------------------------------------

const METRICS = [
  ["runs", "Runs", (v) => String(v)],
  ["errors", "Errors", (v) => String(v)],
  ["tokens", "Tokens", (v) => String(v)],
  ["latency", "Mean latency (s)", (v) => v.toFixed(2)],
];

function barChart(days, key, title, format) {
  const values = days.map((d) => d[key]);
  const max = Math.max(...values, 1e-9);
  const width = 280, height = 90, gap = 2;
  const bar = (width - gap * (values.length - 1)) / values.length;
  const total = key === "latency"
    ? format(values.filter((v) => v > 0).reduce((a, b) => a + b, 0) / Math.max(values.filter((v) => v > 0).length, 1))
    : format(values.reduce((a, b) => a + b, 0));
  const bars = values.map((v, i) =>
    svg("rect", { class: `bar bar-${key}`, x: i * (bar + gap), y: height - (v / max) * height, width: bar,
      height: (v / max) * height }, svg("title", {}, `${days[i].date}: ${format(v)}`)),
  );
  const label = `${title}: ${total} over ${days.length} days; per day ${values.map(format).join(", ")}`;
  return h("figure", { class: "metric" },
    h("figcaption", {}, h("span", { class: "muted small" }, title), h("strong", { class: "metric-total" }, total)),
    svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label }, ...bars));
}

async function drawMetrics(id) {
  try {
    const { days } = await call(`/apps/${id}/metrics?days=14`);
    if (state.app?.id !== id) return;
    $("metrics").replaceChildren(...METRICS.map(([key, title, format]) => barChart(days, key, title, format)));
  } catch (error) {
    fail(error);
  }
}

// ---- keys --------------------------------------------------------------------------

function renderKeys(app) {
  $("new-key").replaceChildren();
  $("keys").replaceChildren(
    ...app.keys.map((key) =>
      h(
        "tr",
        {},
        h("td", {}, h("code", {}, `${key.prefix}…`)),
        h("td", {}, when(key.created_at)),
        h("td", {}, when(key.last_used_at)),
        h("td", {}, h("button", {
          class: "btn ghost", type: "button", "aria-label": `Revoke key ${key.prefix}…`,
          onclick: () => revokeKey(key),
        }, "Revoke")),
      ),
    ),
  );
}

$("create-key").addEventListener("click", async () => {
  try {
    const key = await call(`/apps/${state.app.id}/keys`, { method: "POST" });
    await loadApps(state.app.id);
    $("new-key").replaceChildren(
      h("p", {}, "New key (shown only now): ", h("code", { class: "token" }, key.token)),
    );
    selectTab("keys");
  } catch (error) {
    fail(error);
  }
});

async function revokeKey(key) {
  if (!window.confirm(`Revoke ${key.prefix}…? Clients using it stop working at once.`)) return;
  try {
    await call(`/apps/${state.app.id}/keys/${key.id}`, { method: "DELETE" });
    await loadApps(state.app.id);
    selectTab("keys");
  } catch (error) {
    fail(error);
  }
}

// ---- conversations and runs --------------------------------------------------------

/** A list that pages: the first page replaces it, "Load more" appends the next. */
async function pagedList(listId, path, page, item, empty) {
  const list = $(listId);
  try {
    const result = await call(`${path}?page=${page}`);
    if (page === 1) list.replaceChildren();
    list.querySelector(".more")?.remove();
    list.append(...result.data.map(item));
    if (page === 1 && !result.data.length) list.append(h("li", { class: "muted" }, empty));
    if (result.has_more) {
      list.append(h("li", { class: "more" }, h("button", {
        class: "btn ghost", type: "button", onclick: () => pagedList(listId, path, page + 1, item, empty),
      }, "Load more")));
    }
  } catch (error) {
    fail(error);
  }
}

function loadConversations() {
  $("conv-messages").replaceChildren();
  return pagedList("conv-list", `/apps/${state.app.id}/conversations`, 1, (c) =>
    h("li", {}, h("button", { class: "link-btn", type: "button", onclick: () => showMessages(c) },
      `${c.name || "(unnamed)"} · ${c.dialogue_count} turns · ${when(c.updated_at)}`)),
  "No conversations yet.");
}

async function showMessages(conversation) {
  try {
    const { data } = await call(`/apps/${state.app.id}/conversations/${conversation.id}/messages`);
    $("conv-messages").replaceChildren(
      ...data.map((m) =>
        h("li", { class: "console-msg" },
          h("p", {}, h("strong", {}, "Q: "), m.query),
          h("p", {}, h("strong", {}, "A: "), m.answer || (m.error ? `(error) ${m.error}` : "")),
          h("p", { class: "muted small" }, `${m.status} · ${when(m.created_at)}`)),
      ),
    );
  } catch (error) {
    fail(error);
  }
}

function loadRuns() {
  $("run-detail").replaceChildren();
  return pagedList("run-list", `/apps/${state.app.id}/runs`, 1, (r) =>
    h("li", {}, h("button", { class: "link-btn", type: "button", onclick: () => showRun(r.id) },
      `${r.status} · ${r.elapsed_time.toFixed(2)} s · ${r.total_tokens} tokens · ${when(r.created_at)}`)),
  "No runs yet.");
}

const pretty = (value) => JSON.stringify(value, null, 2);

async function showRun(id) {
  try {
    const run = await call(`/apps/${state.app.id}/runs/${id}`);
    $("run-detail").replaceChildren(
      h("h3", {}, `Run ${run.status}`),
      h("p", { class: "step-error", hidden: !run.error }, run.error || ""),
      h("ol", { class: "timeline", "aria-label": "Node timeline" },
        run.nodes.map((n) =>
          h("li", { class: `step ${n.status}` },
            h("details", {},
              h("summary", {}, h("span", { class: "step-title" }, n.title || n.node_id),
                h("span", { class: "muted small" }, ` ${n.node_type}`),
                h("span", { class: "step-status small" }, ` ${n.status}`),
                h("span", { class: "muted small" }, ` · ${n.elapsed_time.toFixed(2)} s`)),
              n.error ? h("p", { class: "step-error small" }, n.error) : null,
              n.inputs ? h("div", { class: "small" }, "Inputs", h("pre", { tabindex: 0 }, pretty(n.inputs))) : null,
              n.outputs ? h("div", { class: "small" }, "Outputs", h("pre", { tabindex: 0 }, pretty(n.outputs))) : null))),
      ),
    );
  } catch (error) {
    fail(error);
  }
}

// ---- start ---------------------------------------------------------------------------

(async () => {
  try {
    await signedIn(await call("/me"));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) showLogin();
    else fail(error);
  }
})();
