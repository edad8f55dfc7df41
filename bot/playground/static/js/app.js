// The playground's page: a small Discord client for the local Discord-compatible server. It signs in as one of
// the playground's members ("Acting as"), keeps a gateway connection for live updates, and renders what
// Discord's client renders. Boot order: members → REST/gateway as the chosen member → READY → the channel.
import { Api, fetchMembers, resetPlayground } from "./api.js";
import { Chat } from "./chat.js";
import { Composer } from "./composer.js";
import { THREAD_ICON, h, icon } from "./dom.js";
import { intColour } from "./format.js";
import { revealSpoiler } from "./markdown.js";
import { Gateway, gatewayUrl } from "./gateway.js";
import { Interactions } from "./interactions.js";
import { MemberList } from "./members.js";
import { confirmDialog, showModal } from "./modal.js";
import { makeSnowflake } from "./snowflake.js";
import { startClock } from "./timestamps.js";

const ACTING_KEY = "tunesmith.playground.actingAs";
const AVATAR_PALETTE = ["#5865f2", "#757e8a", "#3ba55c", "#faa61a", "#ed4245", "#eb459f"];
const THREAD_TYPES = new Set([10, 11, 12]);
const TEXT_TYPES = new Set([0, 5]);
const ALL_PERMISSIONS = (1n << 53n) - 1n;

const $ = (id) => document.getElementById(id);

class App {
  constructor() {
    this.guild = null;
    this.me = null;
    this.sessionId = null;
    this.application = null;
    this.currentChannelId = null;
    this.commandsFetchedAt = 0;
    this.commandsLoading = null;
    this.playgroundMembers = [];
    this.chat = new Chat(this, { scroller: $("scroller"), historyTop: $("history-top"), listSlot: $("list-slot") });
    this.composer = new Composer(this, {
      form: $("composer"),
      textarea: $("composer-input"),
      popup: $("autocomplete"),
      hint: $("composer-hint"),
      fileInput: $("file-input"),
      uploadButton: $("upload-button"),
      filesBox: $("composer-files"),
    });
    this.interactions = new Interactions(this);
    this.memberList = new MemberList(this, $("members"));
    this.bindEvents();
    startClock();
  }

  // ---------- start, "Acting as", reset ----------

  async boot() {
    try {
      this.playgroundMembers = await fetchMembers();
    } catch (err) {
      this.toast(err.message);
      setTimeout(() => this.boot(), 2000);
      return;
    }
    const stored = localStorage.getItem(ACTING_KEY);
    const chosen =
      this.playgroundMembers.find((m) => m.id === stored) ||
      this.playgroundMembers.find((m) => m.is_owner) ||
      this.playgroundMembers[0];
    this.renderActingAs(chosen?.id);
    if (chosen) this.actAs(chosen);
  }

  renderActingAs(selectedId) {
    const select = $("acting-as");
    select.replaceChildren(
      ...this.playgroundMembers.map((m) =>
        h("option", { value: m.id, selected: m.id === selectedId, title: m.is_owner ? "the server's owner" : null },
          m.global_name || m.username)),
    );
  }

  actAs(member) {
    localStorage.setItem(ACTING_KEY, member.id);
    this.gateway?.close();
    document.querySelectorAll("dialog.modal").forEach((d) => d.remove());
    this.memberList.close();
    this.api = new Api(member.token);
    this.sessionId = null;
    this.chat.reset();
    this.composer.clear();
    this.gateway = new Gateway({
      url: gatewayUrl(),
      token: member.token,
      onDispatch: (t, d) => this.dispatch(t, d),
      onStatus: (status) => this.connection(status),
    });
    this.gateway.connect();
  }

  async reset() {
    const ok = await confirmDialog({
      title: "Reset the playground?",
      text: "This deletes every message, thread, attachment and role change in the playground and starts it afresh. The bot's own data (tracks, credits) is kept.",
      confirmLabel: "Reset",
    });
    if (!ok) return;
    try {
      await resetPlayground(this.api.token);
      location.reload();
    } catch (err) {
      this.toast(err.message);
    }
  }

  connection(status) {
    const el = $("connection");
    el.classList.toggle("down", status === "disconnected" || status === "refused");
    el.textContent = {
      connected: "",
      connecting: "Connecting…",
      disconnected: "Disconnected · reconnecting…",
      refused: "Signed out: this member's token was refused. Reload the page.",
    }[status];
  }

