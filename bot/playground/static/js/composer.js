// The composer: plain messages, files, and slash commands with Discord's autocomplete (commands, subcommands,
// options, choices, and the bot's own autocomplete for the focused option through type-4 interactions).
import { h } from "./dom.js";
import { fileSize } from "./format.js";
import {
  OPTION, commandLabel, convertValue, flattenCommands, focusedValue, matchEntry, missingRequired, nestOptions,
  parseOptions, suggestEntries, visibleTo,
} from "./slash.js";

const AUTOCOMPLETE_DELAY_MS = 200;
const TYPE_NAMES = {
  3: "text", 4: "integer", 5: "true/false", 6: "member", 7: "channel", 8: "role", 9: "member or role", 10: "number", 11: "file",
};

export class Composer {
  constructor(app, { form, textarea, popup, hint, fileInput, uploadButton, filesBox }) {
    this.app = app;
    this.form = form;
    this.ta = textarea;
    this.popup = popup;
    this.hint = hint;
    this.fileInput = fileInput;
    this.filesBox = filesBox;
    this.entries = [];
    this.picked = new Map(); // option name -> {name, value} chosen from a list
    this.optionFiles = new Map(); // attachment option name -> File
    this.messageFiles = []; // files for a plain message
    this.entryKey = null;
    this.items = [];
    this.active = -1;
    this.ac = { key: null, nonce: null, choices: null, timer: null };
    this.fileTarget = null;

    textarea.addEventListener("input", () => {
      this.autosize();
      this.refresh();
    });
    textarea.addEventListener("click", () => this.refresh());
    textarea.addEventListener("keyup", (e) => {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) this.refresh();
    });
    textarea.addEventListener("keydown", (e) => this.keydown(e));
    textarea.addEventListener("blur", () => setTimeout(() => {
      if (document.activeElement !== textarea) this.hide();
    }, 150));
    popup.addEventListener("mousedown", (e) => e.preventDefault());
    popup.addEventListener("click", (e) => {
      const li = e.target.closest("li[data-index]");
      if (li) this.apply(Number(li.dataset.index));
    });
    uploadButton.addEventListener("click", () => {
      this.fileTarget = null;
      fileInput.multiple = true;
      fileInput.click();
    });
    fileInput.addEventListener("change", () => this.filesChosen());
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.send();
    });
  }

  setChannel(name) {
    this.ta.setAttribute("aria-label", `Message #${name}`);
    this.ta.placeholder = `Message #${name}`;
    this.clear();
  }

  setCommands(commands) {
    this.commands = commands || [];
    this.entries = flattenCommands(this.commands);
    if (document.activeElement === this.ta) this.refresh();
  }

  clear() {
    this.ta.value = "";
    this.picked.clear();
    this.optionFiles.clear();
    this.messageFiles = [];
    this.renderFiles();
    this.autosize();
    this.hide();
    this.setHint("");
  }

  autosize() {
    this.ta.style.height = "auto";
    this.ta.style.height = `${Math.min(this.ta.scrollHeight, window.innerHeight / 2)}px`;
  }

  setHint(text, error = false) {
    this.hint.textContent = text;
    this.hint.classList.toggle("error", error);
  }

  // ----- suggestions -----

  hide() {
    this.popup.hidden = true;
    this.items = [];
    this.active = -1;
    this.ta.removeAttribute("aria-activedescendant");
  }

  show(title, items, active = 0) {
    if (!items.length) {
      this.hide();
      return;
    }
    this.items = items;
    this.active = Math.min(active, items.length - 1);
    const list = h("ul", { role: "listbox", id: "composer-suggestions", "aria-label": title },
      items.map((item, index) =>
        h("li", { role: "option", id: `suggestion-${index}`, "data-index": index, "aria-selected": index === this.active ? "true" : "false" },
          h("span", { class: "ac-name" }, item.label),
          item.description ? h("span", { class: "ac-desc" }, item.description) : h("span", { class: "ac-desc" }),
          item.tag ? h("span", { class: "ac-tag" }, item.tag) : null)));
    this.popup.replaceChildren(h("div", { class: "autocomplete-title", "aria-hidden": "true" }, title), list);
    this.popup.hidden = false;
    this.markActive();
  }

  showMessage(title, text) {
    this.items = [];
    this.active = -1;
    this.popup.replaceChildren(h("div", { class: "autocomplete-title" }, title), h("div", { class: "ac-empty", role: "status" }, text));
    this.popup.hidden = false;
  }

  markActive() {
    this.popup.querySelectorAll("li[role=option]").forEach((li, index) => {
      li.setAttribute("aria-selected", index === this.active ? "true" : "false");
      if (index === this.active) li.scrollIntoView({ block: "nearest" });
    });
    if (this.active >= 0) this.ta.setAttribute("aria-activedescendant", `suggestion-${this.active}`);
    else this.ta.removeAttribute("aria-activedescendant");
  }

  keydown(e) {
    if (!this.popup.hidden && this.items.length) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const step = e.key === "ArrowDown" ? 1 : -1;
        this.active = (this.active + step + this.items.length) % this.items.length;
        this.markActive();
        return;
      }
      if ((e.key === "Enter" && !e.shiftKey && this.active >= 0) || e.key === "Tab") {
        e.preventDefault();
        this.apply(this.active >= 0 ? this.active : 0);
        return;
      }
    }
    if (e.key === "Escape") {
      this.hide();
      return;
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.send();
    }
  }

  apply(index) {
    const item = this.items[index];
    if (!item) return;
    item.apply();
    this.ta.focus();
    this.autosize();
    this.refresh();
  }

  /** Replace text[start, end) and put the caret after it. */
  splice(start, end, text) {
    const value = this.ta.value;
    this.ta.value = value.slice(0, start) + text + value.slice(end);
    const caret = start + text.length;
    this.ta.setSelectionRange(caret, caret);
  }

  visibleEntries() {
    const perms = this.app.myPermissions();
    return this.entries.filter((e) => visibleTo(e.command, perms));
  }

  refresh() {
    const text = this.ta.value;
    const caret = this.ta.selectionStart ?? text.length;
    if (!text.startsWith("/")) {
      this.hide();
      this.setHint("");
      return;
    }
    this.app.refreshCommands();
    const match = matchEntry(text, this.entries);
    if (!match || caret <= match.head.length) {
      // Typing the command itself: suggest commands for what is before the caret; the options typed after the
      // command's name (if any) stay where they are.
      const end = match ? match.head.length : text.length;
      const entries = suggestEntries(text.slice(0, caret), this.visibleEntries()).slice(0, 25);
      this.setHint("");
      if (!entries.length && !this.entries.length) {
        this.showMessage("Commands", "No commands yet: the bot has not synced its commands.");
        return;
      }
      this.show("Commands", entries.map((entry) => ({
        label: commandLabel(entry),
        description: entry.description,
        tag: this.app.application?.name || "",
        apply: () => this.splice(0, end, `${commandLabel(entry)}${/\s/.test(text[end] || "") ? "" : " "}`),
      })));
      return;
    }
    const { entry, head } = match;
    const key = commandLabel(entry);
    if (key !== this.entryKey) {
      this.entryKey = key;
      this.picked.clear();
      this.optionFiles.clear();
    }
    const parsed = parseOptions(text, head, entry.options);
    const focus = focusedValue(parsed, caret);
    const used = new Set(parsed.values.map((v) => v.name));
    const before = text.slice(0, caret);
    const word = /(?:^|\s)([\w-]*)$/.exec(before)?.[1] ?? "";
    const wordStart = caret - word.length;
    const unused = entry.options
      .filter((o) => !used.has(o.name) && o.name.startsWith(word.toLowerCase()))
      .sort((a, b) => Number(Boolean(b.required)) - Number(Boolean(a.required)));
    const optionItems = unused.map((o) => ({
      label: o.name,
      description: o.description,
      tag: o.required ? "required" : TYPE_NAMES[o.type] || "",
      apply: () => {
        this.splice(wordStart, caret, `${o.name}:`);
        if (o.type === OPTION.ATTACHMENT) this.chooseFile(o.name);
      },
    }));
    if (!focus) {
      this.setHint(entry.description || "");
      this.show(`Options of ${key}`, optionItems);
      return;
    }
    const option = entry.options.find((o) => o.name === focus.name);
    this.setHint(`${option.name}: ${option.description || ""}`);
    const valueBeforeCaret = text.slice(focus.start, caret).trim();
    if (word && valueBeforeCaret !== word && optionItems.length) {
      // A new word inside a value may be the start of the next option's name; offered, not pre-selected,
      // so Enter still sends (a prompt may well contain "in" without meaning "instrumental:").
      this.show(`Options of ${key}`, optionItems, -1);
      return;
    }
    this.valueSuggestions(entry, parsed, focus, option);
  }

  valueSuggestions(entry, parsed, focus, option) {
    const value = focus.value;
    const lower = value.toLowerCase();
    const replace = (label, picked) => () => {
      this.picked.set(option.name, picked);
      // The range ends where the next option's name starts, so "label " keeps the separation.
      this.splice(focus.start, focus.end, `${label} `);
    };
    const chosen = this.picked.get(option.name);
    if (chosen && chosen.name === value) {
      this.hide();
      return;
    }
    const listOf = (title, choices) =>
      this.show(title, choices.map((c) => ({ label: c.name, apply: replace(c.name, { name: c.name, value: c.value }) })));
    if (option.choices?.length) {
      listOf(option.name, option.choices.filter((c) => c.name.toLowerCase().includes(lower)));
      return;
    }
    if (option.autocomplete) {
      this.autocomplete(entry, parsed, focus, option, listOf);
      return;
    }
    switch (option.type) {
      case OPTION.BOOLEAN:
        listOf(option.name, [{ name: "True", value: true }, { name: "False", value: false }].filter((c) => c.name.toLowerCase().startsWith(lower)));
        return;
      case OPTION.USER:
      case OPTION.MENTIONABLE: {
        const members = this.app.memberChoices().filter((m) => m.name.toLowerCase().includes(lower.replace(/^@/, "")));
        const roles = option.type === OPTION.MENTIONABLE ? this.app.roleChoices() : [];
        listOf(option.name, [...members, ...roles].map((m) => ({ name: `@${m.name}`, value: m.id })).slice(0, 25));
        return;
      }
      case OPTION.ROLE:
        listOf(option.name, this.app.roleChoices().filter((r) => r.name.toLowerCase().includes(lower.replace(/^@/, "")))
          .map((r) => ({ name: `@${r.name}`, value: r.id })));
        return;
      case OPTION.CHANNEL:
        listOf(option.name, this.app.channelChoices().filter((c) => c.name.toLowerCase().includes(lower.replace(/^#/, "")))
          .map((c) => ({ name: `#${c.name}`, value: c.id })));
        return;
      case OPTION.ATTACHMENT:
        this.show(option.name, [{
          label: this.optionFiles.get(option.name)?.name || "Choose a file…",
          description: option.description,
          apply: () => this.chooseFile(option.name),
        }]);
        return;
      default:
        this.hide();
    }
  }

  autocomplete(entry, parsed, focus, option, listOf) {
    const key = `${commandLabel(entry)}|${option.name}|${focus.value}|${parsed.values.map((v) => `${v.name}=${v.value}`).join("&")}`;
    if (this.ac.key === key && this.ac.choices) {
      if (!this.ac.choices.length) this.showMessage(option.name, "No options match your search.");
      else listOf(option.name, this.ac.choices);
      return;
    }
    if (this.ac.key === key) return; // already asked; the answer refreshes the list
    this.ac.key = key;
    this.ac.choices = null;
    this.showMessage(option.name, "Loading options…");
    clearTimeout(this.ac.timer);
    this.ac.timer = setTimeout(async () => {
      const options = this.buildOptions(entry, parsed, { focused: focus.name });
      const data = this.commandData(entry, options);
      const nonce = await this.app.interactions.autocomplete(this.app.currentChannelId, data, (sent) => {
        if (this.ac.key === key) this.ac.nonce = sent; // known before the answer can arrive
      });
      if (this.ac.key !== key) return;
      if (!nonce) {
        this.ac.choices = [];
        this.showMessage(option.name, "Loading options failed.");
        return;
      }
    }, AUTOCOMPLETE_DELAY_MS);
  }

  /** APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE. */
  autocompleteResponse(d) {
    if (!d || d.nonce !== this.ac.nonce) return;
    this.ac.choices = Array.isArray(d.choices) ? d.choices : [];
    if (document.activeElement === this.ta || !this.popup.hidden) this.refresh();
  }

  // ----- files -----

  chooseFile(optionName) {
    this.fileTarget = optionName;
    this.fileInput.multiple = false;
    this.fileInput.click();
  }

  filesChosen() {
    const files = [...this.fileInput.files];
    this.fileInput.value = "";
    if (!files.length) return;
    if (this.fileTarget) {
      // The file becomes the option's value in the text ("file:song.mp3"), as Discord's client shows it.
      const name = this.fileTarget;
      const file = files[0];
      this.optionFiles.set(name, file);
      const text = this.ta.value;
      const match = matchEntry(text, this.entries);
      const value = match && parseOptions(text, match.head, match.entry.options).values.find((v) => v.name === name);
      if (value) this.splice(value.start, value.end, `${file.name} `);
    } else {
      this.messageFiles.push(...files);
      this.renderFiles();
    }
    this.ta.focus();
    this.refresh();
  }

  renderFiles() {
    this.filesBox.replaceChildren(
      ...this.messageFiles.map((file, index) =>
        h("div", { class: "composer-file" }, `📎 ${file.name} (${fileSize(file.size)})`,
          h("button", { type: "button", class: "icon-button", "aria-label": `Remove ${file.name}`, "data-remove-file": index }, "✕"))),
    );
    this.filesBox.querySelectorAll("[data-remove-file]").forEach((b) =>
      b.addEventListener("click", () => {
        this.messageFiles.splice(Number(b.dataset.removeFile), 1);
        this.renderFiles();
      }));
  }

  // ----- sending -----

  lookup() {
    const byName = (list) => (name) => list.find((x) => x.name.toLowerCase() === name.toLowerCase())?.id;
    return { user: byName(this.app.memberChoices()), role: byName(this.app.roleChoices()), channel: byName(this.app.channelChoices()) };
  }

  /** Leaf options as sent. With `focused`, that option is sent raw with focused: true (autocomplete). */
  buildOptions(entry, parsed, { focused = null, files = null } = {}) {
    const lookup = this.lookup();
    const out = [];
    for (const v of parsed.values) {
      const option = entry.options.find((o) => o.name === v.name);
      if (!option) continue;
      if (v.name === focused) {
        out.push({ type: option.type, name: option.name, value: v.value, focused: true });
        continue;
      }
      if (v.value === "") continue;
      if (option.type === OPTION.ATTACHMENT) {
        const file = this.optionFiles.get(option.name);
        if (!files || !file) continue;
        out.push({ type: option.type, name: option.name, value: String(files.length) });
        files.push(file);
        continue;
      }
      out.push({ type: option.type, name: option.name, value: convertValue(option, v.value, { lookup, picked: this.picked.get(option.name) }) });
    }
    return out;
  }

  commandData(entry, options, files = []) {
    const command = entry.command;
    const data = { version: command.version, id: command.id, name: command.name, type: 1, options: nestOptions(entry, options) };
    if (command.guild_id) data.guild_id = command.guild_id;
    if (files.length) data.attachments = files.map((f, i) => ({ id: String(i), filename: f.name }));
    data.application_id = command.application_id;
    return data;
  }

  async send() {
    const text = this.ta.value;
    const channelId = this.app.currentChannelId;
    if (!channelId) return;
    const match = text.startsWith("/") ? matchEntry(text, this.entries) : null;
    if (match) {
      const { entry, head } = match;
      const parsed = parseOptions(text, head, entry.options);
      const missing = missingRequired(entry, parsed);
      if (missing.length) {
        this.setHint(`Missing required option${missing.length > 1 ? "s" : ""}: ${missing.join(", ")}`, true);
        return;
      }
      const missingFile = entry.options.find((o) => o.type === OPTION.ATTACHMENT && parsed.values.some((v) => v.name === o.name && v.value) && !this.optionFiles.get(o.name));
      if (missingFile) {
        this.setHint(`Choose a file for ${missingFile.name} (press Tab on it to pick one).`, true);
        return;
      }
      const files = [];
      const options = this.buildOptions(entry, parsed, { files });
      const data = this.commandData(entry, options, files);
      this.clear();
      await this.app.interactions.command(channelId, data, files, commandLabel(entry).slice(1));
      return;
    }
    if (!text.trim() && !this.messageFiles.length) return;
    const files = this.messageFiles;
    const body = { content: text, nonce: this.app.newNonce(), tts: false };
    this.clear();
    try {
      if (files.length) {
        const form = new FormData();
        form.append("payload_json", JSON.stringify({ ...body, attachments: files.map((f, i) => ({ id: i, filename: f.name })) }));
        files.forEach((f, i) => form.append(`files[${i}]`, f, f.name));
        await this.app.api.request("POST", `/channels/${channelId}/messages`, { form });
      } else await this.app.api.request("POST", `/channels/${channelId}/messages`, { json: body });
    } catch (err) {
      this.ta.value = text;
      this.setHint(err.status === 429 ? "You are sending messages too quickly. Wait a moment." : `Your message could not be sent: ${err.message}`, true);
    }
  }
}
