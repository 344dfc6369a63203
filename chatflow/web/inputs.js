// The app's "Before you start" form (`user_input_form`): every input type Dify offers,
// files included. File inputs upload as soon as a file is picked; the chat request then
// references them as `{type, transfer_method: "local_file", upload_file_id}`.

import { $, h } from "./dom.js";
import { allowedExtensions, fileType, refusal, uploadFile } from "./uploads.js";

const TEXT_TYPES = new Set(["text-input", "string", "paragraph"]);

function fileControl(type, spec, api, onError, onChange) {
  const accept = allowedExtensions(spec.allowed_file_types, spec.allowed_file_extensions);
  const many = type === "file-list";
  const control = h("input", { type: "file", accept: accept.join(",") || null, multiple: many });
  const list = h("ul", { class: "input-files small" });
  const state = { uploads: [], pending: 0 };
  const limit = many ? spec.max_length || 5 : 1;

  function render() {
    list.replaceChildren(
      ...state.uploads.map((item) => h("li", {}, item.name)),
      ...(state.pending ? [h("li", { class: "muted" }, "uploading…")] : []),
    );
    control.setCustomValidity("");
    onChange();
  }

  control.addEventListener("change", async () => {
    const picked = Array.from(control.files || []);
    if (!many) state.uploads = [];
    for (const file of picked) {
      const refused = refusal(file, accept);
      if (refused) {
        onError(new Error(refused));
        continue;
      }
      if (state.uploads.length + state.pending >= limit) {
        onError(new Error(`${spec.label || spec.variable}: at most ${limit} file(s).`));
        break;
      }
      state.pending += 1;
      render();
      try {
        const row = await uploadFile(api(), file);
        state.uploads.push({ name: file.name, id: row.id, type: fileType(file.name) });
      } catch (error) {
        onError(error);
      } finally {
        state.pending -= 1;
        render();
      }
    }
    control.value = "";
  });
  return { control, extra: list, state };
}

export function createInputs({ api, onError, onChange }) {
  let fields = [];

  function build(form) {
    fields = [];
    const nodes = [];
    for (const entry of form) {
      const [type, spec] = Object.entries(entry)[0] || [];
      if (!spec || !spec.variable) continue;
      let control;
      let extra = null;
      let files = null;
      if (type === "paragraph") control = h("textarea", { rows: 3 });
      else if (type === "number") control = h("input", { type: "number", step: "any" });
      else if (type === "checkbox") control = h("input", { type: "checkbox" });
      else if (type === "text-input" || type === "string") control = h("input", { type: "text" });
      else if (type === "select") {
        control = h("select", {}, spec.required ? null : h("option", { value: "" }, "—"));
        for (const option of spec.options || []) control.append(h("option", { value: option }, option));
      } else if (type === "file" || type === "file-list") {
        ({ control, extra, state: files } = fileControl(type, spec, api, onError, onChange));
      } else continue;
      control.id = `input-${spec.variable}`;
      control.name = spec.variable;
      control.required = Boolean(spec.required) && !files; // files are checked by `validate`
      if (spec.max_length && TEXT_TYPES.has(type)) control.maxLength = spec.max_length;
      if (spec.default !== undefined && spec.default !== null && spec.default !== "" && !files) {
        if (type === "checkbox") control.checked = Boolean(spec.default);
        else control.value = String(spec.default);
      }
      const label = h(
        "label",
        { for: control.id },
        spec.label || spec.variable,
        spec.required ? h("span", { class: "required", "aria-hidden": "true" }, " *") : null,
      );
      const kind = type === "checkbox" ? "field checkbox" : "field";
      nodes.push(h("div", { class: kind }, label, control, extra));
      fields.push({ type, spec, control, files });
    }
    $("inputs-fields").replaceChildren(...nodes);
  }

  /** True when every required input has a value; otherwise the browser says which. */
  function validate() {
    for (const { spec, control, files } of fields) {
      if (!files) continue;
      const missing = spec.required && files.uploads.length === 0;
      control.setCustomValidity(
        files.pending ? "Wait for the file to finish uploading." : missing ? "Choose a file." : "",
      );
    }
    return $("inputs-form").reportValidity();
  }

  function values() {
    const inputs = {};
    for (const { type, spec, control, files } of fields) {
      if (files) {
        const refs = files.uploads.map((item) => ({
          type: item.type,
          transfer_method: "local_file",
          upload_file_id: item.id,
        }));
        if (type === "file-list") inputs[spec.variable] = refs;
        else if (refs.length) inputs[spec.variable] = refs[0];
      } else if (type === "checkbox") inputs[spec.variable] = control.checked;
      else if (control.value !== "") {
        inputs[spec.variable] = type === "number" ? Number(control.value) : control.value;
      }
    }
    return inputs;
  }

  return { build, validate, values, count: () => fields.length };
}
