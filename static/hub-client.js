/**
 * hub-client.js — a small reusable client for the hub's websocket protocol v1 (docs/protocol.md).
 * Plain ES module, no dependencies, no build step. Full API: docs/client.md.
 *
 *   import { HubClient } from "/hub-client.js";
 *   const hub = new HubClient({ url: "ws://host/ws", getToken: ({ forceRefresh }) => api.token({ forceRefresh }) });
 *   hub.on("state", ({ state }) => …);              // "connecting" | "open" | "reconnecting" | "unauthorized" | "closed"
 *   const thread = hub.subscribe(`thread:${postId}`, {
 *     onReset: async () => refetchCommentsThroughRest(),   // `reset`: the log no longer reaches back; refetch
 *   });
 *   thread.on("comment.created", (comment, frame) => …);
 *   await hub.publish(`session:${id}`, "chat.message", { text: "hi" });
 *   hub.connect();
 *   // Binary msgpack frames instead of JSON text (subprotocol `hub.v1.msgpack`; same fields):
 *   new HubClient({ url, getToken, encoding: "msgpack" });
 *
 * What it guarantees to its callers:
 * - Requests (`request`, `publish`, `ping`) carry an integer `id`; each settles exactly once: with the
 *   reply's `result`, with a `HubError` carrying the reply's `code`, or with code `timeout` /
 *   `disconnected`.
 * - Durable channels (`feed`, `thread:`, `session:`, `user:`): the client keeps the last `seq` seen per
 *   channel and, after any reconnect, subscribes again with `since` = that seq, so each event is delivered
 *   to handlers once and in order. A duplicate (seq ≤ last) is dropped; a gap makes it resubscribe from
 *   the last seq. A `reset` frame moves the position to the head and calls the subscription's `onReset`,
 *   whose job is to refetch the channel's state through REST.
 * - State channels (`votes:`, `leaderboard:`): `onSnapshot` gets the reply's snapshot on every
 *   (re)subscribe; events carry absolute values.
 * - Presence (`session:`): `subscription.presence` is a Map user id → {metas: [...]}, replaced from the
 *   reply's `presence` on every (re)subscribe and kept from `presence` diffs (leaves, then joins,
 *   metas matched by `conn_id`).
 * - Reconnects use exponential backoff with jitter; close codes 1001 (server draining) and 4008 (slow
 *   consumer) mean "reconnect now". 4001 (auth) and 4003 (revoked) reconnect with a force-refreshed token.
 *   `close()` stops.
 * - The token is refreshed on the open connection (`auth` again) before `expires_at`.
 * - Heartbeat: a `ping` frame every `heartbeat_s`; hearing nothing for two intervals drops the socket
 *   and reconnects.
 * - Fallback: after `sseAfterFailures` websockets in a row that close before `auth` completes, the client
 *   carries on over Server-Sent Events and REST publishes (static/sse-transport.js) with the same API and
 *   guarantees, and tries websockets again every `wsRetryMs`.
 */

import { httpBaseOf, SseTransport } from "./sse-transport.js";

const DURABLE = /^(feed$|thread:|session:|user:)/;
const RECONNECT_NOW = new Set([1001, 4008]);
const HEARTBEAT_TIMEOUT_CODE = 4000; // client-chosen code in the private range
// The subprotocol each encoding offers. JSON offers none (the hub's default): a browser fails a handshake whose
// answer lacks an offered subprotocol, so this keeps working against servers that know none.
const SUBPROTOCOLS = { json: null, msgpack: "hub.v1.msgpack" };
// Vendored, unchanged @msgpack/msgpack UMD build (static/vendor/msgpack/README.md), loaded on first use only.
const MSGPACK_URL = new URL("./vendor/msgpack/msgpack.min.js", import.meta.url);
let msgpackLoading = null;

/** The msgpack codec (`{encode, decode}`): the vendored build, added as a same-origin script once. */
export function loadMsgpack() {
  if (globalThis.MessagePack) return Promise.resolve(globalThis.MessagePack);
  msgpackLoading ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = MSGPACK_URL.href;
    script.onload = () => resolve(globalThis.MessagePack);
    script.onerror = () => {
      msgpackLoading = null;
      script.remove();
      reject(new HubError("disconnected", "could not load the msgpack codec"));
    };
    document.head.append(script);
  });
  return msgpackLoading;
}

