/**
 * api.js — REST helper for the hub (docs: api.md): JSON in and out, problem-details errors as `ApiError`,
 * the signed-in session in localStorage, and access-token refresh.
 *
 * Refresh tokens rotate and a reused one revokes its whole family, so two refreshes must never race with
 * the same token: refreshes are serialised within a tab (one promise) and across tabs (Web Locks, when
 * available), and a tab re-reads storage first in case another tab already refreshed.
 */

const STORAGE_KEY = "hub.session";
const REFRESH_LOCK = "hub.refresh";
const MIN_VALIDITY_S = 60;

export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = problem.code || (status === 0 ? "network" : `http_${status}`);
    this.errors = problem.errors || {};
    this.problem = problem;
  }
}

/** The `exp` claim of a JWT, or 0 when it cannot be read. */
function tokenExpiry(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).exp || 0;
  } catch {
    return 0;
  }
}

export class Api extends EventTarget {
  constructor({ base = "", storage = globalThis.localStorage } = {}) {
    super();
    this.base = base;
    this.storage = storage;
    this._refreshing = null;
    globalThis.addEventListener?.("storage", (e) => {
      if (e.key === STORAGE_KEY) this.dispatchEvent(new Event("session"));
    });
  }

  /** `{access_token, refresh_token, expires_at, user}` or null. */
  get session() {
    try {
      return JSON.parse(this.storage.getItem(STORAGE_KEY));
    } catch {
      return null;
    }
  }

  get user() {
    return this.session?.user || null;
  }

  setSession(pair) {
    const session = {
      access_token: pair.access_token,
      refresh_token: pair.refresh_token,
      expires_at: pair.expires_at || tokenExpiry(pair.access_token),
      user: pair.user || this.session?.user || null,
    };
    this.storage.setItem(STORAGE_KEY, JSON.stringify(session));
    this.dispatchEvent(new Event("session"));
    return session;
  }

  clearSession() {
    this.storage.removeItem(STORAGE_KEY);
    this.dispatchEvent(new Event("session"));
  }

  /** A valid access token, refreshed when it expires within a minute (or when forced). */
  async token({ forceRefresh = false } = {}) {
    const session = this.session;
    if (!session) throw new ApiError(401, { code: "unauthorized", detail: "Not signed in" });
    const expiresAt = session.expires_at || tokenExpiry(session.access_token);
    if (!forceRefresh && expiresAt - Date.now() / 1000 > MIN_VALIDITY_S) return session.access_token;
    const fresh = await this.refresh(session.refresh_token);
    return fresh.access_token;
  }

  /** Exchanges `spent` (the refresh token we hold) for a new pair, once, whoever asks. */
  refresh(spent) {
    if (!this._refreshing) {
      const run = () => this._refreshOnce(spent);
      const locked = globalThis.navigator?.locks ? navigator.locks.request(REFRESH_LOCK, run) : run();
      this._refreshing = locked.finally(() => {
        this._refreshing = null;
      });
    }
    return this._refreshing;
  }

  async _refreshOnce(spent) {
    const current = this.session;
    if (!current) throw new ApiError(401, { code: "unauthorized", detail: "Not signed in" });
    // Another tab refreshed while we waited for the lock: its pair is ours too.
    if (current.refresh_token !== spent && current.expires_at - Date.now() / 1000 > MIN_VALIDITY_S) return current;
    try {
      const pair = await this.request("POST", "/api/auth/refresh", {
        body: { refresh_token: current.refresh_token },
        auth: false,
      });
      return this.setSession(pair);
    } catch (err) {
      if (err.status === 401) this.clearSession();
      throw err;
    }
  }

  /**
   * One REST call. `query` values that are null/undefined are left out; `idempotencyKey` sets the
   * Idempotency-Key header. A 401 with a token is retried once after a forced refresh.
   */
  async request(method, path, { body, query, auth = true, idempotencyKey, retried = false } = {}) {
    const url = new URL(this.base + path, globalThis.location?.href);
    for (const [k, v] of Object.entries(query || {})) if (v !== null && v !== undefined) url.searchParams.set(k, v);
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    if (auth && this.session) headers.Authorization = `Bearer ${await this.token()}`;
    let response;
    try {
      response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new ApiError(0, { code: "network", detail: "The hub cannot be reached" });
    }
    if (response.status === 401 && auth && this.session && !retried) {
      await this.token({ forceRefresh: true });
      return this.request(method, path, { body, query, auth, idempotencyKey, retried: true });
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = { detail: text };
      }
    }
    if (!response.ok) throw new ApiError(response.status, data || {});
    return data;
  }

  get(path, query) {
    return this.request("GET", path, { query });
  }

  post(path, body, options = {}) {
    return this.request("POST", path, { body, ...options });
  }

  put(path, body) {
    return this.request("PUT", path, { body });
  }

  patch(path, body) {
    return this.request("PATCH", path, { body });
  }

  del(path) {
    return this.request("DELETE", path);
  }

  /** Every item of a paginated list route (follows `next_cursor`, at most `maxPages` pages). */
  async all(path, query = {}, maxPages = 50) {
    const items = [];
    let cursor = null;
    for (let page = 0; page < maxPages; page += 1) {
      const data = await this.get(path, { ...query, limit: 100, cursor });
      items.push(...(Array.isArray(data) ? data : data.items || []));
      cursor = data.next_cursor;
      if (!cursor) break;
    }
    return items;
  }

  async signup(email, password, fullName) {
    const pair = await this.request("POST", "/api/auth/signup", {
      body: { email, password, full_name: fullName || null },
      auth: false,
    });
    return this.setSession(pair);
  }

  async login(email, password) {
    const pair = await this.request("POST", "/api/auth/login", { body: { email, password }, auth: false });
    return this.setSession(pair);
  }

  async logout() {
    const session = this.session;
    if (session) {
      try {
        await this.request("POST", "/api/auth/logout", { body: { refresh_token: session.refresh_token } });
      } catch {
        /* signing out locally is what matters */
      }
    }
    this.clearSession();
  }

  /** Refreshes the stored user from `GET /api/auth/me`. */
  async me() {
    const user = await this.get("/api/auth/me");
    const session = this.session;
    if (session) this.storage.setItem(STORAGE_KEY, JSON.stringify({ ...session, user }));
    return user;
  }
}

/** A fresh key for one logical create (kept across retries of the same submit). */
export function newIdempotencyKey() {
  return globalThis.crypto?.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}
