// Discord's markdown subset, parsed into DOM nodes (never HTML strings).
//
// The shape follows simple-markdown, which Discord's client is built on: at each position the first rule
// whose anchored regex matches wins, and a "text" rule eats plain runs up to the next character that could
// start something. Block rules (code blocks, quotes, headings, lists) only match at the start of a line.
//
// Modes: "full" (message content, embed descriptions and field values), "inline" (embed titles, field names,
// author names: no blocks, no headings), "plain-links" (like full, used where masked links are allowed).
import { h, safeUrl } from "./dom.js";
import { timestampElement } from "./timestamps.js";

const RULES = [
  // ---- block rules (start of a line only) ----
  {
    name: "codeBlock",
    block: true,
    re: /^```(?:([a-z0-9_+\-.#]+?)\n)?\n*([^\n][\s\S]*?)\n*```\n?/i,
    node: (m) => ({ type: "codeBlock", lang: m[1] || "", text: m[2] }),
  },
  {
    name: "blockQuote",
    block: true,
    fullOnly: true,
    re: /^(?: *>>> ([\s\S]*)| *> [^\n]*(?:\n *> [^\n]*)*\n?)/,
    node: (m, parse, state) => {
      if (state.inQuote) return null;
      const body = m[1] !== undefined ? m[1] : m[0].replace(/^ *> ?/gm, "").replace(/\n$/, "");
      return { type: "blockQuote", children: parse(body, { ...state, inQuote: true }) };
    },
  },
  {
    name: "heading",
    block: true,
    fullOnly: true,
    re: /^(#{1,3}|-#) +([^\n]+?) *(?:\n|$)/,
    node: (m, parse, state) => ({
      type: "heading",
      level: m[1] === "-#" ? 0 : m[1].length,
      children: parse(m[2], { ...state, inline: true }),
    }),
  },
  {
    name: "list",
    block: true,
    fullOnly: true,
    re: /^( *)([*-]|\d+\.) +[^\n]+(?:\n\1 *(?:[*-]|\d+\.) +[^\n]+)*\n?/,
    node: (m, parse, state) => {
      const ordered = /\d/.test(m[2]);
      const start = ordered ? Number.parseInt(m[2], 10) : 1;
      const items = m[0]
        .replace(/\n$/, "")
        .split("\n")
        .map((line) => line.replace(/^ *(?:[*-]|\d+\.) +/, ""))
        .map((text) => parse(text, { ...state, inline: true }));
      return { type: "list", ordered, start, items };
    },
  },
  // ---- inline rules ----
  { name: "escape", re: /^\\([^0-9A-Za-z\s])/, node: (m) => ({ type: "text", text: m[1] }) },
  {
    name: "timestamp",
    re: /^<t:(-?\d{1,13})(?::([tTdDfFR]))?>/,
    node: (m) => ({ type: "timestamp", unix: m[1], style: m[2] || "f" }),
  },
  { name: "userMention", re: /^<@!?(\d{1,20})>/, node: (m) => ({ type: "user", id: m[1] }) },
  { name: "roleMention", re: /^<@&(\d{1,20})>/, node: (m) => ({ type: "role", id: m[1] }) },
  { name: "channelMention", re: /^<#(\d{1,20})>/, node: (m) => ({ type: "channel", id: m[1] }) },
  {
    name: "commandMention",
    re: /^<\/([-_\p{L}\p{N} ]{1,100}):(\d{1,20})>/u,
    node: (m) => ({ type: "command", name: m[1] }),
  },
  { name: "everyone", re: /^@(everyone|here)\b/, node: (m) => ({ type: "everyone", text: `@${m[1]}` }) },
  { name: "emoji", re: /^<(a?):(\w{2,32}):(\d{1,20})>/, node: (m) => ({ type: "emoji", name: m[2] }) },
  {
    name: "maskedLink",
    re: /^\[((?:\[[^\]]*\]|[^[\]]|\](?=[^[]*\]))*)\]\(\s*<?(https?:\/\/[^\s<>()]+(?:\([^\s<>()]*\)[^\s<>()]*)*)>?(?:\s+"([^"]*)")?\s*\)/,
    node: (m, parse, state) =>
      state.inLink
        ? null
        : { type: "link", url: m[2], title: m[3], children: parse(m[1], { ...state, inline: true, inLink: true }) },
  },
  { name: "autolink", re: /^<(https?:\/\/[^\s>]+)>/, node: (m) => ({ type: "link", url: m[1], plain: true }) },
  {
    name: "url",
    re: /^https?:\/\/[^\s<]+[^<.,:;"')\]\s]/,
    node: (m, _parse, state) => (state.inLink ? null : { type: "link", url: m[0], plain: true }),
  },
  {
    name: "codeInline",
    re: /^(`+)([\s\S]*?[^`])\1(?!`)/,
    node: (m) => ({ type: "code", text: m[2].replace(/^ (.*) $/s, "$1") }),
  },
  {
    name: "spoiler",
    re: /^\|\|([\s\S]+?)\|\|/,
    node: (m, parse, state) => ({ type: "spoiler", children: parse(m[1], { ...state, inline: true }) }),
  },
  {
    name: "strong",
    re: /^\*\*([\s\S]+?)\*\*(?!\*)/,
    node: (m, parse, state) => ({ type: "strong", children: parse(m[1], { ...state, inline: true }) }),
  },
  {
    name: "underline",
    re: /^__([\s\S]+?)__(?!_)/,
    node: (m, parse, state) => ({ type: "underline", children: parse(m[1], { ...state, inline: true }) }),
  },
  {
    name: "em",
    re: /^\b_((?:__|\\[\s\S]|[^\\_])+?)_\b|^\*(?=\S)((?:\*\*|\\[\s\S]|\s+(?:\\[\s\S]|[^\s*\\]|\*\*)|[^\s*\\])+?)\*(?!\*)/,
    node: (m, parse, state) => ({ type: "em", children: parse(m[1] ?? m[2], { ...state, inline: true }) }),
  },
  {
    name: "strike",
    re: /^~~([\s\S]+?)~~/,
    node: (m, parse, state) => ({ type: "strike", children: parse(m[1], { ...state, inline: true }) }),
  },
  {
    name: "text",
    re: /^[\s\S]+?(?=[^0-9A-Za-z\s\u00c0-\uffff]|\n|\w+:\S|$)/,
    node: (m) => ({ type: "text", text: m[0] }),
  },
];

/** Parse markdown source into a list of nodes. */
export function parse(source, state = { mode: "full" }) {
  const out = [];
  let rest = String(source ?? "");
  let atLineStart = !state.inline;
  while (rest.length) {
    let matched = false;
    for (const rule of RULES) {
      if (rule.block && !atLineStart) continue;
      if (rule.fullOnly && state.mode === "inline") continue;
      const m = rule.re.exec(rest);
      if (!m || m[0].length === 0) continue;
      const node = rule.node(m, parse, state);
      if (!node) continue;
      pushNode(out, node);
      rest = rest.slice(m[0].length);
      atLineStart = rule.block || m[0].endsWith("\n");
      matched = true;
      break;
    }
    if (!matched) {
      // No rule applies (a lone special character): take it as text.
      pushNode(out, { type: "text", text: rest[0] });
      atLineStart = !state.inline && rest[0] === "\n";
      rest = rest.slice(1);
    }
  }
  return out;
}

function pushNode(out, node) {
  const last = out[out.length - 1];
  if (node.type === "text" && last && last.type === "text") last.text += node.text;
  else out.push(node);
}

/**
 * Render markdown to a DocumentFragment.
 * ctx: {user(id) -> {name, color?} | null, channel(id) -> {name} | null, role(id) -> {name, color?} | null}
 */
export function renderMarkdown(source, ctx = {}, mode = "full") {
  const frag = document.createDocumentFragment();
  for (const node of parse(source, { mode })) frag.appendChild(toDom(node, ctx));
  return frag;
}

function children(nodes, ctx) {
  return nodes.map((n) => toDom(n, ctx));
}

function toDom(node, ctx) {
  switch (node.type) {
    case "text":
      return document.createTextNode(node.text);
    case "strong":
      return h("strong", null, children(node.children, ctx));
    case "em":
      return h("em", null, children(node.children, ctx));
    case "underline":
      return h("u", null, children(node.children, ctx));
    case "strike":
      return h("s", null, children(node.children, ctx));
    case "code":
      return h("code", { class: "inline-code" }, node.text);
    case "codeBlock":
      return h("pre", { class: "code-block" }, h("code", { "data-lang": node.lang || null }, node.text));
    case "blockQuote":
      return h(
        "div",
        { class: "blockquote-container" },
        h("div", { class: "blockquote-bar", "aria-hidden": "true" }),
        h("blockquote", null, children(node.children, ctx)),
      );
    case "heading":
      return node.level === 0
        ? h("small", { class: "subtext" }, children(node.children, ctx))
        : h(`h${node.level}`, { class: "md-heading" }, children(node.children, ctx));
    case "list": {
      const list = h(node.ordered ? "ol" : "ul", { class: "md-list", start: node.ordered ? node.start : null });
      for (const item of node.items) list.appendChild(h("li", null, children(item, ctx)));
      return list;
    }
    case "spoiler":
      return h(
        "span",
        { class: "spoiler", role: "button", tabindex: "0", "aria-label": "Spoiler", "aria-expanded": "false" },
        h("span", { class: "spoiler-content", "aria-hidden": "true" }, children(node.children, ctx)),
      );
    case "link": {
      const url = safeUrl(node.url);
      if (!url) return document.createTextNode(node.url);
      return h(
        "a",
        { class: "md-link", href: url, target: "_blank", rel: "noreferrer noopener", title: node.title || url },
        node.plain ? node.url : children(node.children, ctx),
      );
    }
    case "user": {
      const user = ctx.user?.(node.id);
      return h(
        "span",
        { class: "mention", "data-user-id": node.id, role: "button", tabindex: "-1" },
        user ? `@${user.name}` : "@unknown-user",
      );
    }
    case "role": {
      const role = ctx.role?.(node.id);
      const color = role?.color;
      return h(
        "span",
        {
          class: "mention role-mention",
          style: color ? { color, backgroundColor: `${color}1a` } : null,
        },
        role ? `@${role.name}` : "@unknown-role",
      );
    }
    case "channel": {
      const channel = ctx.channel?.(node.id);
      return h(
        "span",
        { class: "mention channel-mention", "data-channel-id": node.id, role: "link", tabindex: "0" },
        channel ? `#${channel.name}` : "#unknown",
      );
    }
    case "command":
      return h("span", { class: "mention command-mention" }, `/${node.name}`);
    case "everyone":
      return h("span", { class: "mention" }, node.text);
    case "emoji":
      return h("span", { class: "custom-emoji", title: `:${node.name}:` }, `:${node.name}:`);
    case "timestamp":
      return timestampElement(node.unix, node.style) ?? document.createTextNode(`<t:${node.unix}:${node.style}>`);
    default:
      return document.createTextNode("");
  }
}

/** Reveal a spoiler (click or Enter on it), as Discord's client does: once revealed it stays revealed. */
export function revealSpoiler(spoiler) {
  spoiler.classList.add("revealed");
  spoiler.setAttribute("aria-expanded", "true");
  spoiler.removeAttribute("role");
  spoiler.removeAttribute("aria-label");
  spoiler.removeAttribute("tabindex");
  spoiler.querySelector(".spoiler-content")?.removeAttribute("aria-hidden");
}
