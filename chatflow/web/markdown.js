// A small, safe Markdown renderer for model answers.
//
// It builds DOM nodes (createElement + text nodes) and never assigns HTML strings, so
// whatever the model writes is shown as text. Links keep only http(s) and mailto URLs.
// Covered: paragraphs (single newlines are line breaks, as in chat UIs), headings, fenced
// and inline code, bold, italic, strike-through, links and bare URLs, ordered and
// unordered (nested) lists, block quotes, rules and GitHub-style tables. Incomplete
// syntax while an answer streams (an unclosed fence or `**`) renders as plain text.

const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const LIST_ITEM = /^( *)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const TABLE_SEP = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

// One alternative per inline construct; the index of the first defined group says which.
const INLINE = new RegExp(
  [
    /\\([\\`*_{}[\]()#+\-.!~|>])/.source, // 1: escaped punctuation
    /(`+)([^`]|[^`][\s\S]*?[^`])\2(?!`)/.source, // 2,3: code span
    /(\*\*|__)(?=\S)([\s\S]*?\S)\4/.source, // 4,5: strong
    /(\*|_)(?=[^\s*_])([\s\S]*?[^\s\\])\6/.source, // 6,7: emphasis
    /~~(?=\S)([\s\S]*?\S)~~/.source, // 8: strike-through
    /(!?)\[([^\]\n]*)\]\(\s*<?([^\s)>]+)>?(?:\s+"[^"]*")?\s*\)/.source, // 9,10,11: link/image
    /<((?:https?:\/\/|mailto:)[^\s>]+)>/.source, // 12: autolink
    /(https?:\/\/[^\s<]*[^\s<.,:;"')\]!?*_~])/.source, // 13: bare URL
  ].join("|"),
  "g",
);

function el(tag, className, children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children || []) node.append(child);
  return node;
}

function safeUrl(href) {
  try {
    const url = new URL(href, window.location.href);
    return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function link(href, children) {
  const url = safeUrl(href);
  if (url === null) return children;
  const a = el("a", null, children);
  a.href = url;
  a.target = "_blank";
  a.rel = "noopener noreferrer nofollow";
  return [a];
}

const isWordChar = (ch) => ch !== undefined && /[\p{L}\p{N}]/u.test(ch);

/** Inline Markdown -> an array of DOM nodes (text is always text). */
export function renderInline(text) {
  const out = [];
  let plain = "";
  const flush = () => {
    if (plain) out.push(document.createTextNode(plain));
    plain = "";
  };
  INLINE.lastIndex = 0;
  let pos = 0;
  let m;
  while ((m = INLINE.exec(text)) !== null) {
    const start = m.index;
    // `_` only emphasises at word boundaries: snake_case_names stay as they are.
    const underscore = m[4] === "__" || m[6] === "_";
    if (underscore && (isWordChar(text[start - 1]) || isWordChar(text[INLINE.lastIndex]))) {
      INLINE.lastIndex = start + 1;
      continue;
    }
    plain += text.slice(pos, start);
    pos = INLINE.lastIndex;
    if (m[1] !== undefined) {
      plain += m[1];
      continue;
    }
    flush();
    if (m[2] !== undefined) {
      out.push(el("code", null, [m[3].replace(/^ (.*) $/s, "$1")]));
    } else if (m[4] !== undefined) {
      out.push(el("strong", null, renderInline(m[5])));
    } else if (m[6] !== undefined) {
      out.push(el("em", null, renderInline(m[7])));
    } else if (m[8] !== undefined) {
      out.push(el("del", null, renderInline(m[8])));
    } else if (m[10] !== undefined) {
      // Images are shown as links: the page loads nothing from other origins.
      const label = m[9] ? [m[10] || m[11]] : renderInline(m[10] || m[11]);
      out.push(...link(m[11], label));
    } else {
      const href = m[12] || m[13];
      out.push(...link(href, [href]));
    }
    // A regex reused recursively must resume where this level stopped.
    INLINE.lastIndex = pos;
  }
  plain += text.slice(pos);
  flush();
  return out;
}

function paragraph(lines) {
  const p = el("p");
  lines.forEach((line, i) => {
    if (i > 0) p.append(el("br"));
    p.append(...renderInline(line.trim()));
  });
  return p;
}

function codeBlock(lang, lines) {
  const code = el("code", lang ? `language-${lang}` : null, [lines.join("\n")]);
  const pre = el("pre", null, [code]);
  const wrap = el("div", "code-block");
  const bar = el("div", "code-bar", [el("span", "code-lang", [lang || "text"])]);
  if (navigator.clipboard) {
    const copy = el("button", "code-copy", ["Copy"]);
    copy.type = "button";
    copy.setAttribute("aria-label", "Copy code");
    copy.addEventListener("click", () => {
      navigator.clipboard.writeText(code.textContent).then(() => {
        copy.textContent = "Copied";
        setTimeout(() => (copy.textContent = "Copy"), 1500);
      });
    });
    bar.append(copy);
  }
  wrap.append(bar, pre);
  return wrap;
}

function splitRow(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim());
}

function table(header, aligns, rows) {
  const cell = (tag, text, i) => {
    const node = el(tag, null, renderInline(text || ""));
    if (aligns[i]) node.style.textAlign = aligns[i];
    return node;
  };
  const head = el("thead", null, [el("tr", null, header.map((t, i) => cell("th", t, i)))]);
  const body = el(
    "tbody",
    null,
    rows.map((r) => el("tr", null, header.map((_, i) => cell("td", r[i], i)))),
  );
  return el("div", "table-wrap", [el("table", null, [head, body])]);
}

function alignments(line) {
  return splitRow(line).map((c) =>
    c.startsWith(":") && c.endsWith(":") ? "center" : c.endsWith(":") ? "right" : c.startsWith(":") ? "left" : "",
  );
}

function list(lines, start) {
  // Gather the items of one list: lines at the first item's indent start items, deeper or
  // blank-separated indented lines continue the current item (nested blocks).
  const first = LIST_ITEM.exec(lines[start]);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const contentIndent = indent + first[2].length + 1;
  const items = [];
  let i = start;
  while (i < lines.length) {
    const line = lines[i];
    const m = LIST_ITEM.exec(line);
    if (m && m[1].length === indent && /\d/.test(m[2]) === ordered) {
      items.push([m[3]]);
      i += 1;
      continue;
    }
    if (line.trim() === "") {
      const next = lines[i + 1];
      if (next !== undefined && /^\s+/.test(next) && next.search(/\S/) > indent) {
        items[items.length - 1].push("");
        i += 1;
        continue;
      }
      break;
    }
    if (line.search(/\S/) > indent) {
      // Strip the parent's content indent (marker + space) so nested lists start at 0.
      items[items.length - 1].push(line.slice(Math.min(line.search(/\S/), contentIndent)));
      i += 1;
      continue;
    }
    if (!m && !startsBlock(line)) {
      items[items.length - 1].push(line.trim()); // a lazy continuation line
      i += 1;
      continue;
    }
    break;
  }
  const node = el(ordered ? "ol" : "ul");
  if (ordered) {
    const n = parseInt(first[2], 10);
    if (n !== 1) node.start = n;
  }
  for (const item of items) {
    const blocks = renderBlocks(item);
    const li = el("li");
    // A tight item's single paragraph is shown without the paragraph's margins.
    if (blocks.length && blocks[0].tagName === "P" && !item.includes("")) {
      li.append(...blocks[0].childNodes, ...blocks.slice(1));
    } else {
      li.append(...blocks);
    }
    node.append(li);
  }
  return [node, i];
}

function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || LIST_ITEM.test(line);
}

/** Markdown lines -> an array of block elements. */
function renderBlocks(lines) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (line.trim() === "") {
      i += 1;
    } else if ((m = FENCE.exec(line))) {
      const fence = m[1];
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence)) body.push(lines[i++]);
      i += 1; // the closing fence (absent while the answer is still streaming)
      out.push(codeBlock(m[2], body));
    } else if ((m = HEADING.exec(line))) {
      // The page's own headings come first: a model's `#` is a level-3 heading.
      out.push(el(`h${Math.min(6, m[1].length + 2)}`, null, renderInline(m[2])));
      i += 1;
    } else if (RULE.test(line)) {
      out.push(el("hr"));
      i += 1;
    } else if (QUOTE.test(line)) {
      const inner = [];
      while (i < lines.length && (m = QUOTE.exec(lines[i]))) {
        inner.push(m[1]);
        i += 1;
      }
      out.push(el("blockquote", null, renderBlocks(inner)));
    } else if (LIST_ITEM.test(line)) {
      const [node, next] = list(lines, i);
      out.push(node);
      i = next;
    } else if (line.includes("|") && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1])) {
      const header = splitRow(line);
      const aligns = alignments(lines[i + 1]);
      const rows = [];
      i += 2;
      while (i < lines.length && lines[i].includes("|") && lines[i].trim() !== "") {
        rows.push(splitRow(lines[i]));
        i += 1;
      }
      out.push(table(header, aligns, rows));
    } else {
      const para = [];
      while (i < lines.length && lines[i].trim() !== "" && (para.length === 0 || !startsBlock(lines[i]))) {
        para.push(lines[i]);
        i += 1;
      }
      out.push(paragraph(para));
    }
  }
  return out;
}

/** Markdown text -> a DocumentFragment of safe DOM nodes. */
export function renderMarkdown(text) {
  const fragment = document.createDocumentFragment();
  fragment.append(...renderBlocks(String(text || "").replace(/\r\n?/g, "\n").split("\n")));
  return fragment;
}
