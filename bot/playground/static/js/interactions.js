// Interactions sent by the page, exactly as Discord's client sends them (POST /interactions with a nonce), and
// what the member sees until the answer comes: a button's loading dots, "This interaction failed", a slash
// command's "The application did not respond", a modal's error line.
import { makeSnowflake } from "./snowflake.js";

const TYPE = { COMMAND: 2, COMPONENT: 3, AUTOCOMPLETE: 4, MODAL_SUBMIT: 5 };
// The playground reports a missed 3 s deadline itself; this only guards against a lost event.
const LOCAL_TIMEOUT_MS = 15000;

export class Interactions {
  constructor(app) {
    this.app = app;
    this.pending = new Map(); // nonce -> {kind, ..., timer}
    this.idToNonce = new Map();
  }

  base(type, channelId, data) {
    const app = this.app;
    return {
      type,
      application_id: app.application?.id,
      guild_id: app.guild?.id,
      channel_id: channelId,
      session_id: app.sessionId,
      nonce: makeSnowflake(),
      data,
    };
  }

  async post(payload, files = []) {
    if (!files.length) return this.app.api.request("POST", "/interactions", { json: payload });
    const form = new FormData();
    form.append("payload_json", JSON.stringify(payload));
    files.forEach((file, i) => form.append(`files[${i}]`, file, file.name));
    return this.app.api.request("POST", "/interactions", { form });
  }

  track(nonce, entry) {
    entry.timer = setTimeout(() => this.settle(nonce, { ok: false, reason: "The application did not respond" }), LOCAL_TIMEOUT_MS);
    this.pending.set(nonce, entry);
  }

  /** A slash command. Errors from the playground itself (a refused request) show like a failure. */
  async command(channelId, data, files, label) {
    const payload = this.base(TYPE.COMMAND, channelId, data);
    if (!payload.application_id) payload.application_id = data.application_id;
    this.track(payload.nonce, { kind: "command", channelId, label });
    try {
      await this.post(payload, files);
    } catch (err) {
      this.settle(payload.nonce, { ok: false, reason: `The command was refused: ${err.message}` });
    }
    return payload.nonce;
  }

  /** Autocomplete for the focused option; the answer comes as APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE.
   * `sending(nonce)` is called before the request goes out: the answer may arrive on the gateway before the
   * POST's own response does (a busy machine), and must be recognised then. */
  async autocomplete(channelId, data, sending) {
    const payload = this.base(TYPE.AUTOCOMPLETE, channelId, data);
    if (sending) sending(payload.nonce);
    try {
      await this.post(payload);
    } catch {
      return null;
    }
    return payload.nonce;
  }

  /** A button or select on a message. */
  async component(message, control, values) {
    const componentType = Number(control.dataset.componentType);
    const data = { component_type: componentType, custom_id: control.dataset.customId };
    if (values) data.values = values;
    const payload = this.base(TYPE.COMPONENT, message.channel_id, data);
    payload.message_id = message.id;
    payload.message_flags = message.flags || 0;
    payload.application_id = message.application_id || message.webhook_id || message.author?.id || payload.application_id;
    const article = control.closest("[role=article]");
    const status = article?.querySelector(".interaction-status");
    if (status) status.replaceChildren();
    if (componentType === 2) {
      control.classList.add("loading");
      control.setAttribute("aria-busy", "true");
    }
    this.track(payload.nonce, { kind: "component", messageId: message.id, control, status });
    try {
      await this.post(payload);
    } catch (err) {
      this.settle(payload.nonce, { ok: false, reason: err.message });
    }
  }

  /** A modal's Submit: resolves true on success, or with the failure reason. */
  modalSubmit(modal, components, channelId) {
    const payload = this.base(TYPE.MODAL_SUBMIT, channelId, { id: modal.id, custom_id: modal.custom_id, components });
    if (modal.application?.id) payload.application_id = modal.application.id;
    return new Promise((resolve) => {
      this.track(payload.nonce, { kind: "modal", resolve });
      this.post(payload).catch((err) => this.settle(payload.nonce, { ok: false, reason: err.message }));
    });
  }

  /** Gateway events about our interactions. */
  handle(type, d) {
    if (!d) return;
    switch (type) {
      case "INTERACTION_CREATE":
        if (d.nonce && this.pending.has(d.nonce)) this.idToNonce.set(d.id, d.nonce);
        break;
      case "INTERACTION_SUCCESS":
        this.settle(d.nonce || this.idToNonce.get(d.id), { ok: true });
        break;
      case "INTERACTION_FAILURE":
        this.settle(d.nonce || this.idToNonce.get(d.id), { ok: false, reason: d.reason || "The application did not respond" });
        break;
      case "INTERACTION_MODAL_CREATE":
        this.settle(d.nonce || this.idToNonce.get(d.id), { ok: true });
        this.app.openModal(d);
        break;
      default:
        break;
    }
  }

  /** A message answering one of our interactions also settles it (in case the success event is missed). */
  sawMessage(message) {
    const id = message.interaction_metadata?.id || message.interaction?.id;
    const nonce = id && this.idToNonce.get(id);
    if (nonce) this.settle(nonce, { ok: true });
  }

  settle(nonce, { ok, reason }) {
    const entry = nonce && this.pending.get(nonce);
    if (!entry) return;
    this.pending.delete(nonce);
    clearTimeout(entry.timer);
    for (const [id, n] of this.idToNonce) if (n === nonce) this.idToNonce.delete(id);
    if (entry.kind === "component") {
      // The control may have been re-rendered by an edit meanwhile; the old one is gone then, nothing to reset.
      entry.control.classList.remove("loading");
      entry.control.removeAttribute("aria-busy");
      if (!ok && entry.status?.isConnected) {
        entry.status.replaceChildren("⚠ This interaction failed");
        entry.status.title = reason || "";
      } else if (!ok) {
        const found = this.app.chat.find(entry.messageId);
        found?.li?.querySelector(".interaction-status")?.replaceChildren("⚠ This interaction failed");
      }
    } else if (entry.kind === "command" && !ok) {
      this.app.localReply(entry.channelId, reason || "The application did not respond", entry.label);
    } else if (entry.kind === "modal") {
      entry.resolve(ok ? true : reason || "Something went wrong");
    }
  }
}
