// The message list of the channel on screen. Each channel keeps its own <ol> and a map id → <li>, so a new,
// edited or deleted message touches one node (and its neighbour's grouping), never the whole list. History is
// paged 50 at a time when the top comes into view. Listeners are delegated on the scroller.
import { THREAD_ICON, h, icon } from "./dom.js";
import { compareIds } from "./snowflake.js";
import { applyGrouping, renderMessageItem } from "./render/message.js";

const PAGE = 50;

class ChannelLog {
  constructor(channelId) {
    this.channelId = channelId;
    this.messages = []; // sorted by id
    this.byId = new Map();
    this.nodes = new Map();
    this.list = h("ol", { class: "message-list", role: "list" });
    this.loaded = false;
    this.reachedStart = false;
    this.loading = null;
    this.scrollTop = null;
  }

  indexOf(id) {
    let lo = 0;
    let hi = this.messages.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareIds(this.messages[mid].id, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export class Chat {
  constructor(app, { scroller, historyTop, listSlot }) {
    this.app = app;
    this.scroller = scroller;
    this.historyTop = historyTop;
    this.listSlot = listSlot;
    this.logs = new Map();
    this.current = null;
    this.stick = true;
    scroller.addEventListener("scroll", () => {
      this.stick = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
    }, { passive: true });
    // Images and audio players grow after load: stay at the bottom if we were there.
    this.resize = new ResizeObserver(() => {
      if (this.stick) this.scrollToBottom();
    });
    this.resize.observe(historyTop); // a thread's starter message grows as its cover loads
    this.older = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.loadOlder();
    }, { root: scroller, rootMargin: "400px 0px 0px 0px" });
    this.older.observe(historyTop);
  }

  reset() {
    this.logs.clear();
    this.current = null;
    this.listSlot.replaceChildren();
  }

  log(channelId) {
    let log = this.logs.get(channelId);
    if (!log) {
      log = new ChannelLog(channelId);
      this.logs.set(channelId, log);
    }
    return log;
  }

  get currentLog() {
    return this.current ? this.logs.get(this.current) : null;
  }

  /** Show a channel (or thread): its cached list, or its latest page of history. */
  async show(channelId) {
    const previous = this.currentLog;
    if (previous) previous.scrollTop = this.stick ? null : this.scroller.scrollTop;
    if (previous) this.resize.unobserve(previous.list);
    this.current = channelId;
    const log = this.log(channelId);
    const name = this.app.channelName(channelId);
    log.list.setAttribute("aria-label", `Messages in #${name}`);
    this.listSlot.replaceChildren(log.list);
    this.resize.observe(log.list);
    this.renderTop(log);
    if (!log.loaded) await this.loadLatest(log);
    if (this.current !== channelId) return;
    if (log.scrollTop === null) this.scrollToBottom();
    else this.scroller.scrollTop = log.scrollTop;
    this.stick = log.scrollTop === null;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  renderTop(log) {
    const name = this.app.channelName(log.channelId);
    if (log.reachedStart) {
      const isThread = this.app.isThread(log.channelId);
      // A thread opens with its starter message, as in Discord (it lives in the parent channel).
      const starter = isThread ? this.app.threadStarter?.(log.channelId) : null;
      this.historyTop.replaceChildren(
        h("div", { class: "welcome" },
          h("div", { class: "hash-big", "aria-hidden": "true" }, isThread ? icon(THREAD_ICON, { size: 40 }) : "#"),
          h("h3", null, isThread ? name : `Welcome to #${name}!`),
          h("p", null, `This is the start of the ${isThread ? `${name} thread` : `#${name} channel`}.`)),
        starter ? h("ol", { class: "message-list thread-starter", "aria-label": "Thread starter" },
          renderMessageItem(starter, this.app.renderContext(), null)) : null,
      );
    } else if (log.loading) {
      this.historyTop.replaceChildren(h("div", { class: "loading-history" }, "Loading messages…"));
    } else this.historyTop.replaceChildren();
  }

  async loadLatest(log) {
    log.loading = this.app.api.get(`/channels/${log.channelId}/messages?limit=${PAGE}`);
    this.renderTop(log);
    try {
      const page = await log.loading;
      log.loaded = true;
      log.reachedStart = page.length < PAGE;
      this.insertMany(log, page);
      for (const message of log.pendingLive || []) this.insert(log, message);
      log.pendingLive = null;
    } catch (err) {
      this.historyTop.replaceChildren(h("div", { class: "loading-history" }, `Could not load messages: ${err.message}`));
      log.loading = null;
      return;
    }
    log.loading = null;
    if (this.current === log.channelId) this.renderTop(log);
  }

  async loadOlder() {
    const log = this.currentLog;
    if (!log || !log.loaded || log.reachedStart || log.loading || !log.messages.length) return;
    const oldest = log.messages[0].id;
    log.loading = this.app.api.get(`/channels/${log.channelId}/messages?limit=${PAGE}&before=${oldest}`);
    this.renderTop(log);
    try {
      const page = await log.loading;
      log.reachedStart = page.length < PAGE;
      // Keep the view where it was: measure the distance from the bottom before and after.
      const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
      this.insertMany(log, page);
      this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
    } catch {
      // A failed page is retried when the top comes into view again.
    } finally {
      log.loading = null;
      if (this.current === log.channelId) this.renderTop(log);
    }
    // Still at the top (short messages): keep going.
    if (this.current === log.channelId && this.scroller.scrollTop < 400) requestAnimationFrame(() => this.loadOlder());
  }

  /** Add a batch (a history page, newest first as Discord returns them) with one DOM insertion per run. */
  insertMany(log, messages) {
    const fresh = messages.filter((m) => !log.byId.has(m.id)).sort((a, b) => compareIds(a.id, b.id));
    if (!fresh.length) return;
    const firstIndex = log.indexOf(fresh[0].id);
    const contiguous = firstIndex === log.indexOf(fresh[fresh.length - 1].id);
    if (!contiguous) {
      for (const message of fresh) this.insert(log, message);
      return;
    }
    const before = log.messages[firstIndex - 1] || null;
    const after = log.messages[firstIndex] || null;
    const ctx = this.app.renderContext();
    const frag = document.createDocumentFragment();
    let prev = before;
    for (const message of fresh) {
      const li = renderMessageItem(message, ctx, prev);
      log.nodes.set(message.id, li);
      log.byId.set(message.id, message);
      frag.appendChild(li);
      prev = message;
    }
    log.messages.splice(firstIndex, 0, ...fresh);
    log.list.insertBefore(frag, after ? log.nodes.get(after.id) : null);
    if (after) applyGrouping(log.nodes.get(after.id), after, prev);
  }

  insert(log, message) {
    if (log.byId.has(message.id)) return this.update(log, message);
    const index = log.indexOf(message.id);
    const prev = log.messages[index - 1] || null;
    const next = log.messages[index] || null;
    const li = renderMessageItem(message, this.app.renderContext(), prev);
    log.messages.splice(index, 0, message);
    log.byId.set(message.id, message);
    log.nodes.set(message.id, li);
    log.list.insertBefore(li, next ? log.nodes.get(next.id) : null);
    if (next) applyGrouping(log.nodes.get(next.id), next, message);
    return li;
  }

  /** A live MESSAGE_CREATE (or a page-local message). Channels never opened load it with their history. */
  add(message) {
    let log = this.logs.get(message.channel_id);
    const localOnly = message._local || (message.flags & 64);
    if (!log) {
      if (!localOnly) return;
      // An ephemeral reply for a channel not opened yet: keep it for when it opens (it is in no history).
      log = this.log(message.channel_id);
    }
    if (!log.loaded) {
      (log.pendingLive ||= []).push(message);
      return;
    }
    const stick = this.stick && log.channelId === this.current;
    this.insert(log, message);
    if (stick) this.scrollToBottom();
  }

  /** MESSAGE_UPDATE: merge (updates may be partial) and re-render that one message. */
  update(log, partial) {
    log = log || this.logs.get(partial.channel_id);
    const existing = log?.byId.get(partial.id);
    if (!existing) return null;
    const merged = Object.assign(existing, partial);
    const index = log.indexOf(merged.id);
    const prev = log.messages[index - 1] || null;
    const old = log.nodes.get(merged.id);
    const li = renderMessageItem(merged, this.app.renderContext(), prev);
    old.replaceWith(li);
    log.nodes.set(merged.id, li);
    return li;
  }

  remove(channelId, id) {
    const log = this.logs.get(channelId);
    const li = log?.nodes.get(id);
    if (!li) return;
    const index = log.indexOf(id);
    log.messages.splice(index, 1);
    log.byId.delete(id);
    log.nodes.delete(id);
    li.remove();
    const next = log.messages[index];
    if (next) applyGrouping(log.nodes.get(next.id), next, log.messages[index - 1] || null);
  }

  /** Re-render messages matching a test (a thread's starter after THREAD_UPDATE, say). */
  refresh(channelId, id) {
    const log = this.logs.get(channelId);
    const message = log?.byId.get(id);
    if (message) this.update(log, { id, channel_id: channelId });
  }

  find(messageId) {
    for (const log of this.logs.values()) {
      const message = log.byId.get(messageId);
      if (message) return { log, message, li: log.nodes.get(messageId) };
    }
    return null;
  }
}
