// Files attached to the next message, when the app's `file_upload` feature allows them:
// each is sent to `POST /files/upload` as soon as it is picked, then referenced in the
// chat request as `{type, transfer_method: "local_file", upload_file_id}`.

import { $, h, icon } from "./dom.js";

// Dify's file categories by extension (api/constants): what `type` a file is sent as.
const EXTENSIONS = {
  image: ["jpg", "jpeg", "png", "webp", "gif", "svg"],
  video: ["mp4", "mov", "mpeg", "webm"],
  audio: ["mp3", "m4a", "wav", "amr", "mpga"],
  document: [
    "txt", "markdown", "md", "mdx", "pdf", "html", "htm", "xlsx", "xls", "vtt", "properties",
    "doc", "docx", "csv", "eml", "msg", "pptx", "xml", "epub", "ppt", "json",
  ],
};
const SIZE_KEYS = {
  image: "image_file_size_limit",
  audio: "audio_file_size_limit",
  video: "video_file_size_limit",
};

export const extensionOf = (name) => (name.includes(".") ? name.split(".").pop().toLowerCase() : "");

export function fileType(name) {
  const ext = extensionOf(name);
  for (const [type, list] of Object.entries(EXTENSIONS)) if (list.includes(ext)) return type;
  return "custom";
}

/** The extensions (".pdf") a spec's `allowed_file_types` / `allowed_file_extensions` admit. */
export function allowedExtensions(types, custom) {
  const accept = [];
  for (const type of types || []) {
    if (type === "custom") {
      for (const ext of custom || []) accept.push((ext.startsWith(".") ? ext : `.${ext}`).toLowerCase());
    } else if (EXTENSIONS[type]) {
      accept.push(...EXTENSIONS[type].map((ext) => `.${ext}`));
    }
  }
  return accept;
}

/** Why `file` may not be attached under `accept` (a list of ".ext"), or null. */
export function refusal(file, accept) {
  if (accept.length && !accept.includes(`.${extensionOf(file.name)}`)) {
    return `${file.name}: this type of file is not accepted here (${accept.join(", ")}).`;
  }
  return null;
}

/** Upload one file for the session's end user; the server's row (`id`...). */
export function uploadFile(api, file) {
  const form = new FormData();
  form.append("file", file);
  return api.request("/files/upload", { method: "POST", form });
}

/** The app's upload rules from `/parameters`, or null when files cannot be attached. */
export function uploadRules(params) {
  const config = params.file_upload || {};
  const image = config.image || {};
  const enabled = Boolean(config.enabled) || Boolean(image.enabled);
  const methods = config.enabled
    ? config.allowed_file_upload_methods || image.transfer_methods
    : image.transfer_methods;
  if (!enabled || (Array.isArray(methods) && !methods.includes("local_file"))) return null;
  const types = config.enabled ? config.allowed_file_types || [] : ["image"];
  const accept = allowedExtensions(types, config.allowed_file_extensions);
  return {
    extensions: accept,
    accept: accept.join(","),
    limit: config.number_limits || image.number_limits || 3,
    system: params.system_parameters || {},
  };
}

export function createUploads({ session, onError, onChange }) {
  let rules = null;
  let items = [];

  function render() {
    $("attachments").replaceChildren(
      ...items.map((item) => {
        const remove = h(
          "button",
          {
            class: "icon-btn small",
            type: "button",
            "aria-label": `Remove ${item.file.name}`,
            onclick: () => {
              items = items.filter((other) => other !== item);
              if (item.preview) URL.revokeObjectURL(item.preview);
              render();
            },
          },
          icon("close"),
        );
        const thumb = item.preview ? h("img", { class: "thumb", src: item.preview, alt: "" }) : icon("clip");
        const label = h("span", { class: "file-name" }, item.file.name);
        const state = item.id ? null : h("span", { class: "muted small" }, "uploading…");
        return h("div", { class: item.id ? "file-chip" : "file-chip uploading" }, thumb, label, state, remove);
      }),
    );
    onChange();
  }

  async function add(file) {
    const refused = refusal(file, rules.extensions);
    if (refused) {
      onError(new Error(refused));
      return;
    }
    if (items.length >= rules.limit) {
      onError(new Error(`You can attach up to ${rules.limit} file(s) to a message.`));
      return;
    }
    const type = fileType(file.name);
    const limitMb = rules.system[SIZE_KEYS[type]] || rules.system.file_size_limit;
    if (limitMb && file.size > limitMb * 1024 * 1024) {
      onError(new Error(`${file.name} is larger than ${limitMb} MB.`));
      return;
    }
    const preview = type === "image" ? URL.createObjectURL(file) : null;
    const item = { file, type, id: null, preview };
    items.push(item);
    render();
    try {
      const row = await uploadFile(session.api, file);
      item.id = row.id;
    } catch (error) {
      items = items.filter((other) => other !== item);
      onError(error);
    }
    render();
  }

  const input = $("file-input");
  $("attach").addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    for (const file of input.files) add(file);
    input.value = ""; // picking the same file again still fires `change`
  });
  const composer = $("composer");
  composer.addEventListener("dragover", (event) => {
    if (rules && event.dataTransfer.types.includes("Files")) event.preventDefault();
  });
  composer.addEventListener("drop", (event) => {
    if (!rules || !event.dataTransfer.files.length) return;
    event.preventDefault();
    for (const file of event.dataTransfer.files) add(file);
  });

  return {
    configure(params) {
      rules = uploadRules(params);
      items = [];
      $("attach").hidden = rules === null;
      if (rules) {
        input.accept = rules.accept;
        input.multiple = rules.limit > 1;
      }
      render();
    },
    busy: () => items.some((item) => !item.id),
    /** The attached files as the chat request wants them, and as the message shows them. */
    take() {
      const taken = items.map((item) => ({
        request: { type: item.type, transfer_method: "local_file", upload_file_id: item.id },
        shown: { filename: item.file.name, type: item.type, preview: item.preview },
      }));
      items = [];
      render();
      return taken;
    },
    count: () => items.length,
  };
}
