/**
 * sse-transport.js — the Server-Sent Events fallback of hub-client.js (docs/client.md, "Fallback to SSE").
 *
 * Where websocket upgrades are refused (some proxies and corporate networks), `HubClient` switches to this
 * transport by itself: one `EventSource` on `GET /sse` carries every channel the client is subscribed to,
 * each resumed from the client's last seq (`since=<channel>:<seq>`), and publishes go through
 * `POST /api/channels/{channel}/publish`. The frames are the websocket's, so `HubClient` handles them as it
 * does on a socket (order, duplicates, gaps, `reset`, presence). An `EventSource` cannot change its channels,
 * so a subscribe or unsubscribe opens a new stream (with a new single-use ticket) in place of the old one;
 * the resume makes the swap lose and repeat nothing.
 */

const FRAME_OPS = ["reply", "event", "presence", "reset", "error", "close"];

/** `ws[s]://host/ws` → `http[s]://host`. */
export function httpBaseOf(wsUrl) {
  const url = new URL(wsUrl, globalThis.location?.href);
  url.protocol = url.protocol === "wss:" ? "https:" : url.protocol === "ws:" ? "http:" : url.protocol;
  return url.origin;
}

export class SseTransport {
  /**
   * @param {import("./hub-client.js").HubClient} client
   * @param {{baseUrl: string, EventSource?: typeof EventSource, fetch?: typeof fetch, HubError: any}} options
   */
  constructor(client, options) {
    this.client = client;
    this.baseUrl = options.baseUrl;
    this.EventSourceImpl = options.EventSource || globalThis.EventSource;
    this.fetchImpl = options.fetch || globalThis.fetch?.bind(globalThis);
    this.HubError = options.HubError;
    this.source = null; // the open EventSource
    this.channels = new Set(); // what it streams
    this.closeCode = null; // from the server's `close` message, before the stream ends
    this._reopenQueued = false;
    this._wsRetry = null;
  }

  get available() {
    return Boolean(this.EventSourceImpl && this.fetchImpl);
  }

  /**
   * Open a stream for the client's subscriptions: the client's state goes "connecting", then "open"; with
   * `swap` (a new set of channels on an open client) it stays "open" and requests go on meanwhile.
   */
  async open({ swap = false } = {}) {
    const client = this.client;
    if (client._stopped) return;
    if (!swap) client._setState("connecting");
    let token;
    try {
      token = await client.getToken({ forceRefresh: client._forceRefresh });
    } catch (err) {
      client._setState("unauthorized", { error: err });
      client.emit("unauthorized", err);
      return;
    }
    client._forceRefresh = false;
    if (![...client._subs.values()].some((sub) => sub.active)) {
      this.channels = new Set();
      this._opened(null, swap); // nothing to stream yet: the first subscribe opens one
      return;
    }
    let ticket;
    try {
      ticket = await this._ticket(token);
    } catch (err) {
      if (err.code === "unauthorized" || err.code === "token_revoked") client._forceRefresh = true;
      client._onDisconnect(null, `no ticket: ${err.code}`);
      return;
    }
    if (client._stopped || client.transport !== "sse") return;
    const subs = [...client._subs.values()].filter((sub) => sub.active);
    this.channels = new Set(subs.map((sub) => sub.channel));
    const query = new URLSearchParams({ ticket });
    for (const sub of subs) {
      query.append("channel", sub.channel);
      if (sub.durable && sub.lastSeq !== null) query.append("since", `${sub.channel}:${sub.lastSeq}`);
      sub.pending = true; // its reply comes first on the stream; events before it wait in its buffer
      sub.buffer = [];
    }
    const source = new this.EventSourceImpl(`${this.baseUrl}/sse?${query}`);
    this.source = source;
    this.closeCode = null;
    source.onopen = () => {
      if (source === this.source) this._opened(source, swap);
    };
    // A ticket is single use: the browser's own reconnect (same URL) could only be refused. Every end of the
    // stream goes through the client's reconnect instead, which resumes from its last seqs.
    source.onerror = () => {
      if (source !== this.source) return;
      this._drop();
      client._onDisconnect(this.closeCode, "stream ended");
    };
    for (const op of FRAME_OPS) {
      source.addEventListener(op, (message) => {
        if (source !== this.source) return;
        client._lastHeard = Date.now();
        let frame;
        try {
          frame = JSON.parse(message.data);
        } catch {
          return;
        }
        this._onFrame(op, frame);
      });
    }
  }

