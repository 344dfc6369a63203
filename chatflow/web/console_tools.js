// Tools in the console: every provider that runs here with its tools (built-in, OpenAPI,
// MCP), adding an OpenAPI provider (schema URL or text) or an MCP server (URL) with an
// optional credential header, removing those; and, for an imported app, a form per
// missing tool reference that maps it to a tool here (kept as `chatflow tools map` keeps it).

import { $, h } from "./dom.js";
import { call, confirmed, fail } from "./console_call.js";

const KINDS = { builtin: "built-in", openapi: "OpenAPI", mcp: "MCP" };

export async function showTools() {
  let providers;
  try {
    providers = (await call("/tools")).data;
  } catch (error) {
    fail(error);
    return;
  }
  $("tool-providers").replaceChildren(...providers.map(providerItem));
}

function providerItem(p) {
  const headers = Object.entries(p.headers || {}).map(([k, v]) => `${k}: ${v}`).join(", ");
  return h("li", { class: "provider", "data-id": p.id },
    h("details", {},
      h("summary", {},
        h("strong", {}, p.label),
        h("span", { class: `badge kind-${p.kind}` }, KINDS[p.kind] || p.kind),
        h("span", { class: "muted small" }, ` ${p.tools.length} tools`),
        p.needs ? h("span", { class: "needs small" }, ` needs ${p.needs}`) : null),
      p.source ? h("p", { class: "muted small" }, `Source: ${p.source}`) : null,
      headers ? h("p", { class: "muted small" }, `Headers: ${headers}`) : null,
      p.aliases.length ? h("p", { class: "muted small" }, `Also answers to: ${p.aliases.join(", ")}`) : null,
      h("ul", { class: "tool-names small" },
        p.tools.map((t) => h("li", {}, h("code", {}, `${p.id}:${t.name}`), t.description ? ` ${t.description}` : ""))),
      p.kind === "builtin" ? null : h("button", {
        class: "btn ghost", type: "button", "aria-label": `Remove provider ${p.id}`,
        onclick: () => removeProvider(p.id),
      }, "Remove")));
}

async function removeProvider(id) {
  if (!confirmed(`Remove the tool provider ${id}? Apps that use it fail at its nodes.`)) return;
  try {
    await call(`/tools/${encodeURIComponent(id)}`, { method: "DELETE" });
    await showTools();
  } catch (error) {
    fail(error);
  }
}

function headerOf(prefix) {
  const name = $(`${prefix}-header-name`).value.trim();
  return name ? { [name]: $(`${prefix}-header-value`).value } : {};
}

async function addProvider(event, prefix, path, body) {
  event.preventDefault();
  const result = $(`${prefix}-result`);
  const button = event.target.querySelector("button[type=submit]");
  result.textContent = prefix === "mcp" ? "Connecting and listing its tools…" : "Reading the schema…";
  result.classList.remove("step-error");
  button.disabled = true;
  try {
    const added = await call(path, { method: "POST", json: body });
    result.textContent = `Added ${added.name}: ${added.tools.length} tools (${added.tools.join(", ")}).`;
    event.target.reset();
    await showTools();
  } catch (error) {
    result.textContent = `Not added: ${error.message}`;
    result.classList.add("step-error");
  } finally {
    button.disabled = false;
  }
}

$("openapi-form").addEventListener("submit", (event) => addProvider(event, "openapi", "/tools/openapi", {
  name: $("openapi-name").value.trim(), url: $("openapi-url").value.trim(),
  schema: $("openapi-schema").value, headers: headerOf("openapi"),
}));
$("mcp-form").addEventListener("submit", (event) => addProvider(event, "mcp", "/tools/mcp", {
  name: $("mcp-name").value.trim(), url: $("mcp-url").value.trim(), headers: headerOf("mcp"),
}));

// ---- missing tools at import -----------------------------------------------------------

let mapForms = 0;

/** A form per missing tool reference of the app: choose a tool here, map it. */
export async function mapToolForms(appId, container) {
  let missing, providers;
  try {
    [{ missing_tools: missing }, { data: providers }] = await Promise.all([
      call(`/apps/${appId}/tools`), call("/tools"),
    ]);
  } catch (error) {
    fail(error);
    return;
  }
  if (!missing.length) return;
  const usable = providers.filter((p) => !p.needs && p.tools.length);
  const forms = missing.map((ref) => {
    const id = `tool-map-${(mapForms += 1)}`;
    const select = h("select", { id, required: true }, h("option", { value: "" }, "— choose a tool —"),
      usable.map((p) => h("optgroup", { label: `${p.label} (${KINDS[p.kind] || p.kind})` },
        p.tools.map((t) => h("option", { value: `${p.id}:${t.name}` }, `${p.id}:${t.name}`)))));
    const form = h("form", { class: "map-form" },
      h("label", { for: id }, `Tool for ${ref.provider}/${ref.tool} (node ${ref.node})`),
      h("p", { class: "muted small" }, ref.problem),
      select,
      h("button", { class: "btn ghost", type: "submit", "aria-label": `Map ${ref.provider}/${ref.tool}` }, "Map tool"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!select.value) return;
      try {
        const left = await call(`/apps/${appId}/tools`, {
          method: "PUT", json: { provider: ref.provider, tool: ref.tool, target: select.value },
        });
        form.replaceWith(h("p", { class: "mapped" },
          `Mapped ${ref.provider}/${ref.tool} to ${select.value}. ${left.missing_tools.length} tools left to map.`));
      } catch (error) {
        fail(error);
      }
    });
    return form;
  });
  container.append(h("p", {}, `Missing tools (their nodes fail until mapped to a tool here):`), ...forms);
}
