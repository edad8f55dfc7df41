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
