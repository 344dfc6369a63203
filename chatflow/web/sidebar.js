// The conversation list: `GET /api/conversations` (newest first, 100 a page, "Load
// more" for the rest), a search over the loaded ones, open, rename in place
// (`POST /api/conversations/{id}/name`) and delete (`DELETE /api/conversations/{id}`).
// On narrow screens the list slides over the chat; the menu button or Esc closes it.

import { $, h, icon } from "./dom.js";

// Our server and Dify name a conversation this until the model has named it.
export const PLACEHOLDER_NAME = "New conversation";

const PAGE = 100;
// How long a new conversation's name is waited for (the server names it after the turn).
const NAME_WAIT_MS = 120_000;

export function createSidebar({ session, onOpen, onDeleted, onError }) {
  let conversations = [];
  let hasMore = false;
  let failed = false;

  function setOpen(open) {
    document.body.classList.toggle("sidebar-open", open);
    $("scrim").hidden = !open;
    const toggle = $("toggle-sidebar");
    toggle.setAttribute("aria-expanded", String(open));
    const list = document.body.classList.contains("workflow-app") ? "past runs" : "conversations";
    toggle.setAttribute("aria-label", `${open ? "Hide" : "Show"} ${list}`);
  }

  $("toggle-sidebar").addEventListener("click", () =>
    setOpen(!document.body.classList.contains("sidebar-open")),
  );
  $("scrim").addEventListener("click", () => setOpen(false));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.body.classList.contains("sidebar-open") && !event.defaultPrevented) {
      setOpen(false);
      $("toggle-sidebar").focus();
    }
  });

  function item(conversation) {
    const name = conversation.name || PLACEHOLDER_NAME;
    const active = conversation.id === session.conversationId;
    const open = h(
      "button",
      {
        class: "conv-open",
        type: "button",
        title: name,
        "aria-current": active ? "true" : null,
        onclick: () => onOpen(conversation.id),
      },
      name,
    );
    const li = h("li", { class: active ? "conv active" : "conv", "data-id": conversation.id });
    const rename = h(
      "button",
      {
        class: "icon-btn small",
        type: "button",
        "aria-label": `Rename conversation ${name}`,
        title: "Rename",
        onclick: () => startRename(li, conversation),
      },
      icon("edit"),
    );
    const remove = h(
      "button",
      {
        class: "icon-btn small",
        type: "button",
        "aria-label": `Delete conversation ${name}`,
        title: "Delete",
        onclick: () => removeConversation(conversation),
      },
      icon("trash"),
    );
    li.append(open, h("div", { class: "conv-actions" }, rename, remove));
    return li;
  }

  // While a rename field is open the list is not redrawn (a refresh, such as the poll
  // for a new conversation's name, would throw away what is being typed); it is redrawn
  // once the rename ends.
  let editing = false;

  function render() {
    if (editing) return;
    const needle = $("conv-search").value.trim().toLowerCase();
    const shown = needle
      ? conversations.filter((c) => (c.name || PLACEHOLDER_NAME).toLowerCase().includes(needle))
      : conversations;
    $("conversations").replaceChildren(...shown.map(item));
    $("conversations-failed").hidden = !failed;
    $("conversations-empty").hidden = failed || shown.length > 0;
    $("conversations-empty").textContent = needle ? "No conversation matches." : "No conversations yet.";
    $("conversations-more").hidden = failed || !hasMore;
  }

  /** Reload the first page; conversations loaded beyond it (by "Load more") stay. */
  async function refresh() {
    try {
      const page = await session.api.request("/conversations", { query: { limit: PAGE } });
      const first = new Set(page.data.map((c) => c.id));
      const extra = conversations.length > PAGE ? conversations.filter((c) => !first.has(c.id)) : [];
      conversations = [...page.data, ...extra];
      if (extra.length === 0) hasMore = page.has_more;
      failed = false;
    } catch (error) {
      failed = conversations.length === 0;
      onError(error);
    }
    render();
    return conversations;
  }

  async function loadMore() {
    const last = conversations.at(-1);
    if (!last) return;
    try {
      const page = await session.api.request("/conversations", { query: { limit: PAGE, last_id: last.id } });
      const known = new Set(conversations.map((c) => c.id));
      conversations.push(...page.data.filter((c) => !known.has(c.id)));
      hasMore = page.has_more;
      render();
    } catch (error) {
      onError(error);
    }
  }

  $("conversations-more").addEventListener("click", loadMore);
  $("conversations-retry").addEventListener("click", refresh);
  $("conv-search").addEventListener("input", render);

  /** Show a conversation at the top at once (a new chat, before its first answer ends). */
  function upsert(conversation) {
    if (!conversations.some((c) => c.id === conversation.id)) conversations.unshift(conversation);
    render();
  }

  function startRename(li, conversation) {
    const input = h("input", {
      class: "rename-input",
      type: "text",
      maxlength: 100,
      "aria-label": "New conversation name",
    });
    input.value = conversation.name || "";
    const form = h("form", { class: "rename-form" }, input);
    let settled = false;
    const cancel = (refocus = false) => {
      if (settled) return;
      settled = true;
      editing = false;
      render();
      if (refocus) {
        const selector = `[data-id="${CSS.escape(conversation.id)}"] .conv-open`;
        $("conversations").querySelector(selector)?.focus();
      }
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = input.value.trim();
      if (settled) return;
      if (!name || name === conversation.name) return cancel();
      settled = true;
      editing = false;
      try {
        await session.api.request(`/conversations/${encodeURIComponent(conversation.id)}/name`, {
          method: "POST",
          json: { name, auto_generate: false },
        });
      } catch (error) {
        onError(error);
      }
      await refresh();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        cancel(true);
      }
    });
    // Leaving the field keeps what was typed, as renaming in a file manager does.
    input.addEventListener("blur", () => form.requestSubmit());
    li.replaceChildren(form);
    editing = true;
    input.focus();
    input.select();
  }

  async function removeConversation(conversation) {
    const name = conversation.name || PLACEHOLDER_NAME;
    if (!window.confirm(`Delete the conversation “${name}”? This cannot be undone.`)) return;
    try {
      await session.api.request(`/conversations/${encodeURIComponent(conversation.id)}`, {
        method: "DELETE",
      });
    } catch (error) {
      onError(error);
      return;
    }
    conversations = conversations.filter((c) => c.id !== conversation.id);
    render();
    onDeleted(conversation.id);
  }

  /** Poll until the server has named a new conversation (it does so after the turn, as
   * long as the model takes), backing off from 0.5 s to 5 s; gives up after two minutes. */
  async function awaitName(id) {
    const deadline = Date.now() + NAME_WAIT_MS;
    for (let wait = 500; Date.now() < deadline; wait = Math.min(wait * 2, 5000)) {
      const found = (await refresh()).find((c) => c.id === id);
      if (!found || (found.name && found.name !== PLACEHOLDER_NAME)) return;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** Name a conversation after its question (a first turn that failed gets no name). */
  async function nameAfter(id, query) {
    const name = query.replace(/\s+/g, " ").trim().slice(0, 40) || PLACEHOLDER_NAME;
    try {
      await session.api.request(`/conversations/${encodeURIComponent(id)}/name`, {
        method: "POST",
        json: { name, auto_generate: false },
      });
    } catch {
      // the entry keeps its placeholder; nothing else depends on the name
    }
    await refresh();
  }

  return { refresh, render, awaitName, nameAfter, upsert, close: () => setOpen(false) };
}