  _opened(source, swap) {
    const client = this.client;
    client.attempt = 0;
    if (!swap) {
      if (client._everOpen) client.reconnects += 1;
      client._everOpen = true;
      client.session = { ...(client.session || {}), transport: "sse" };
      client._setState("open", { transport: "sse" });
    }
    // Subscribed while the stream was being set up: a stream that names them replaces this one.
    if ([...client._subs.values()].some((sub) => sub.active && !this.channels.has(sub.channel))) this.reopenSoon();
    clearTimeout(this._wsRetry);
    this._wsRetry = setTimeout(() => client._retryWebsocket(), client.wsRetryMs);
  }

  _onFrame(op, frame) {
    const client = this.client;
    if (op === "close") {
      this.closeCode = frame.code; // the stream ends next: a close code, as a socket's would be
      return;
    }
    if (frame.op === "reply") {
      const sub = frame.ok ? client._subs.get(frame.result?.channel) : null;
      if (sub && sub.active) client._onSubscribed(sub, frame.result);
      return;
    }
    const channel = frame.op === "error" ? frame.error?.details?.channel : null;
    const sub = channel ? client._subs.get(channel) : null;
    if (sub) {
      // The server refused the channel, or took it away (a cancelled registration, a kick).
      const err = new this.HubError(frame.error.code || "internal", frame.error.message, frame.error.details);
      sub.pending = false;
      sub.active = false;
      client._subs.delete(channel);
      sub._rejectReady(err);
      sub.emit("error", err);
      client.emit("error", err);
      return;
    }
    client._onFrame(frame);
  }

  /** Replace the stream with one for the client's current subscriptions (once per turn of the event loop). */
  reopenSoon() {
    if (this._reopenQueued) return;
    this._reopenQueued = true;
    queueMicrotask(() => {
      this._reopenQueued = false;
      const client = this.client;
      if (client._stopped || client.transport !== "sse" || client.state !== "open") return;
      this._drop();
      this.open({ swap: true });
    });
  }

  /** Requests of `HubClient.request` while on SSE. */
  request(frame, timeoutMs) {
    switch (frame.op) {
      case "publish":
        return this._publish(frame, timeoutMs);
      case "subscribe":
      case "unsubscribe":
        this.reopenSoon();
        return Promise.resolve({ channel: frame.channel });
      case "auth":
        return Promise.resolve({}); // the next stream's ticket is made with the fresh token
      default:
        return Promise.resolve({}); // `ping`: the stream's heartbeats keep it alive
    }
  }

  async _publish(frame, timeoutMs) {
    const token = await this.client.getToken({ forceRefresh: false });
    const response = await this._fetch(`/api/channels/${encodeURIComponent(frame.channel)}/publish`, token,
      { event: frame.event, data: frame.data ?? {} }, timeoutMs);
    return (await response.json()).result ?? {};
  }

  async _ticket(token) {
    const response = await this._fetch("/api/realtime/tickets", token, undefined, this.client.requestTimeoutMs);
    return (await response.json()).ticket;
  }

  async _fetch(path, token, body, timeoutMs) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs ?? this.client.requestTimeoutMs);
    let response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
      });
    } catch (err) {
      throw new this.HubError(err.name === "AbortError" ? "timeout" : "disconnected", String(err.message || err));
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) {
      let problem = {};
      try {
        problem = await response.json();
      } catch {
        /* not a problem document */
      }
      throw new this.HubError(problem.code || "internal", problem.detail || response.statusText, problem);
    }
    return response;
  }

  _drop() {
    const source = this.source;
    this.source = null;
    if (source) {
      source.onopen = source.onerror = null;
      source.close();
    }
  }

  /** Stop streaming (the client closes, or goes back to websockets). */
  close() {
    clearTimeout(this._wsRetry);
    this._wsRetry = null;
    this._drop();
  }
}
