// Attachments, through a registry of renderers: the first whose match() accepts an attachment renders it.
// A renderer may also claim siblings from the same message (karaoke pairs an .lrc timeline with its audio),
// so new kinds (stems, MIDI, a lyrics timeline) plug in without touching the message renderer.
import { h, safeUrl } from "../dom.js";
import { fileSize } from "../format.js";

const registry = [];

/** Register {name, match(att, ctx) -> bool, render(att, ctx) -> Node}; later registrations win. */
export function registerAttachmentRenderer(renderer) {
  registry.unshift(renderer);
}

export function extensionOf(att) {
  const name = String(att.filename || "").toLowerCase();
  const dot = name.lastIndexOf(".");
  return dot >= 0 ? name.slice(dot + 1) : "";
}

export function isAudio(att) {
  const type = String(att.content_type || "");
  return type.startsWith("audio/") || ["mp3", "wav", "ogg", "m4a", "flac", "opus"].includes(extensionOf(att));
}

export function isImage(att) {
  const type = String(att.content_type || "");
  return type.startsWith("image/") || ["png", "jpg", "jpeg", "gif", "webp"].includes(extensionOf(att));
}

export function attachmentUrl(att) {
  return safeUrl(att.proxy_url) || safeUrl(att.url);
}

function fileIcon(kind) {
  return h("div", { class: `file-icon file-icon-${kind}`, "aria-hidden": "true" });
}

/** The name (a link) and the size, as Discord's file card shows them. */
export function fileMeta(att) {
  const url = attachmentUrl(att);
  return h(
    "div",
    { class: "file-meta" },
    url
      ? h("a", { class: "file-name", href: url, download: att.filename || "", target: "_blank", rel: "noopener" },
          att.filename || "file")
      : h("span", { class: "file-name" }, att.filename || "file"),
    h("div", { class: "file-size" }, fileSize(att.size)),
  );
}

export function renderAudio(att) {
  const url = attachmentUrl(att);
  return h(
    "div",
    { class: "attachment attachment-audio" },
    h("div", { class: "file-row" }, fileIcon("audio"), fileMeta(att)),
    h("audio", { controls: true, preload: "metadata", src: url, "aria-label": att.filename || "audio" }),
  );
}

registerAttachmentRenderer({
  name: "file",
  match: () => true,
  render: (att) => h("div", { class: "attachment attachment-file" }, fileIcon("file"), fileMeta(att)),
});

registerAttachmentRenderer({
  name: "image",
  match: (att) => isImage(att),
  render: (att) => {
    const url = attachmentUrl(att);
    const width = Number(att.width) || 0;
    const height = Number(att.height) || 0;
    // Discord scales images into 400×300 keeping the aspect ratio; known sizes avoid a layout jump on load.
    const scale = width && height ? Math.min(1, 400 / width, 300 / height) : 1;
    return h(
      "a",
      { class: "attachment attachment-image", href: url, target: "_blank", rel: "noopener" },
      h("img", {
        src: url,
        alt: att.description || att.filename || "image",
        loading: "lazy",
        width: width ? Math.round(width * scale) : null,
        height: height ? Math.round(height * scale) : null,
      }),
    );
  },
});

registerAttachmentRenderer({ name: "audio", match: (att) => isAudio(att), render: (att) => renderAudio(att) });

/**
 * Render a message's attachments. `hidden` holds urls/filenames already shown elsewhere (an embed's
 * attachment:// image). Returns the nodes in order.
 */
export function renderAttachments(attachments, { hidden = new Set(), message = null } = {}) {
  const list = (attachments || []).filter((att) => !hidden.has(att.filename) && !hidden.has(att.url));
  const ctx = { siblings: list, consumed: new Set(), message };
  const out = [];
  const deferred = [];
  for (const att of list) {
    if (ctx.consumed.has(att)) continue;
    // A renderer may ask to leave an attachment for a sibling's renderer (an .lrc waits for its audio).
    if (registry.some((r) => r.defers?.(att, ctx))) {
      deferred.push([out.length, att]);
      out.push(null);
      continue;
    }
    const renderer = registry.find((r) => r.match(att, ctx));
    ctx.consumed.add(att);
    out.push(renderer.render(att, ctx));
  }
  for (const [index, att] of deferred) {
    if (ctx.consumed.has(att)) continue;
    ctx.consumed.add(att);
    out[index] = registry.find((r) => !r.defers && r.match(att, ctx)).render(att, ctx);
  }
  return out.filter(Boolean);
}
