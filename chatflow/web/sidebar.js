// The conversation list: `GET /conversations` (newest first), open, rename in place
// (`POST /conversations/{id}/name`) and delete (`DELETE /conversations/{id}`).
// On narrow screens the list slides over the chat and the menu button toggles it.

import { $, h, icon } from "./dom.js";

// Our server and Dify name a conversation this until the model has named it.
export const PLACEHOLDER_NAME = "New conversation";

export function createSidebar({ session, onOpen, onDeleted, onError }) {
  let conversations = [];

  function setOpen(open) {
    document.body.classList.toggle("sidebar-open", open);
    $("scrim").hidden = !open;
    const toggle = $("toggle-sidebar");
    toggle.setAttribute("aria-expanded", String(open));
    toggle.setAttribute("aria-label", open ? "Hide conversations" : "Show conversations");
  }

  $("toggle-sidebar").addEventListener("click", () =>
    setOpen(!document.body.classList.contains("sidebar-open")),
  );
  $("scrim").addEventListener("click", () => setOpen(false));
  $("sidebar").addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.body.classList.contains("sidebar-open")) {
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
    $("conversations").replaceChildren(...conversations.map(item));
    $("conversations-empty").hidden = conversations.length > 0;
  }

  async function refresh() {
    try {
      const page = await session.api.request("/conversations", {
        query: { user: session.user, limit: 100 },
      });
      conversations = page.data;
      render();
    } catch (error) {
      onError(error);
    }
    return conversations;
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
          json: { name, user: session.user, auto_generate: false },
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
        json: { user: session.user },
      });
    } catch (error) {
      onError(error);
      return;
    }
    conversations = conversations.filter((c) => c.id !== conversation.id);
    render();
    onDeleted(conversation.id);
  }

  /** Poll briefly until the server has named a new conversation (it does so after the turn). */
  async function awaitName(id) {
    for (let attempt = 0; attempt < 6; attempt += 1) {
      const found = (await refresh()).find((c) => c.id === id);
      if (!found || found.name !== PLACEHOLDER_NAME) return;
      await new Promise((resolve) => setTimeout(resolve, 700));
    }
  }

  return { refresh, render, awaitName, close: () => setOpen(false) };
}