  toast(text) {
    const el = $("toast");
    el.textContent = text;
    el.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => {
      el.hidden = true;
    }, 5000);
  }

  // ---------- gateway ----------

  dispatch(type, d) {
    switch (type) {
      case "READY":
        this.ready(d);
        break;
      case "GUILD_CREATE":
      case "GUILD_UPDATE":
        if (d && (!this.guild || d.id === this.guild.id)) this.loadGuild(d);
        break;
      case "MESSAGE_CREATE":
        this.messageCreate(d);
        break;
      case "MESSAGE_UPDATE":
        this.interactions.sawMessage(d);
        this.chat.update(null, d);
        break;
      case "MESSAGE_DELETE":
        this.chat.remove(d.channel_id, d.id);
        this.countInThread(d.channel_id, -1);
        break;
      case "MESSAGE_DELETE_BULK":
        for (const id of d.ids || []) this.chat.remove(d.channel_id, id);
        break;
      case "CHANNEL_CREATE":
      case "CHANNEL_UPDATE":
      case "THREAD_CREATE":
      case "THREAD_UPDATE":
        this.upsertChannel(d);
        break;
      case "CHANNEL_DELETE":
      case "THREAD_DELETE":
        this.guild?.channels.delete(d.id);
        this.renderChannels();
        if (this.currentChannelId === d.id) this.navigate(d.parent_id || this.defaultChannel());
        break;
      case "THREAD_LIST_SYNC":
        for (const thread of d.threads || []) this.guild?.channels.set(thread.id, thread);
        this.renderChannels();
        break;
      case "GUILD_MEMBER_ADD":
      case "GUILD_MEMBER_UPDATE":
        this.upsertMember(d);
        break;
      case "GUILD_MEMBER_REMOVE":
        this.guild?.members.delete(d.user?.id);
        this.memberList.render();
        break;
      case "GUILD_ROLE_CREATE":
      case "GUILD_ROLE_UPDATE":
        if (d.role) this.guild?.roles.set(d.role.id, d.role);
        this.memberList.render();
        break;
      case "GUILD_ROLE_DELETE":
        this.guild?.roles.delete(d.role_id);
        this.memberList.render();
        break;
      case "TYPING_START":
        this.typingStart(d);
        break;
      case "APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE":
        this.composer.autocompleteResponse(d);
        break;
      case "INTERACTION_CREATE":
      case "INTERACTION_SUCCESS":
      case "INTERACTION_FAILURE":
      case "INTERACTION_MODAL_CREATE":
        this.interactions.handle(type, d);
        break;
      default:
        break;
    }
  }

  ready(d) {
    const again = this.sessionId !== null;
    this.me = d.user;
    this.sessionId = d.session_id;
    this.application = d.application || this.application;
    const guild = (d.guilds || [])[0];
    if (guild) this.loadGuild(guild);
    if (again) this.chat.reset(); // a new session after a drop: what we missed comes with the history
    this.renderMe();
    this.commandsFetchedAt = 0;
    this.refreshCommands();
    if (guild && !guild.channels) this.fetchGuild(guild.id);
    const fromHash = /^#\/channels\/(\d+)/.exec(location.hash)?.[1];
    const target = (again && this.currentChannelId) || (fromHash && this.guild?.channels.has(fromHash) ? fromHash : this.defaultChannel());
    if (target) this.navigate(target, { force: true });
  }

  async fetchGuild(guildId) {
    // READY without full guilds: the same data over REST.
    const [guild, channels, threads, members] = await Promise.all([
      this.api.get(`/guilds/${guildId}`),
      this.api.get(`/guilds/${guildId}/channels`),
      this.api.get(`/guilds/${guildId}/threads/active`).catch(() => ({ threads: [] })),
      this.api.get(`/guilds/${guildId}/members?limit=1000`),
    ]);
    this.loadGuild({ ...guild, channels, threads: threads.threads || [], members });
    if (!this.currentChannelId) this.navigate(this.defaultChannel(), { force: true });
  }

  loadGuild(g) {
    const old = this.guild;
    this.guild = {
      id: g.id,
      name: g.name,
      ownerId: g.owner_id,
      roles: new Map((g.roles || (old ? [...old.roles.values()] : [])).map((r) => [r.id, r])),
      channels: new Map([...(g.channels || []), ...(g.threads || [])].map((c) => [c.id, c])),
      members: new Map((g.members || []).map((m) => [m.user.id, m])),
    };
    if (!g.channels && old) this.guild.channels = old.channels;
    if (!g.members && old) this.guild.members = old.members;
    $("guild-name").textContent = g.name || "Tunesmith Playground";
    $("guild-icon").textContent = initials(g.name || "Tunesmith Playground");
    $("guild-icon").setAttribute("aria-label", g.name || "Tunesmith Playground");
    document.title = `#${this.channelName(this.currentChannelId) || "studio"} | ${g.name || "Tunesmith Playground"}`;
    this.renderChannels();
    this.memberList.render();
  }

  upsertChannel(channel) {
    if (!this.guild || !channel) return;
    const old = this.guild.channels.get(channel.id);
    this.guild.channels.set(channel.id, { ...old, ...channel });
    this.renderChannels();
    if (THREAD_TYPES.has(channel.type) && channel.parent_id) this.chat.refresh(channel.parent_id, channel.id);
    if (this.currentChannelId === channel.id) this.renderHeader();
  }

  upsertMember(d) {
    if (!this.guild || !d?.user) return;
    const old = this.guild.members.get(d.user.id) || {};
    this.guild.members.set(d.user.id, { ...old, ...d, user: { ...old.user, ...d.user } });
    this.memberList.render();
    if (d.user.id === this.me?.id) this.renderMe();
  }

  /** "Tunesmith is typing…": Discord shows it for 10 s or until that author's message arrives. */
  typingStart(d) {
    if (!d?.user_id || d.user_id === this.me?.id) return;
    this.typing ||= new Map();
    this.typing.set(`${d.channel_id}:${d.user_id}`, Date.now() + 10000);
    this.renderTyping();
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.renderTyping(), 10500);
  }

  renderTyping() {
    const now = Date.now();
    const names = [];
    for (const [key, until] of this.typing || []) {
      const [channelId, userId] = key.split(":");
      if (until < now) this.typing.delete(key);
      else if (channelId === this.currentChannelId) names.push(this.displayName(userId));
    }
    const el = $("typing");
    if (!names.length) el.replaceChildren();
    else if (names.length === 1) el.replaceChildren(h("strong", null, names[0]), " is typing…");
    else el.replaceChildren(h("strong", null, names.slice(0, -1).join(", ")), " and ", h("strong", null, names.at(-1)), " are typing…");
  }

  messageCreate(message) {
    if (this.typing?.delete(`${message.channel_id}:${message.author?.id}`)) this.renderTyping();
    this.interactions.sawMessage(message);
    this.chat.add(message);
    if (!(message.flags & 64)) this.countInThread(message.channel_id, 1);
  }

  /** A thread's starter shows "N Messages ›"; Discord sends no THREAD_UPDATE per message, so count here. */
  countInThread(channelId, delta) {
    const thread = this.guild?.channels.get(channelId);
    if (!thread || !THREAD_TYPES.has(thread.type)) return;
    thread.message_count = Math.max(0, (Number(thread.message_count) || 0) + delta);
    if (thread.parent_id) this.chat.refresh(thread.parent_id, thread.id);
  }

  // ---------- commands ----------

  refreshCommands() {
    if (!this.guild || !this.api || this.commandsLoading || Date.now() - this.commandsFetchedAt < 5000) return;
    this.commandsLoading = this.api
      .get(`/guilds/${this.guild.id}/application-command-index`)
      .then((index) => {
        this.commandsFetchedAt = Date.now();
        const apps = index?.applications || [];
        if (!this.application && apps[0]) this.application = apps[0];
        this.composer.setCommands(index?.application_commands || []);
      })
      .catch(() => {})
      .finally(() => {
        this.commandsLoading = null;
      });
  }

  // ---------- navigation and sidebar ----------

  defaultChannel() {
    const text = this.textChannels();
    return (text.find((c) => c.name === "studio") || text[0])?.id || null;
  }

  textChannels() {
    if (!this.guild) return [];
    return [...this.guild.channels.values()]
      .filter((c) => TEXT_TYPES.has(c.type))
      .sort((a, b) => (a.position ?? 0) - (b.position ?? 0) || a.name.localeCompare(b.name));
  }

  /** The message a thread was started from, when its channel's history is loaded here. */
  threadStarter(threadId) {
    const thread = this.guild?.channels.get(threadId);
    return thread?.parent_id ? this.chat.logs.get(thread.parent_id)?.byId.get(threadId) || null : null;
  }

  isThread(channelId) {
    return THREAD_TYPES.has(this.guild?.channels.get(channelId)?.type);
  }

  channelName(channelId) {
    return this.guild?.channels.get(channelId)?.name || "";
  }

  navigate(channelId, { force = false } = {}) {
    if (!channelId || (!force && channelId === this.currentChannelId)) return;
    this.currentChannelId = channelId;
    if (location.hash !== `#/channels/${channelId}`) history.replaceState(null, "", `#/channels/${channelId}`);
    this.renderChannels();
    this.renderHeader();
    this.composer.setChannel(this.channelName(channelId));
    this.renderTyping();
    this.chat.show(channelId);
  }

  renderHeader() {
    const channel = this.guild?.channels.get(this.currentChannelId);
    if (!channel) return;
    const title = $("chat-title");
    if (THREAD_TYPES.has(channel.type)) {
      const parent = this.guild.channels.get(channel.parent_id);
      title.replaceChildren(
        h("span", { class: "hash", "aria-hidden": "true" }, "#"),
        h("button", { type: "button", class: "crumb", "data-channel-id": parent?.id }, parent?.name || ""),
        h("span", { class: "hash", "aria-hidden": "true" }, "›"),
        icon(THREAD_ICON, { size: 20, className: "thread-icon" }),
        h("span", null, channel.name),
      );
    } else title.replaceChildren(h("span", { class: "hash", "aria-hidden": "true" }, "#"), channel.name);
    $("chat-topic").textContent = channel.topic || "";
    $("chat-topic").hidden = !channel.topic;
    document.title = `#${channel.name} | ${this.guild.name}`;
  }

  renderChannels() {
    if (!this.guild) return;
    const threadsOf = (id) =>
      [...this.guild.channels.values()]
        .filter((c) => THREAD_TYPES.has(c.type) && c.parent_id === id && !c.thread_metadata?.archived)
        .sort((a, b) => (a.id < b.id ? 1 : -1));
    const link = (channel, isThread) =>
      h("a", {
        class: "channel",
        href: `#/channels/${channel.id}`,
        "data-channel-id": channel.id,
        "aria-label": isThread ? channel.name : `#${channel.name}`,
        "aria-current": channel.id === this.currentChannelId ? "page" : null,
      },
      isThread ? null : h("span", { class: "hash", "aria-hidden": "true" }, "#"),
      h("span", { class: "name" }, channel.name));
    $("channel-list").replaceChildren(
      h("h2", { class: "category" }, "Text Channels"),
      h("ul", { class: "channel-list" },
        this.textChannels().map((channel) => {
          const threads = threadsOf(channel.id);
          return h("li", null, link(channel, false),
            threads.length ? h("ul", { class: "thread-list", "aria-label": `Threads in #${channel.name}` },
              threads.map((t) => h("li", null, link(t, true)))) : null);
        })),
    );
  }

  renderMe() {
    if (!this.me) return;
    const author = this.authorOf({ author: this.me });
    $("me").replaceChildren(
      h("div", { class: "avatar", style: { backgroundColor: author.avatarColor }, "aria-hidden": "true" }, author.initial),
      h("div", { class: "names" }, h("div", { class: "display" }, author.name), h("div", { class: "status" }, this.me.username)),
    );
    const select = $("acting-as");
    if (select.value !== this.me.id && [...select.options].some((o) => o.value === this.me.id)) select.value = this.me.id;
  }

  // ---------- what the renderers need ----------

  member(userId) {
    return this.guild?.members.get(userId) || null;
  }

  displayName(userId, user = null) {
    const member = this.member(userId);
    const u = user || member?.user || this.playgroundMembers.find((m) => m.id === userId);
    return member?.nick || u?.global_name || member?.user?.global_name || u?.username || "Unknown";
  }

  roleColour(role) {
    return intColour(role?.color);
  }

  memberColour(member) {
    if (!member || !this.guild) return null;
    const roles = (member.roles || []).map((id) => this.guild.roles.get(id)).filter((r) => r && r.color);
    roles.sort((a, b) => b.position - a.position);
    return roles.length ? this.roleColour(roles[0]) : null;
  }

  avatarColour(user) {
    const pg = this.playgroundMembers.find((m) => m.id === user.id);
    const raw = pg?.avatar_color;
    if (typeof raw === "string" && /^#[0-9a-f]{6}$/i.test(raw)) return raw;
    if (typeof raw === "number") return intColour(raw) || AVATAR_PALETTE[0];
    const accent = intColour(user.accent_color ?? this.member(user.id)?.user?.accent_color);
    if (accent) return accent;
    if (user.bot) return "#7c5cff";
    try {
      return AVATAR_PALETTE[Number((BigInt(user.id) >> 22n) % 6n)];
    } catch {
      return AVATAR_PALETTE[0];
    }
  }

  authorOf(message) {
    const user = message.author || {};
    const name = this.displayName(user.id, user);
    return {
      name,
      initial: (name.trim()[0] || "?").toUpperCase(),
      color: this.memberColour(this.member(user.id)),
      avatarColor: this.avatarColour(user),
      bot: Boolean(user.bot || this.member(user.id)?.user?.bot),
    };
  }

  renderContext() {
    if (this.ctx && this.ctxFor === this.guild) return this.ctx;
    this.ctxFor = this.guild;
    const self = this;
    this.ctx = {
      user: (id) => {
        const member = this.member(id);
        const pg = this.playgroundMembers.find((m) => m.id === id);
        return member || pg || this.me?.id === id ? { name: this.displayName(id) } : null;
      },
      channel: (id) => this.guild?.channels.get(id) || null,
      role: (id) => {
        const role = this.guild?.roles.get(id);
        return role ? { name: role.name, color: this.roleColour(role) } : null;
      },
      thread: (id) => (id ? this.guild?.channels.get(id) || null : null),
      message: (id) => (id ? this.chat.find(id)?.message || null : null),
      authorOf: (message) => this.authorOf(message),
      mentionsMe: (message) =>
        Boolean(this.me && ((message.mentions || []).some((u) => u.id === this.me.id) || message.mention_everyone)),
      selectOptions: (type) => {
        if (type === 5) return this.memberChoices().map((m) => ({ label: m.name, value: m.id }));
        if (type === 6) return this.roleChoices().map((r) => ({ label: r.name, value: r.id }));
        if (type === 7) return [...this.memberChoices(), ...this.roleChoices()].map((x) => ({ label: x.name, value: x.id }));
        if (type === 8) return this.channelChoices().map((c) => ({ label: `#${c.name}`, value: c.id }));
        return [];
      },
      get appName() {
        return self.application?.name || "The application";
      },
    };
    return this.ctx;
  }

  memberChoices() {
    return [...(this.guild?.members.values() || [])].map((m) => ({ id: m.user.id, name: this.displayName(m.user.id) }));
  }

  roleChoices() {
    return [...(this.guild?.roles.values() || [])].filter((r) => r.id !== this.guild.id).map((r) => ({ id: r.id, name: r.name }));
  }

  channelChoices() {
    return [...(this.guild?.channels.values() || [])].map((c) => ({ id: c.id, name: c.name }));
  }

  /** The acting member's guild permissions (a bitfield string), for hiding commands they cannot use. */
  myPermissions() {
    if (!this.guild || !this.me) return "0";
    if (this.guild.ownerId === this.me.id) return ALL_PERMISSIONS.toString();
    const member = this.member(this.me.id);
    let bits = BigInt(this.guild.roles.get(this.guild.id)?.permissions || 0);
    for (const id of member?.roles || []) bits |= BigInt(this.guild.roles.get(id)?.permissions || 0);
    return (bits & 8n ? ALL_PERMISSIONS : bits).toString();
  }

  newNonce() {
    return makeSnowflake();
  }

  /** A page-local reply only this member sees: "The application did not respond" and other failures. */
  localReply(channelId, text, commandName) {
    const bot = this.application?.bot || { id: this.application?.id || "0", username: this.application?.name || "Application", bot: true };
    this.chat.add({
      id: makeSnowflake(),
      channel_id: channelId,
      author: { ...bot, bot: true },
      content: text,
      flags: 64,
      type: 20,
      timestamp: new Date().toISOString(),
      embeds: [],
      attachments: [],
      components: [],
      interaction_metadata: commandName && this.me ? { id: "local", type: 2, user: this.me, name: commandName } : undefined,
      _local: true,
      _error: true,
    });
  }

  openModal(d) {
    showModal(d, {
      appName: d.application?.name || this.application?.name,
      appAvatar: "#7c5cff",
      submit: (components) => this.interactions.modalSubmit(d, components, this.currentChannelId),
    });
  }

  // ---------- delegated events ----------

  bindEvents() {
    $("acting-as").addEventListener("change", (event) => {
      const member = this.playgroundMembers.find((m) => m.id === event.target.value);
      if (member) this.actAs(member);
    });
    $("reset-button").addEventListener("click", () => this.reset());
    $("toggle-members").addEventListener("click", (event) => {
      const shown = $("app").classList.toggle("no-members") === false;
      event.currentTarget.setAttribute("aria-pressed", String(shown));
    });
    $("channel-list").addEventListener("click", (event) => {
      const link = event.target.closest("a[data-channel-id]");
      if (!link) return;
      event.preventDefault();
      this.navigate(link.dataset.channelId);
    });
    $("chat-title").addEventListener("click", (event) => {
      const crumb = event.target.closest("[data-channel-id]");
      if (crumb) this.navigate(crumb.dataset.channelId);
    });
    window.addEventListener("hashchange", () => {
      const id = /^#\/channels\/(\d+)/.exec(location.hash)?.[1];
      if (id && this.guild?.channels.has(id)) this.navigate(id);
    });
    const scroller = $("scroller");
    scroller.addEventListener("click", (event) => this.chatClick(event));
    scroller.addEventListener("keydown", (event) => {
      if ((event.key === "Enter" || event.key === " ") && event.target.classList.contains("spoiler")) {
        event.preventDefault();
        this.chatClick(event);
      }
    });
    scroller.addEventListener("change", (event) => {
      const select = event.target.closest("select[data-custom-id]");
      if (!select || select.multiple) return;
      const found = this.chat.find(select.closest("[data-message-id]")?.dataset.messageId);
      if (found && select.value) this.interactions.component(found.message, select, [select.value]);
    });
  }

  chatClick(event) {
    const target = event.target;
    const spoiler = target.closest(".spoiler:not(.revealed)");
    if (spoiler) {
      revealSpoiler(spoiler);
      return;
    }
    const messageId = target.closest("[data-message-id]")?.dataset.messageId;
    const found = messageId ? this.chat.find(messageId) : null;
    const linkButton = target.closest("button[data-url]");
    if (linkButton) {
      window.open(linkButton.dataset.url, "_blank", "noopener,noreferrer");
      return;
    }
    const button = target.closest("button[data-custom-id]");
    if (button && found && !button.disabled && !button.classList.contains("loading")) {
      this.interactions.component(found.message, button);
      return;
    }
    const apply = target.closest("button[data-apply-select]");
    if (apply && found) {
      const select = apply.parentElement.querySelector("select");
      const values = [...select.selectedOptions].map((o) => o.value);
      const min = Number(select.dataset.min);
      const max = Number(select.dataset.max);
      if (values.length < min || values.length > max) {
        this.toast(`Choose between ${min} and ${max} options.`);
        return;
      }
      this.interactions.component(found.message, select, values);
      return;
    }
    if (target.closest("[data-dismiss]") && found) {
      this.chat.remove(found.message.channel_id, found.message.id);
      return;
    }
    const thread = target.closest("[data-thread-id]");
    if (thread) {
      this.navigate(thread.dataset.threadId);
      return;
    }
    const channel = target.closest(".channel-mention[data-channel-id]");
    if (channel && this.guild?.channels.has(channel.dataset.channelId)) this.navigate(channel.dataset.channelId);
  }
}

function initials(name) {
  return name.split(/\s+/).filter(Boolean).map((w) => w[0]).join("").slice(0, 3).toUpperCase();
}

const app = new App();
window.playground = app; // for debugging in the browser console
app.boot();
