// Tiny DOM builder. Everything the page shows is built with it (never innerHTML with outside text), so a
// message from the bot or another member can never inject markup into the page.

const BOOLEAN_PROPS = new Set(["hidden", "disabled", "required", "checked", "selected", "multiple", "open"]);

/**
 * h("button", {class: "x", "aria-label": "Close", disabled: true}, "text", childNode, [more])
 * Attribute values of null/undefined/false are skipped; children may be strings, nodes, arrays or null.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (key === "text") el.textContent = value;
      else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
      else if (BOOLEAN_PROPS.has(key)) el[key] = Boolean(value);
      else if (key === "value") el.value = value;
      else el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
  return parent;
}

/** A URL we are willing to put in href/src: http(s) only, or same-origin relative paths. */
export function safeUrl(raw) {
  if (typeof raw !== "string" || !raw) return null;
  try {
    const url = new URL(raw, document.baseURI);
    if (url.protocol === "http:" || url.protocol === "https:") return url.href;
  } catch {
    return null;
  }
  return null;
}

let counter = 0;
/** A page-unique id for aria-labelledby and label/for pairs. */
export function uid(prefix = "id") {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** A small inline SVG icon (no icon font or emoji font needed). `d` is one path in a 24×24 box. */
export function icon(d, { size = 20, className = "icon" } = {}) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", className);
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", d);
  svg.appendChild(path);
  return svg;
}

// A speech bubble with a hash: Discord's "thread" glyph, drawn simply.
export const THREAD_ICON =
  "M5 3h14a3 3 0 0 1 3 3v9a3 3 0 0 1-3 3h-7l-5 4v-4H5a3 3 0 0 1-3-3V6a3 3 0 0 1 3-3Zm4.2 3-.4 2H7v1.6h1.5l-.3 1.8H6.6V13h1.3l-.4 2h1.6l.4-2h1.8l-.4 2h1.6l.4-2H15v-1.6h-1.5l.3-1.8h1.6V8h-1.3l.4-2h-1.6l-.4 2h-1.8l.4-2H9.2Zm.9 3.6h1.8l-.3 1.8H9.8l.3-1.8Z";
