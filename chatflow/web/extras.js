// What an answer carries besides its text: citations (`retriever_resources`) and, when
// the site shows workflow steps, the run's trace built from the stream's node frames
// (nodes as a timeline with status, time, inputs and outputs; iterations folded).

import { h } from "./dom.js";

export function renderCitations(container, resources) {
  if (!resources || resources.length === 0) {
    container.replaceChildren();
    return;
  }
  const items = resources.map((r) =>
    h(
      "li",
      { class: "citation" },
      h("strong", {}, r.document_name || "Document"),
      r.dataset_name ? h("span", { class: "muted small" }, ` · ${r.dataset_name}`) : null,
      typeof r.score === "number" ? h("span", { class: "muted small" }, ` · score ${r.score.toFixed(2)}`) : null,
      r.content ? h("p", { class: "citation-text small" }, r.content) : null,
    ),
  );
  const count = resources.length === 1 ? "1 source" : `${resources.length} sources`;
  container.replaceChildren(
    h("details", { class: "citations" }, h("summary", {}, `Citations: ${count}`), h("ol", {}, items)),
  );
}

const pretty = (value) => JSON.stringify(value, null, 2);

/** A run's node frames, folded into a timeline. */
export class Trace {
  constructor() {
    this.steps = new Map(); // node execution id -> step
    this.order = [];
  }

  /** Take one stream frame; true when the trace changed. */
  add(frame) {
    const data = frame.data || {};
    if (frame.event === "agent_log") return this.addLog(data);
    if (!["node_started", "node_finished", "iteration_started", "iteration_completed",
      "loop_started", "loop_completed"].includes(frame.event)) return false;
    const id = data.id || `${data.node_id}`;
    let step = this.steps.get(id);
    if (!step) {
      step = { id, nodeId: data.node_id, title: data.title || data.node_id, type: data.node_type || "", status: "running",
        parent: data.iteration_id || data.loop_id || null, children: [] };
      this.steps.set(id, step);
      this.order.push(step);
    }
    if (data.inputs !== undefined && data.inputs !== null) step.inputs = data.inputs;
    if (frame.event.endsWith("_finished") || frame.event.endsWith("_completed")) {
      step.status = data.status || "succeeded";
      step.elapsed = data.elapsed_time;
      step.outputs = data.outputs;
      step.error = data.error;
    }
    // A stored trace carries an agent node's rounds and tool calls with the node itself.
    for (const log of data.agent_log || []) this.addLog({ ...log, node_execution_id: id });
    return true;
  }

  /** An agent node's round, thought or tool call (sent at its start and again at its end). */
  addLog(data) {
    const step = this.steps.get(data.node_execution_id);
    if (!step) return false;
    step.logs = step.logs || new Map();
    const entry = step.logs.get(data.id) || { id: data.id, parent: data.parent_id || null };
    Object.assign(entry, { label: data.label, status: data.status, error: data.error, data: data.data });
    step.logs.set(data.id, entry);
    return true;
  }

  render(container) {
    if (this.order.length === 0) return;
    // Nodes inside an iteration (or loop) fold under that iteration's own step.
    const top = this.order.filter((s) => !s.parent || !this.order.some((t) => !t.parent && t.nodeId === s.parent));
    const iterations = new Map();
    for (const step of this.order) {
      if (top.includes(step)) continue;
      const host = top.find((t) => t.nodeId === step.parent);
      if (!iterations.has(host)) iterations.set(host, []);
      iterations.get(host).push(step);
    }
    const row = (step) => {
      const time = typeof step.elapsed === "number" ? `${step.elapsed.toFixed(2)} s` : "";
      const children = iterations.get(step) || [];
      return h(
        "li",
        { class: `step ${step.status}` },
        h(
          "details",
          {},
          h(
            "summary",
            {},
            h("span", { class: "step-title" }, step.title),
            h("span", { class: "muted small" }, ` ${step.type}`),
            h("span", { class: "step-status small" }, ` ${step.status}`),
            time ? h("span", { class: "muted small" }, ` · ${time}`) : null,
          ),
          step.error ? h("p", { class: "step-error small" }, step.error) : null,
          step.inputs ? h("div", { class: "small" }, "Inputs", h("pre", { tabindex: 0 }, pretty(step.inputs))) : null,
          step.outputs ? h("div", { class: "small" }, "Outputs", h("pre", { tabindex: 0 }, pretty(step.outputs))) : null,
          step.logs ? agentLog([...step.logs.values()]) : null,
          children.length
            ? h("details", { class: "fold" }, h("summary", { class: "small" }, `${children.length} steps inside`),
              h("ol", { class: "timeline" }, children.map(row)))
            : null,
        ),
      );
    };
    const open = container.querySelector("details.trace")?.open || false;
    container.replaceChildren(
      h(
        "details",
        { class: "trace", open },
        h("summary", {}, `Workflow steps (${top.length})`),
        h("ol", { class: "timeline" }, top.map(row)),
      ),
    );
  }
}

/** Agent rounds, each with its thoughts and tool calls. */
function agentLog(entries) {
  const item = (entry) => {
    const children = entries.filter((e) => e.parent === entry.id);
    return h(
      "li",
      { class: `agent-entry ${entry.status}` },
      h("span", { class: "agent-label" }, entry.label),
      h("span", { class: "muted small" }, ` ${entry.status}`),
      entry.error ? h("p", { class: "step-error small" }, entry.error) : null,
      entry.data && Object.keys(entry.data).length
        ? h("details", { class: "agent-data" }, h("summary", { class: "small" }, "Details"),
          h("pre", { tabindex: 0 }, pretty(entry.data)))
        : null,
      children.length ? h("ol", { class: "agent-log" }, children.map(item)) : null,
    );
  };
  const rounds = entries.filter((e) => !e.parent || !entries.some((p) => p.id === e.parent));
  return h("div", { class: "small" }, "Agent", h("ol", { class: "agent-log" }, rounds.map(item)));
}

const parsed = (text) => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/** An agent app's tool calls (its `agent_thought`s that called tools), above the answer:
 * each call with its input and, once the tool answered, its output. */
export function renderToolCalls(container, thoughts) {
  const calls = [];
  for (const thought of thoughts) {
    if (!thought.tool) continue;
    const inputs = thought.tool_input ? parsed(thought.tool_input) : {};
    const outputs = thought.observation ? parsed(thought.observation) : null;
    for (const name of thought.tool.split(";").filter(Boolean)) {
      const input = inputs && typeof inputs === "object" ? inputs[name] : inputs;
      const output = outputs && typeof outputs === "object" ? outputs[name] : outputs;
      calls.push({ name, input, output, done: outputs !== null });
    }
  }
  if (calls.length === 0) {
    container.replaceChildren();
    return;
  }
  const open = new Set([...container.querySelectorAll("details.tool-call[open]")].map((d) => d.dataset.index));
  container.replaceChildren(
    h(
      "ol",
      { class: "tool-calls", "aria-label": "Tool calls" },
      calls.map((call, index) =>
        h(
          "li",
          {},
          h(
            "details",
            { class: `tool-call ${call.done ? "done" : "running"}`, "data-index": index, open: open.has(String(index)) },
            h("summary", {}, h("span", { class: "tool-name" }, `${call.done ? "Used" : "Using"} ${call.name}`)),
            h("div", { class: "small" }, "Input", h("pre", { tabindex: 0 }, pretty(call.input ?? {}))),
            call.done ? h("div", { class: "small" }, "Output", h("pre", { tabindex: 0 }, typeof call.output === "string" ? call.output : pretty(call.output))) : null,
          ),
        ),
      ),
    ),
  );
}