export class HubError extends Error {
  constructor(code, message, details) {
    super(message || code);
    this.name = "HubError";
    this.code = code;
    this.details = details;
  }
}

/** A tiny typed-event emitter: `on(type, fn)` returns an `off` function. */
class Emitter {
  #handlers = new Map();

  on(type, fn) {
    if (!this.#handlers.has(type)) this.#handlers.set(type, new Set());
    this.#handlers.get(type).add(fn);
    return () => this.#handlers.get(type)?.delete(fn);
  }

  listenersFor(type) {
    return [...(this.#handlers.get(type) || [])];
  }

  emit(type, ...args) {
    for (const fn of [...(this.#handlers.get(type) || [])]) {
      try {
        fn(...args);
      } catch (err) {
        // A faulty handler must not break delivery to the others.
        console.error(`hub-client: "${type}" handler failed`, err);
      }
    }
  }
}

/** One channel the application wants to be subscribed to, across reconnects. */
export class Subscription extends Emitter {
  constructor(client, channel, options) {
    super();
    this.client = client;
    this.channel = channel;
    this.durable = DURABLE.test(channel);
    /** Last sequence delivered to handlers (durable channels), or null before the first reply. */
    this.lastSeq = options.since ?? null;
    this.presence = new Map();
    this.active = true;
    this.options = options;
    this.pending = false; // a subscribe request is in flight
    this.buffer = []; // events that arrived before its reply
    this.ready = new Promise((resolve, reject) => {
      this._resolveReady = resolve;
      this._rejectReady = reject;
    });
    this.ready.catch(() => {}); // callers that never await `ready` must not see an unhandled rejection
  }

  /** Leave the channel; no handler of this subscription is called afterwards. */
  unsubscribe() {
    this.client._unsubscribe(this);
  }
}

export class HubClient extends Emitter {
  /**
   * @param {object} options
   * @param {string} options.url              ws:// or wss:// URL of `/ws`
   * @param {(o: {forceRefresh: boolean}) => Promise<string>} options.getToken  an access token
   * @param {number} [options.requestTimeoutMs=10000]
   * @param {{initialMs?: number, maxMs?: number, factor?: number, jitter?: number}} [options.backoff]
   * @param {number} [options.refreshMarginS=60]  refresh this long before `expires_at` (at most a third of the lifetime)
   * @param {number} [options.heartbeatS]  override the server's `heartbeat_s`
   * @param {typeof WebSocket} [options.WebSocket]
   * @param {"json"|"msgpack"} [options.encoding="json"]  wire encoding (docs/protocol.md, "Encodings")
   * @param {{encode: Function, decode: Function}} [options.codec]  msgpack codec; default: the vendored one
   * @param {number} [options.sseAfterFailures=3]  websockets in a row that never authenticate before SSE
   * @param {number} [options.wsRetryMs=60000]  on SSE, how long before trying websockets again
   * @param {string} [options.httpUrl]  the hub's http(s) origin for SSE and REST (default: from `url`)
   * @param {typeof EventSource} [options.EventSource]
   * @param {typeof fetch} [options.fetch]
   */
  constructor(options) {
    super();
    this.url = options.url;
    this.getToken = options.getToken;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.backoff = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5, ...(options.backoff || {}) };
    this.refreshMarginS = options.refreshMarginS ?? 60;
    this.heartbeatOverrideS = options.heartbeatS;
    this.WebSocketImpl = options.WebSocket || globalThis.WebSocket;
    this.encoding = options.encoding || "json";
    if (!(this.encoding in SUBPROTOCOLS)) throw new TypeError(`unknown encoding ${this.encoding}`);
    this._codec = options.codec || null;

    this.state = "idle";
    this.session = null; // the auth reply's result: user_id, expires_at, connection_id, heartbeat_s
    this.attempt = 0; // consecutive failed connection attempts
    this.reconnects = 0; // successful re-authentications after the first
    this._ws = null;
    this._nextId = 1;
    this._pending = new Map();
    this._subs = new Map();
    this._timers = { retry: null, refresh: null, heartbeat: null };
    this._lastHeard = 0;
    this._forceRefresh = false;
    this._stopped = true;
    this._everOpen = false;
    this._initFallback(options);
    this._onOnline = () => {
      if (this.state === "reconnecting") this._reconnectIn(0);
    };
  }

  // ---- lifecycle ---------------------------------------------------------------------------------------

  /** Start connecting (and keep reconnecting until `close()`). Resolves once authenticated. */
  connect() {
    if (this._stopped) {
      this._stopped = false;
      globalThis.addEventListener?.("online", this._onOnline);
      this._open();
    }
    if (this.state === "open") return Promise.resolve(this.session);
    return new Promise((resolve) => {
      const off = this.on("state", ({ state }) => {
        if (state === "open") {
          off();
          resolve(this.session);
        }
      });
    });
  }

  /** Close for good: no reconnect; pending requests fail with `disconnected`. */
  close() {
    this._stopped = true;
    globalThis.removeEventListener?.("online", this._onOnline);
    this._clearTimers();
    this._sse.close();
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      this._detach(ws);
      try {
        ws.close(1000, "client closed");
      } catch {
        /* already closing */
      }
    }
    this._failPending("disconnected");
    this._setState("closed");
  }

  async _open() {
    if (this._stopped) return;
    if (this.transport === "sse") {
      this._sse.open();
      return;
    }
    this._wsAuthed = false;
    this._setState("connecting");
    let token;
    try {
      token = await this.getToken({ forceRefresh: this._forceRefresh });
    } catch (err) {
      this._setState("unauthorized", { error: err });
      this.emit("unauthorized", err);
      return;
    }
    if (this._stopped) return;
    this._forceRefresh = false;
    let ws;
    try {
      await this._loadCodec();
      if (this._stopped) return;
      const subprotocol = SUBPROTOCOLS[this.encoding];
      ws = subprotocol ? new this.WebSocketImpl(this.url, subprotocol) : new this.WebSocketImpl(this.url);
    } catch (err) {
      this._scheduleReconnect(null);
      return;
    }
    if (this.encoding === "msgpack") ws.binaryType = "arraybuffer";
    this._ws = ws;
    ws.onopen = () => this._authenticate(ws, token);
    ws.onmessage = (message) => {
      if (ws !== this._ws) return;
      this._lastHeard = Date.now();
      let frame;
      try {
        frame = this._decodeFrame(message.data);
      } catch {
        return;
      }
      this._onFrame(frame);
    };
    ws.onclose = (close) => {
      if (ws === this._ws) this._onDisconnect(close.code, close.reason);
    };
    ws.onerror = () => {}; // a close event always follows
  }

  async _authenticate(ws, token) {
    if (ws !== this._ws) return;
    this._lastHeard = Date.now();
    let result;
    try {
      result = await this._send({ op: "auth", token });
    } catch (err) {
      if (ws !== this._ws) return;
      if (["unauthorized", "token_expired", "token_revoked"].includes(err.code)) this._forceRefresh = true;
      this._drop(ws, 4001, "auth failed");
      return;
    }
    if (ws !== this._ws) return;
    this.session = result;
    this._wsAuthed = true;
    this._wsFailures = 0;
    this.attempt = 0;
    if (this._everOpen) this.reconnects += 1;
    this._everOpen = true;
    this._scheduleRefresh(result.expires_at);
    this._startHeartbeat(this.heartbeatOverrideS ?? result.heartbeat_s ?? 25);
    this._setState("open");
    for (const sub of this._subs.values()) this._sendSubscribe(sub);
  }

  _onDisconnect(code, reason) {
    const ws = this._ws;
    if (ws) this._detach(ws);
    this._ws = null;
    clearInterval(this._timers.heartbeat);
    clearTimeout(this._timers.refresh);
    this._failPending("disconnected");
    for (const sub of this._subs.values()) {
      sub.pending = false;
      sub.buffer = [];
    }
    this.emit("disconnect", { code, reason });
    if (this._stopped) return;
    if (this.transport === "websocket" && !this._wsAuthed) this._websocketFailed();
    if (code === 4001 || code === 4003) this._forceRefresh = true;
    this._scheduleReconnect(code);
  }

  /** Abandon a socket now (a dead peer may never finish a close handshake) and go through reconnect. */
  _drop(ws, code, reason) {
    try {
      ws.close(code === 4001 ? 4001 : HEARTBEAT_TIMEOUT_CODE, reason);
    } catch {
      /* ignore */
    }
    if (ws === this._ws) this._onDisconnect(code, reason);
  }

  _detach(ws) {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
  }

  // ---- encoding (the hooks a transport's frames go through) ---------------------------------------------

  async _loadCodec() {
    if (this.encoding === "msgpack" && !this._codec) this._codec = await loadMsgpack();
  }

  /** A client frame as the socket sends it: JSON text, or msgpack bytes. */
  _encodeFrame(frame) {
    // `ignoreUndefined`: a field left undefined is absent, as JSON.stringify leaves it out.
    return this.encoding === "msgpack" ? this._codec.encode(frame, { ignoreUndefined: true }) : JSON.stringify(frame);
  }

  /** A server frame from what the socket received; throws on anything undecodable (the frame is then ignored). */
  _decodeFrame(data) {
    if (this.encoding !== "msgpack") return JSON.parse(data);
    if (typeof data === "string") throw new TypeError("text frame on a msgpack connection");
    return this._codec.decode(new Uint8Array(data));
  }

  /** Delay before the next attempt: exponential in the attempt number, capped, with jitter. */
  nextDelayMs(attempt) {
    const { initialMs, maxMs, factor, jitter } = this.backoff;
    const ceiling = Math.min(maxMs, initialMs * factor ** attempt);
    return Math.round(ceiling * (1 - jitter * Math.random()));
  }

  _scheduleReconnect(code) {
    if (RECONNECT_NOW.has(code)) {
      this.attempt = 0;
      this._reconnectIn(0);
      return;
    }
    const delay = this.nextDelayMs(this.attempt);
    this.attempt += 1;
    this._reconnectIn(delay);
  }

  _reconnectIn(delayMs) {
    clearTimeout(this._timers.retry);
    this._setState("reconnecting", { retryInMs: delayMs, attempt: this.attempt });
    this._timers.retry = setTimeout(() => this._open(), delayMs);
  }

  _setState(state, extra = {}) {
    this.state = state;
    this.emit("state", { state, ...extra });
  }

  _clearTimers() {
    clearTimeout(this._timers.retry);
    clearTimeout(this._timers.refresh);
    clearInterval(this._timers.heartbeat);
  }

  // ---- token refresh and heartbeat -------------------------------------------------------------------

  _scheduleRefresh(expiresAt) {
    clearTimeout(this._timers.refresh);
    if (!expiresAt) return;
    const lifetimeS = expiresAt - Date.now() / 1000;
    const marginS = Math.min(this.refreshMarginS, Math.max(lifetimeS, 0) / 3);
    const inMs = Math.max(0, (lifetimeS - marginS) * 1000);
    this._timers.refresh = setTimeout(() => this.refreshToken().catch(() => {}), inMs);
  }

  /** Fetch a fresh token and send `auth` again on the open connection. */
  async refreshToken() {
    const token = await this.getToken({ forceRefresh: true });
    const result = await this.request({ op: "auth", token });
    this.session = { ...this.session, ...result };
    this._scheduleRefresh(result.expires_at);
    this.emit("token", result);
    return result;
  }

  _startHeartbeat(intervalS) {
    clearInterval(this._timers.heartbeat);
    const intervalMs = intervalS * 1000;
    let sinceLastPing = 0;
    const tickMs = intervalMs / 2;
    this._timers.heartbeat = setInterval(() => {
      const ws = this._ws;
      if (!ws) return;
      if (Date.now() - this._lastHeard > 2 * intervalMs) {
        this._drop(ws, HEARTBEAT_TIMEOUT_CODE, "heartbeat timeout");
        return;
      }
      sinceLastPing += tickMs;
      if (sinceLastPing >= intervalMs) {
        sinceLastPing = 0;
        this.ping().catch(() => {});
      }
    }, tickMs);
  }

  // ---- requests ------------------------------------------------------------------------------------

  /** Send a frame with a fresh `id`; resolves with the reply's `result`. Needs an open connection. */
  request(frame, { timeoutMs } = {}) {
    if (this.state !== "open") return Promise.reject(new HubError("disconnected", "not connected"));
    if (this.transport === "sse") return this._sse.request(frame, timeoutMs ?? this.requestTimeoutMs);
    return this._send(frame, timeoutMs);
  }

  _send(frame, timeoutMs = this.requestTimeoutMs) {
    const ws = this._ws;
    if (!ws || ws.readyState !== 1) return Promise.reject(new HubError("disconnected", "not connected"));
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new HubError("timeout", `no reply to ${frame.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this._pending.set(id, { resolve, reject, timer, frame });
      ws.send(this._encodeFrame({ ...frame, id }));
    });
  }

  _failPending(code) {
    for (const [id, pending] of this._pending) {
      clearTimeout(pending.timer);
      pending.reject(new HubError(code, "connection lost before the reply"));
      this._pending.delete(id);
    }
  }

  /** Round trip in milliseconds. */
  async ping() {
    const started = performance.now();
    await this.request({ op: "ping" });
    return performance.now() - started;
  }

  /** Send a client event (protocol.md "Client publishes"). Resolves with the reply's result. */
  publish(channel, event, data = {}) {
    return this.request({ op: "publish", channel, event, data });
  }

  // ---- subscriptions --------------------------------------------------------------------------------

  /**
   * Subscribe (now, or as soon as connected) and stay subscribed across reconnects.
   * @param {string} channel
   * @param {object} [options]
   * @param {number} [options.since]   resume position for a durable channel
   * @param {(frame) => any} [options.onReset]      refetch through REST; awaited before later events
   * @param {(snapshot, result) => void} [options.onSnapshot]
   * @param {(presence: Map, diff) => void} [options.onPresence]
   * @param {(error: HubError) => void} [options.onError]  the server refused the subscription
   * @returns {Subscription}
   */
  subscribe(channel, options = {}) {
    const existing = this._subs.get(channel);
    if (existing) existing.unsubscribe();
    const sub = new Subscription(this, channel, options);
    if (options.onReset) sub.on("reset", options.onReset);
    if (options.onSnapshot) sub.on("snapshot", options.onSnapshot);
    if (options.onPresence) sub.on("presence", options.onPresence);
    if (options.onError) sub.on("error", options.onError);
    this._subs.set(channel, sub);
    if (this.state === "open") this._sendSubscribe(sub);
    return sub;
  }

  /** The active subscription of a channel, if any. */
  subscription(channel) {
    return this._subs.get(channel);
  }

  _sendSubscribe(sub) {
    if (this.transport === "sse") {
      this._sse.reopenSoon(); // its stream's reply settles the subscription
      return;
    }
    const frame = { op: "subscribe", channel: sub.channel };
    if (sub.durable && sub.lastSeq !== null) frame.since = sub.lastSeq;
    sub.pending = true;
    sub.buffer = [];
    const ws = this._ws;
    this._send(frame).then(
      (result) => {
        if (ws !== this._ws || !sub.active) return;
        this._onSubscribed(sub, result);
      },
      (err) => {
        if (ws !== this._ws || !sub.active || err.code === "disconnected") return;
        if (err.code === "timeout") {
          this._drop(ws, HEARTBEAT_TIMEOUT_CODE, "subscribe timed out");
          return;
        }
        sub.pending = false;
        sub.active = false;
        this._subs.delete(sub.channel);
        sub._rejectReady(err);
        sub.emit("error", err);
        this.emit("error", err);
      },
    );
  }

  _onSubscribed(sub, result) {
    sub.pending = false;
    if (sub.durable && sub.lastSeq === null) sub.lastSeq = result.seq ?? 0;
    if (result.presence) {
      sub.presence = new Map(Object.entries(result.presence).map(([user, entry]) => [user, { metas: [...entry.metas] }]));
      sub.emit("presence", sub.presence, { joins: result.presence, leaves: {}, full: true });
    }
    if (result.snapshot !== undefined && result.snapshot !== null) sub.emit("snapshot", result.snapshot, result);
    sub._resolveReady(result);
    sub.emit("subscribed", result);
    const buffered = sub.buffer;
    sub.buffer = [];
    for (const frame of buffered) this._onEvent(frame);
  }

  _unsubscribe(sub) {
    if (!sub.active) return;
    sub.active = false;
    if (this._subs.get(sub.channel) === sub) this._subs.delete(sub.channel);
    if (this.state === "open") this.request({ op: "unsubscribe", channel: sub.channel }).catch(() => {});
  }

  /** Our position is behind what arrived: ask again from the last delivered seq. */
  _resync(sub) {
    if (sub.pending) return;
    sub.pending = true;
    this.request({ op: "unsubscribe", channel: sub.channel })
      .catch(() => {})
      .then(() => {
        if (sub.active && this.state === "open") this._sendSubscribe(sub);
      });
  }

  // ---- fallback to Server-Sent Events (static/sse-transport.js) --------------------------------------

  _initFallback(options) {
    this.sseAfterFailures = options.sseAfterFailures ?? 3;
    this.wsRetryMs = options.wsRetryMs ?? 60_000;
    this.transport = "websocket"; // or "sse"
    this._wsFailures = 0; // websockets in a row that closed before `auth` completed
    this._wsAuthed = false;
    this._sse = new SseTransport(this, {
      baseUrl: options.httpUrl ?? httpBaseOf(this.url),
      EventSource: options.EventSource,
      fetch: options.fetch,
      HubError,
    });
  }

  _websocketFailed() {
    this._wsFailures += 1;
    if (this._wsFailures < this.sseAfterFailures || !this._sse.available) return;
    this.transport = "sse";
    this.attempt = 0;
    this.emit("transport", { transport: "sse" });
  }

  /** On SSE for `wsRetryMs`: try a websocket again; one that fails to authenticate goes back to SSE. */
  _retryWebsocket() {
    if (this._stopped || this.transport !== "sse") return;
    this._sse.close();
    this._onDisconnect(1001, "trying websockets again"); // still on SSE here: not a websocket failure
    this.transport = "websocket";
    this._wsFailures = this.sseAfterFailures - 1;
    this.emit("transport", { transport: "websocket" });
  }

  // ---- incoming frames ----------------------------------------------------------------------------

  _onFrame(frame) {
    switch (frame.op) {
      case "reply":
      case "pong": {
        const pending = this._pending.get(frame.id);
        if (!pending) return;
        this._pending.delete(frame.id);
        clearTimeout(pending.timer);
        if (frame.op === "pong" || frame.ok) pending.resolve(frame.result ?? {});
        else {
          const error = frame.error || {};
          pending.reject(new HubError(error.code || "internal", error.message, error.details));
        }
        return;
      }
      case "event":
        this._onEvent(frame);
        return;
      case "presence":
        this._onPresence(frame);
        return;
      case "reset":
        this._onReset(frame);
        return;
      case "error":
        this.emit("error", new HubError(frame.error?.code || "internal", frame.error?.message, frame.error?.details));
        return;
      default:
        return;
    }
  }

  _onEvent(frame) {
    const sub = this._subs.get(frame.channel);
    if (!sub) return;
    if (sub.pending || sub.resetting) {
      sub.buffer.push(frame);
      return;
    }
    if (sub.durable && typeof frame.seq === "number") {
      if (sub.lastSeq !== null && frame.seq <= sub.lastSeq) return; // already delivered
      if (sub.lastSeq !== null && frame.seq > sub.lastSeq + 1) {
        sub.buffer.push(frame);
        this._resync(sub);
        return;
      }
      sub.lastSeq = frame.seq;
    }
    sub.emit(frame.event, frame.data, frame);
    sub.emit("*", frame);
    this.emit(frame.event, frame.data, frame);
    this.emit("event", frame);
  }

  _onPresence(frame) {
    const sub = this._subs.get(frame.channel);
    if (!sub) return;
    applyPresenceDiff(sub.presence, frame);
    sub.emit("presence", sub.presence, frame);
    this.emit("presence", frame.channel, sub.presence, frame);
  }

  async _onReset(frame) {
    const sub = this._subs.get(frame.channel);
    if (!sub) return;
    sub.lastSeq = frame.seq;
    sub.resetting = true;
    try {
      await Promise.all(sub.listenersFor("reset").map((fn) => fn(frame)));
    } catch (err) {
      console.error("hub-client: reset handler failed", err);
    }
    sub.resetting = false;
    this.emit("reset", frame);
    const buffered = sub.buffer;
    sub.buffer = [];
    for (const event of buffered) this._onEvent(event);
  }
}

/**
 * Apply one presence diff (Phoenix style) to `state` (Map user → {metas}), in place:
 * leaves first (by `conn_id`), then joins (a meta with a known `conn_id` replaces it).
 */
export function applyPresenceDiff(state, { joins = {}, leaves = {} }) {
  for (const [user, entry] of Object.entries(leaves)) {
    const current = state.get(user);
    if (!current) continue;
    const gone = new Set(entry.metas.map((m) => m.conn_id));
    current.metas = current.metas.filter((m) => !gone.has(m.conn_id));
    if (current.metas.length === 0) state.delete(user);
  }
  for (const [user, entry] of Object.entries(joins)) {
    const current = state.get(user) || { metas: [] };
    const incoming = new Set(entry.metas.map((m) => m.conn_id));
    current.metas = current.metas.filter((m) => !incoming.has(m.conn_id)).concat(entry.metas);
    state.set(user, current);
  }
  return state;
}
