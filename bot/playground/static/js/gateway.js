// The gateway connection, as a Discord client keeps it: HELLO → IDENTIFY (the member's token) → READY, then
// heartbeats and dispatches. Reconnects with back-off; a new READY tells the app to resynchronise.

const OP = { DISPATCH: 0, HEARTBEAT: 1, IDENTIFY: 2, RESUME: 6, RECONNECT: 7, INVALID_SESSION: 9, HELLO: 10, HEARTBEAT_ACK: 11 };
// Close codes after which identifying again is pointless (bad token): stop and say so.
const FATAL_CLOSE = new Set([4004, 4010, 4011, 4012, 4013, 4014]);

export class Gateway {
  /** onDispatch(type, data); onStatus("connecting" | "connected" | "disconnected") */
  constructor({ url, token, onDispatch, onStatus }) {
    this.url = url;
    this.token = token;
    this.onDispatch = onDispatch;
    this.onStatus = onStatus || (() => {});
    this.seq = null;
    this.sessionId = null; // set by READY; a dropped connection RESUMEs it (missed events are replayed)
    this.ws = null;
    this.heartbeat = null;
    this.closed = false;
    this.attempt = 0;
  }

  connect() {
    this.closed = false;
    this.onStatus("connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("message", (event) => this.receive(ws, event));
    ws.addEventListener("close", (event) => this.dropped(ws, event.code));
    ws.addEventListener("error", () => ws.close());
  }

  close() {
    this.closed = true;
    clearInterval(this.heartbeat);
    this.ws?.close(1000);
  }

  send(op, d) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ op, d }));
  }

  receive(ws, event) {
    if (ws !== this.ws) return;
    let payload;
    try {
      payload = JSON.parse(event.data);
    } catch {
      return;
    }
    if (payload.s !== null && payload.s !== undefined) this.seq = payload.s;
    switch (payload.op) {
      case OP.HELLO: {
        const interval = Number(payload.d?.heartbeat_interval) || 41250;
        clearInterval(this.heartbeat);
        this.heartbeat = setInterval(() => this.send(OP.HEARTBEAT, this.seq), interval);
        if (this.sessionId) {
          this.send(OP.RESUME, { token: this.token, session_id: this.sessionId, seq: this.seq });
          break;
        }
        this.send(OP.IDENTIFY, {
          token: this.token,
          capabilities: 0,
          properties: { os: navigator.platform || "web", browser: "Tunesmith Playground", device: "" },
          presence: { status: "online", since: 0, activities: [], afk: false },
          compress: false,
        });
        break;
      }
      case OP.HEARTBEAT:
        this.send(OP.HEARTBEAT, this.seq);
        break;
      case OP.RECONNECT:
        ws.close(4000);
        break;
      case OP.INVALID_SESSION:
        // Not resumable (the server restarted, or the playground was reset): identify afresh.
        if (!payload.d) {
          this.sessionId = null;
          this.seq = null;
        }
        ws.close(4000);
        break;
      case OP.DISPATCH:
        if (payload.t === "READY" || payload.t === "RESUMED") {
          if (payload.t === "READY") this.sessionId = payload.d?.session_id || null;
          this.attempt = 0;
          this.onStatus("connected");
        }
        this.onDispatch(payload.t, payload.d);
        break;
      default:
        break;
    }
  }

  dropped(ws, code) {
    if (ws !== this.ws) return;
    clearInterval(this.heartbeat);
    if (FATAL_CLOSE.has(code)) {
      this.closed = true;
      this.onStatus("refused");
      return;
    }
    this.onStatus("disconnected");
    if (this.closed) return;
    // 0.5 s, 1 s, 2 s … at most 5 s between tries: the playground restarts in a few seconds.
    const delay = Math.min(500 * 2 ** this.attempt, 5000);
    this.attempt += 1;
    setTimeout(() => {
      if (!this.closed) this.connect();
    }, delay);
  }
}

export function gatewayUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/gateway?v=10&encoding=json`;
}
