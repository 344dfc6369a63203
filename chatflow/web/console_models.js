// Model backends in the console, read-only: they come from settings, so each value shows
// the variable that changes it; plus this worker's embedded-model queue.

import { $, h } from "./dom.js";
import { call, fail } from "./console_call.js";

const shown = (value) => (value === null || value === undefined || value === "" ? "—" : String(value));

function table(caption, head, rows) {
  return h("table", { class: "grid" }, h("caption", {}, caption),
    h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows));
}

export async function showModels() {
  let models;
  try {
    models = await call("/models");
  } catch (error) {
    fail(error);
    return;
  }
  const { queue } = models;
  $("model-queue").replaceChildren(
    h("span", { class: "metric-total", id: "queue-waiting" }, String(queue.waiting)),
    h("span", {}, ` waiting · ${queue.generating} generating on the embedded model in this worker; `
      + `new runs are refused past ${queue.max} waiting (`, h("code", {}, queue.setting), ")."),
  );
  const groups = models.groups.map((group) =>
    h("section", { class: "card model-group", "data-group": group.id },
      table(group.title, ["Setting", "Value", "Variable"],
        group.rows.map((row) => h("tr", {}, h("td", {}, row.label), h("td", { class: "cell-text" }, shown(row.value)),
          h("td", {}, h("code", {}, row.setting))))),
      group.status ? h("p", { class: "small" }, "Status: ", h("strong", {}, group.status)) : null));
  const map = models.model_map;
  groups.push(h("section", { class: "card model-group", "data-group": "model-map" },
    map.error ? h("p", { class: "step-error small" }, map.error) : null,
    table("Model map (DSL model → backend)", ["Pattern", "Backend", "Model", "Base URL", "API key"],
      map.entries.length ? map.entries.map((e) => h("tr", {}, h("td", {}, h("code", {}, e.pattern)),
        h("td", {}, e.backend), h("td", {}, shown(e.model)), h("td", {}, shown(e.base_url)), h("td", {}, e.api_key)))
        : [h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No entries: every DSL model uses the default backend."))]),
    h("p", { class: "muted small" }, "Set by ", h("code", {}, map.setting), " (JSON, or a path to a JSON file).")));
  $("model-groups").replaceChildren(...groups);
}
