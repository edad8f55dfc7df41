// Rich embeds as Discord lays them out: colour bar, author, title (link), description, fields on Discord's
// 12-column grid (up to 3 inline fields a row, 2 beside a thumbnail), image, thumbnail, footer and timestamp.
import { h, safeUrl } from "../dom.js";
import { calendarTime, intColour } from "../format.js";
import { renderMarkdown } from "../markdown.js";

/** Resolve an embed media url: attachment://name points at the message's own attachment of that name. */
export function mediaUrl(raw, attachments) {
  if (typeof raw !== "string") return null;
  if (raw.startsWith("attachment://")) {
    const name = raw.slice("attachment://".length);
    const att = (attachments || []).find((a) => a.filename === name);
    return att ? safeUrl(att.proxy_url) || safeUrl(att.url) : null;
  }
  return safeUrl(raw);
}

/** Filenames and urls of attachments that embeds already show (Discord hides those from the file list). */
export function attachmentsShownByEmbeds(embeds, attachments) {
  const hidden = new Set();
  for (const embed of embeds || []) {
    for (const media of [embed.image, embed.thumbnail, embed.author && { url: embed.author.icon_url },
      embed.footer && { url: embed.footer.icon_url }]) {
      const raw = media?.url;
      if (typeof raw !== "string") continue;
      if (raw.startsWith("attachment://")) hidden.add(raw.slice("attachment://".length));
      else if ((attachments || []).some((a) => a.url === raw || a.proxy_url === raw)) hidden.add(raw);
    }
  }
  return hidden;
}

/** grid-column spans for each field, Discord's rule: a run of inline fields shares a 12-column row. */
export function fieldColumns(fields, hasThumbnail) {
  const perRow = hasThumbnail ? 2 : 3;
  const spans = [];
  let i = 0;
  while (i < fields.length) {
    if (!fields[i].inline) {
      spans.push("1 / 13");
      i += 1;
      continue;
    }
    let run = 0;
    while (i + run < fields.length && fields[i + run].inline && run < perRow) run += 1;
    const width = 12 / run;
    for (let k = 0; k < run; k += 1) spans.push(`${1 + k * width} / ${1 + (k + 1) * width}`);
    i += run;
  }
  return spans;
}

export function renderEmbed(embed, ctx, attachments) {
  const colour = intColour(embed.color);
  const thumb = mediaUrl(embed.thumbnail?.url, attachments);
  const parts = [];

  if (embed.author?.name) {
    const icon = mediaUrl(embed.author.icon_url, attachments);
    const url = safeUrl(embed.author.url);
    const name = url
      ? h("a", { class: "embed-author-name", href: url, target: "_blank", rel: "noreferrer noopener" }, embed.author.name)
      : h("span", { class: "embed-author-name" }, embed.author.name);
    parts.push(h("div", { class: "embed-author" }, icon && h("img", { class: "embed-author-icon", src: icon, alt: "" }), name));
  }
  if (embed.title) {
    const url = safeUrl(embed.url);
    const title = renderMarkdown(embed.title, ctx, "inline");
    parts.push(
      h("div", { class: "embed-title", role: "heading", "aria-level": "4" },
        url ? h("a", { class: "embed-title-link", href: url, target: "_blank", rel: "noreferrer noopener" }, title) : title),
    );
  }
  if (embed.description) {
    parts.push(h("div", { class: "embed-description markup" }, renderMarkdown(embed.description, ctx, "full")));
  }
  const fields = (embed.fields || []).filter((f) => f && (f.name || f.value));
  if (fields.length) {
    const spans = fieldColumns(fields, Boolean(thumb));
    parts.push(
      h("div", { class: "embed-fields" },
        fields.map((field, index) =>
          h("div", { class: "embed-field", style: { gridColumn: spans[index] } },
            h("div", { class: "embed-field-name" }, renderMarkdown(field.name ?? "", ctx, "inline")),
            h("div", { class: "embed-field-value markup" }, renderMarkdown(field.value ?? "", ctx, "full")),
          ),
        ),
      ),
    );
  }
  const image = mediaUrl(embed.image?.url, attachments);
  if (image) {
    parts.push(h("a", { class: "embed-image", href: image, target: "_blank", rel: "noopener" },
      h("img", { src: image, alt: embed.title ? `Image for ${embed.title}` : "Embed image" })));
  }
  const footerIcon = mediaUrl(embed.footer?.icon_url, attachments);
  const when = embed.timestamp ? new Date(embed.timestamp) : null;
  const validWhen = when && !Number.isNaN(when.getTime()) ? when : null;
  if (embed.footer?.text || validWhen) {
    parts.push(
      h("div", { class: "embed-footer" },
        footerIcon && h("img", { class: "embed-footer-icon", src: footerIcon, alt: "" }),
        h("span", { class: "embed-footer-text" },
          embed.footer?.text || null,
          embed.footer?.text && validWhen ? h("span", { class: "embed-footer-separator" }, "•") : null,
          validWhen ? h("time", { datetime: validWhen.toISOString() }, calendarTime(validWhen)) : null,
        ),
      ),
    );
  }
  return h(
    "div",
    { class: `embed${thumb ? " has-thumbnail" : ""}`, style: colour ? { borderLeftColor: colour } : null },
    h("div", { class: "embed-grid" },
      parts,
      thumb && h("img", { class: "embed-thumbnail", src: thumb, alt: "Thumbnail" }),
    ),
  );
}
