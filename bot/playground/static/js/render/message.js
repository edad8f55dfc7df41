// One message → one <li> holding a role="article". Grouping (Discord's "compact run" of one author's messages
// within 7 minutes) is a class on the article, set by the chat view from the neighbour, so a new message never
// re-renders the others.
import { h, icon } from "../dom.js";
import { calendarTime, fullDateTime, longDate, sameDay, timeShort } from "../format.js";
import { renderMarkdown } from "../markdown.js";
import { renderAttachments } from "./attachments.js";
import "./karaoke.js";
import { renderComponents } from "./components.js";
import { attachmentsShownByEmbeds, renderEmbed } from "./embeds.js";

export const EPHEMERAL = 64;
export const LOADING = 128;
const GROUP_GAP_MS = 7 * 60 * 1000;

export function messageDate(message) {
  const date = new Date(message.timestamp);
  return Number.isNaN(date.getTime()) ? new Date(0) : date;
}

function isSystem(message) {
  return ![0, 19, 20, 23, undefined].includes(message.type);
}

/** Does `message` start a new group after `prev`? (Discord's rule: other author, 7 min gap, a reply or
 * command header, another day, or an ephemeral/non-ephemeral change.) */
export function startsGroup(message, prev) {
  if (!prev) return true;
  if (prev.author?.id !== message.author?.id) return true;
  if (message.interaction_metadata || message.interaction || message.message_reference) return true;
  if (isSystem(prev) || isSystem(message)) return true;
  if ((prev.flags & EPHEMERAL) !== (message.flags & EPHEMERAL)) return true;
  const a = messageDate(prev);
  const b = messageDate(message);
  return b - a > GROUP_GAP_MS || !sameDay(a, b);
}

export function dividerNeeded(message, prev) {
  return !prev || !sameDay(messageDate(prev), messageDate(message));
}

function avatar(author) {
  return h(
    "div",
    { class: "avatar", style: { backgroundColor: author.avatarColor || "#5865f2" }, "aria-hidden": "true" },
    author.initial,
  );
}

function snippet(message) {
  const text = message.content || message.embeds?.[0]?.title || message.embeds?.[0]?.description || "";
  return text.length > 80 ? `${text.slice(0, 79)}…` : text || "Click to see attachment";
}

/** Above a reply to an interaction: "@Ana used /music create", or for a button press the message it was on. */
function interactionHeader(message, ctx) {
  const meta = message.interaction_metadata || message.interaction;
  if (!meta) return null;
  const name = meta.name || message.interaction?.name;
  const pressedOn = !name && meta.interacted_message_id ? ctx.message?.(meta.interacted_message_id) : null;
  const who = pressedOn ? ctx.authorOf(pressedOn) : meta.user ? ctx.authorOf({ author: meta.user }) : null;
  if (!who) return null;
  return h(
    "div",
    { class: "reply-header" },
    h("span", { class: "reply-spine", "aria-hidden": "true" }),
    h("span", { class: "avatar avatar-small", style: { backgroundColor: who.avatarColor || "#5865f2" }, "aria-hidden": "true" }, who.initial),
    h("span", { class: "reply-user", style: who.color ? { color: who.color } : null }, `@${who.name}`),
    name ? [" used ", h("span", { class: "reply-command" }, `/${name}`)] : null,
    pressedOn ? h("span", { class: "reply-snippet" }, snippet(pressedOn)) : null,
  );
}

const EYE = "M12 5C5.6 5 2 12 2 12s3.6 7 10 7 10-7 10-7-3.6-7-10-7Zm0 11.5A4.5 4.5 0 1 1 12 7.5a4.5 4.5 0 0 1 0 9Zm0-7a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5Z";

function threadLink(message, ctx) {
  // A thread started from a message has the message's id (THREAD_CREATE may come before the starter's update).
  const live = ctx.thread?.(message.thread?.id || message.id);
  const thread = (live && [10, 11, 12].includes(live.type) && live.parent_id === message.channel_id ? live : null)
    || message.thread;
  if (!thread) return null;
  const count = Number(thread.message_count ?? thread.total_message_sent ?? 0);
  return h(
    "button",
    { type: "button", class: "thread-link", "data-thread-id": thread.id, "aria-label": `${thread.name} · ${count} ${count === 1 ? "Message" : "Messages"}` },
    h("span", { class: "thread-name" }, thread.name),
    h("span", { class: "thread-count" }, `${count} ${count === 1 ? "Message" : "Messages"} ›`),
  );
}

