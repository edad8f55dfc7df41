// Slash commands typed in the composer, as Discord's client reads them: "/music create prompt:lofi beats
// title:Night Rain". Pure functions (no DOM), so they are easy to test.
//
// A value runs from after "name:" to the next known option name of the same command ("… title:"), so values
// may contain spaces. Values are sent as typed (even past declared limits): the bot's own validation must show.

export const OPTION = {
  SUB_COMMAND: 1, SUB_COMMAND_GROUP: 2, STRING: 3, INTEGER: 4, BOOLEAN: 5, USER: 6, CHANNEL: 7, ROLE: 8,
  MENTIONABLE: 9, NUMBER: 10, ATTACHMENT: 11,
};

/** Every runnable leaf: {path: ["music", "create"], command, description, options}. */
export function flattenCommands(commands) {
  const entries = [];
  for (const command of commands || []) {
    if ((command.type ?? 1) !== 1) continue; // chat-input commands only (not user/message context menus)
    const nested = (command.options || []).filter((o) => o.type === OPTION.SUB_COMMAND || o.type === OPTION.SUB_COMMAND_GROUP);
    if (!nested.length) {
      entries.push({ path: [command.name], command, description: command.description, options: command.options || [] });
      continue;
    }
    for (const sub of nested) {
      if (sub.type === OPTION.SUB_COMMAND) {
        entries.push({ path: [command.name, sub.name], command, description: sub.description, options: sub.options || [] });
      } else {
        for (const leaf of (sub.options || []).filter((o) => o.type === OPTION.SUB_COMMAND)) {
          entries.push({ path: [command.name, sub.name, leaf.name], command, description: leaf.description, options: leaf.options || [] });
        }
      }
    }
  }
  return entries.sort((a, b) => a.path.join(" ").localeCompare(b.path.join(" ")));
}

export function commandLabel(entry) {
  return `/${entry.path.join(" ")}`;
}

/** The entry whose full path the text starts with (longest wins), or null. */
export function matchEntry(text, entries) {
  let best = null;
  for (const entry of entries) {
    const head = commandLabel(entry);
    if (text === head || (text.startsWith(head) && /\s/.test(text[head.length]))) {
      if (!best || head.length > best.head.length) best = { entry, head };
    }
  }
  return best;
}

/** Entries a partially typed "/mus" could complete to. */
export function suggestEntries(text, entries) {
  const typed = text.trimStart().toLowerCase();
  return entries.filter((e) => commandLabel(e).toLowerCase().startsWith(typed));
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Split the text after a command's path into option values.
 * Returns {values: [{name, value, start, end, nameStart}], stray} with offsets into the whole text.
 */
export function parseOptions(text, head, options) {
  const rest = text.slice(head.length);
  const names = (options || []).map((o) => o.name).sort((a, b) => b.length - a.length);
  if (!names.length) return { values: [], stray: rest.trim() };
  const re = new RegExp(`(^|\\s)(${names.map(escapeRe).join("|")}):`, "g");
  const marks = [];
  for (const m of rest.matchAll(re)) {
    marks.push({ name: m[2], nameStart: m.index + m[1].length, valueStart: m.index + m[0].length });
  }
  const values = marks.map((mark, i) => {
    const end = i + 1 < marks.length ? marks[i + 1].nameStart : rest.length;
    const raw = rest.slice(mark.valueStart, end);
    return {
      name: mark.name,
      value: raw.trim(),
      start: head.length + mark.valueStart,
      end: head.length + end,
      nameStart: head.length + mark.nameStart,
    };
  });
  // A name given twice: the last one counts (as when a member retypes it).
  const last = new Map(values.map((v) => [v.name, v]));
  const stray = rest.slice(0, marks.length ? marks[0].nameStart : rest.length).trim();
  return { values: values.filter((v) => last.get(v.name) === v), all: values, stray };
}

/** Where the caret is: inside an option's value (focused) or not. */
export function focusedValue(parsed, caret) {
  return parsed.all?.find((v) => caret >= v.start && caret <= v.end) || null;
}

/**
 * Turn a typed value into what Discord's client sends for the option's type. `lookup` resolves names:
 * {user(name) -> id, channel(name) -> id, role(name) -> id}. `picked` is the choice chosen from a list
 * for this option ({name, value}), if the text still shows it.
 */
export function convertValue(option, value, { lookup = {}, picked = null } = {}) {
  if (picked && picked.name === value) return picked.value;
  const choice = (option.choices || []).find((c) => c.name.toLowerCase() === value.toLowerCase());
  if (choice) return choice.value;
  switch (option.type) {
    case OPTION.INTEGER:
      return /^[-+]?\d+$/.test(value) ? Number(value) : value;
    case OPTION.NUMBER: {
      const n = Number(value);
      return value !== "" && Number.isFinite(n) ? n : value;
    }
    case OPTION.BOOLEAN:
      if (/^(true|yes|y|on|1)$/i.test(value)) return true;
      if (/^(false|no|n|off|0)$/i.test(value)) return false;
      return value;
    case OPTION.USER:
    case OPTION.MENTIONABLE: {
      const m = /^<@[!&]?(\d+)>$/.exec(value) || /^(\d{5,20})$/.exec(value);
      if (m) return m[1];
      const name = value.replace(/^@/, "");
      return lookup.user?.(name) || (option.type === OPTION.MENTIONABLE && lookup.role?.(name)) || value;
    }
    case OPTION.ROLE: {
      const m = /^<@&(\d+)>$/.exec(value) || /^(\d{5,20})$/.exec(value);
      return m ? m[1] : lookup.role?.(value.replace(/^@/, "")) || value;
    }
    case OPTION.CHANNEL: {
      const m = /^<#(\d+)>$/.exec(value) || /^(\d{5,20})$/.exec(value);
      return m ? m[1] : lookup.channel?.(value.replace(/^#/, "")) || value;
    }
    default:
      return value;
  }
}

/** Nest leaf options under the subcommand (and group) path, as the interaction's data.options. */
export function nestOptions(entry, leafOptions) {
  const [, ...rest] = entry.path;
  if (rest.length === 2) {
    return [{ type: OPTION.SUB_COMMAND_GROUP, name: rest[0], options: [{ type: OPTION.SUB_COMMAND, name: rest[1], options: leafOptions }] }];
  }
  if (rest.length === 1) return [{ type: OPTION.SUB_COMMAND, name: rest[0], options: leafOptions }];
  return leafOptions;
}

/** Required options not given (Discord's client will not send the command without them). */
export function missingRequired(entry, parsed) {
  const given = new Set(parsed.values.filter((v) => v.value !== "").map((v) => v.name));
  return entry.options.filter((o) => o.required && !given.has(o.name)).map((o) => o.name);
}

/** Can a member with these permission bits see this command? (default_member_permissions; "0" = admins.) */
export function visibleTo(command, permissions) {
  const needed = command.default_member_permissions;
  if (needed === null || needed === undefined) return true;
  const have = BigInt(permissions ?? 0);
  if (have & 8n) return true; // Administrator
  const want = BigInt(needed);
  return want !== 0n && (have & want) === want;
}
