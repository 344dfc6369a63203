// DOM helpers shared by the page's modules: element building (text is always text),
// sprite icons, and localStorage that tolerates private modes.

export const $ = (id) => document.getElementById(id);

/** `h("button", {class: "x", onclick: f, disabled: true}, "text", child)`. */
export function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

const SVG = "http://www.w3.org/2000/svg";

/** An icon from the page's sprite (`<symbol id="i-NAME">`), hidden from screen readers. */
export function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS(SVG, "use");
  use.setAttribute("href", `#i-${name}`);
  svg.append(use);
  return svg;
}

export const storage = {
  get(name) {
    try {
      return localStorage.getItem(name);
    } catch {
      return null;
    }
  },
  set(name, value) {
    try {
      localStorage.setItem(name, value);
    } catch {
      // storage disabled: the page still works, it just forgets on reload
    }
  },
  remove(name) {
    try {
      localStorage.removeItem(name);
    } catch {
      // as above
    }
  },
};