function ephemeralFooter() {
  return h(
    "div",
    { class: "ephemeral-footer" },
    icon(EYE, { size: 16, className: "eye" }),
    " Only you can see this · ",
    h("button", { type: "button", class: "link-button", "data-dismiss": "1" }, "Dismiss message"),
  );
}

/** The body of a message: content, embeds, attachments, components, thread link and footers. */
function body(message, ctx) {
  const loading = (message.flags & LOADING) !== 0;
  const parts = [];
  if (loading) {
    parts.push(
      h("div", { class: "content thinking" }, `${ctx.appName || "The application"} is thinking`,
        h("span", { class: "dots", "aria-hidden": "true" }, h("span", null, "."), h("span", null, "."), h("span", null, ".")),
        h("span", { class: "visually-hidden" }, "…")),
    );
  } else if (message.content) {
    const content = h("div", { class: `content markup${message._error ? " error-text" : ""}` }, renderMarkdown(message.content, ctx, "full"));
    if (message.edited_timestamp) {
      const when = new Date(message.edited_timestamp);
      content.append(" ", h("span", { class: "edited", title: Number.isNaN(when.getTime()) ? "" : fullDateTime(when) }, "(edited)"));
    }
    parts.push(content);
  }
  const accessories = [];
  if (!loading) {
    const embeds = (message.embeds || []).filter((e) => e && e.type !== "gifv");
    for (const embed of embeds) accessories.push(renderEmbed(embed, ctx, message.attachments));
    const hidden = attachmentsShownByEmbeds(embeds, message.attachments);
    accessories.push(...renderAttachments(message.attachments, { hidden, message }));
    accessories.push(renderComponents(message.components, ctx));
  }
  accessories.push(threadLink(message, ctx));
  accessories.push(h("div", { class: "interaction-status", role: "status" }));
  if (message.flags & EPHEMERAL) accessories.push(ephemeralFooter());
  parts.push(h("div", { class: "accessories" }, accessories));
  return parts;
}

/** Build the article for a message (the caller places it and sets grouping). */
export function renderMessage(message, ctx) {
  const author = ctx.authorOf(message);
  const date = messageDate(message);
  const nameId = `msg-name-${message.id}`;
  const classes = ["message"];
  if (message.flags & EPHEMERAL) classes.push("ephemeral");
  if (ctx.mentionsMe?.(message)) classes.push("mentioned");
  return h(
    "div",
    { role: "article", class: classes.join(" "), "aria-labelledby": nameId, "data-message-id": message.id },
    interactionHeader(message, ctx),
    avatar(author),
    h(
      "h3",
      { class: "message-header" },
      h("span", { class: "username", id: nameId, style: author.color ? { color: author.color } : null }, author.name),
      author.bot ? h("span", { class: "bot-tag" }, "APP") : null,
      h("time", { class: "message-time", datetime: date.toISOString(), title: fullDateTime(date) }, calendarTime(date)),
    ),
    h("time", { class: "gutter-time", datetime: date.toISOString(), "aria-hidden": "true" }, timeShort(date)),
    h("div", { class: "message-body" }, body(message, ctx)),
  );
}

/** The <li> wrapper with its day divider. */
export function renderMessageItem(message, ctx, prev) {
  const li = h("li", { class: "message-item", "data-id": message.id },
    h("div", { class: "divider", role: "separator" }, h("span", null, longDate(messageDate(message)))),
    renderMessage(message, ctx));
  applyGrouping(li, message, prev);
  return li;
}

export function applyGrouping(li, message, prev) {
  const start = startsGroup(message, prev);
  li.classList.toggle("group-start", start);
  li.classList.toggle("continuation", !start);
  li.classList.toggle("has-divider", dividerNeeded(message, prev));
}
