/**
 * app.js — the single-page shell: hash routes, the signed-in session, one HubClient for the whole app,
 * the connection indicator, the user's own notification channel (toasts and the bell), the user's blocks and view
 * lifecycles.
 *
 * A view module exports `render(root, ctx, params)`; it may return a cleanup function, called when the
 * route changes (unsubscribe there). `ctx` = {api, hub, user, toast, navigate, userEvents, blocks,
 * search (the header's search box)}.
 */

import { Api } from "./api.js";
import { Bell, describe } from "./bell.js";
import { clear, h, replace } from "./dom.js";
import { HubClient } from "./hub-client.js";
import { Blocks } from "./safety.js";
import { SearchBox } from "./search.js";
import * as accountView from "./views/account.js";
import * as authView from "./views/auth.js";
import * as feedView from "./views/feed.js";
import * as leaderboardView from "./views/leaderboard.js";
import * as lessonView from "./views/lesson.js";
import * as lessonsView from "./views/lessons.js";
import * as moderationView from "./views/moderation.js";
import * as notificationSettingsView from "./views/notification-settings.js";
import * as notificationsView from "./views/notifications.js";
import * as postView from "./views/post.js";
import * as progressView from "./views/progress.js";
import * as roomView from "./views/room.js";
import * as searchView from "./views/search.js";
import * as sessionsView from "./views/sessions.js";
import * as settingsView from "./views/settings.js";

const ROUTES = [
  { pattern: /^login$/, view: authView, public: true, params: () => ({ mode: "login" }) },
  { pattern: /^signup$/, view: authView, public: true, params: () => ({ mode: "signup" }) },
  { pattern: /^feed$/, view: feedView },
  { pattern: /^posts\/([0-9a-f-]{36})$/, view: postView, params: (m) => ({ id: m[1] }) },
  { pattern: /^lessons$/, view: lessonsView },
  { pattern: /^lessons\/([0-9a-f-]{36})$/, view: lessonView, params: (m) => ({ id: m[1] }) },
  { pattern: /^progress$/, view: progressView },
  { pattern: /^leaderboard(?:\/(daily|weekly|monthly|all_time))?$/, view: leaderboardView, params: (m) => ({ period: m[1] }) },
  { pattern: /^sessions$/, view: sessionsView },
  { pattern: /^sessions\/([0-9a-f-]{36})$/, view: roomView, params: (m) => ({ id: m[1] }) },
  { pattern: /^moderation$/, view: moderationView },
  { pattern: /^settings$/, view: settingsView },
  // Account pages from mailed links: `open` ones work signed in or out.
  { pattern: /^forgot$/, view: accountView, public: true, params: () => ({ mode: "forgot" }) },
  { pattern: /^verify\?(.*)$/, view: accountView, open: true, params: (m) => linkParams("verify", m[1]) },
  { pattern: /^reset\?(.*)$/, view: accountView, open: true, params: (m) => linkParams("reset", m[1]) },
  { pattern: /^email\/confirm\?(.*)$/, view: accountView, open: true, params: (m) => linkParams("email", m[1]) },
  { pattern: /^notifications$/, view: notificationsView },
  { pattern: /^settings\/notifications$/, view: notificationSettingsView },
  { pattern: /^search(?:\?(.*))?$/, view: searchView, params: (m) => ({ q: new URLSearchParams(m[1] || "").get("q")?.trim() || "" }) },
];

function linkParams(mode, query) {
  return { mode, token: new URLSearchParams(query).get("token") || "" };
}

const STATE_TEXT = {
  idle: "offline",
  connecting: "connecting…",
  open: "live",
  reconnecting: "reconnecting…",
  unauthorized: "signed out",
  closed: "offline",
};

const api = new Api();
const userEvents = new EventTarget();
let hub = null;
let userSub = null;
let blocks = null;
let bell = null;
let cleanup = null;

const view = document.getElementById("view");
const conn = document.getElementById("conn");
const whoami = document.getElementById("whoami");
const logoutButton = document.getElementById("logout");
const searchBox = new SearchBox(document.getElementById("search"), { api, navigate });

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const item = h("div", { class: `toast toast-${kind}` }, message);
  box.appendChild(item);
  setTimeout(() => item.remove(), 6000);
}

function navigate(path) {
  if (location.hash === `#/${path}`) route();
  else location.hash = `#/${path}`;
}

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

/** The realtime wire encoding: JSON unless this browser set `localStorage["hub.encoding"] = "msgpack"`. */
function wsEncoding() {
  try {
    return localStorage.getItem("hub.encoding") === "msgpack" ? "msgpack" : "json";
  } catch {
    return "json"; // storage disabled
  }
}

function showConnection({ state, retryInMs }) {
  conn.dataset.state = state;
  let text = STATE_TEXT[state] || state;
  if (state === "reconnecting" && retryInMs > 1000) text = `reconnecting in ${Math.round(retryInMs / 1000)} s`;
  conn.querySelector(".conn-text").textContent = text;
  document.body.dataset.connection = state;
}

// Notifications whose cause already has its own toast below.
const TOASTED_ALREADY = new Set(["achievement.unlocked", "session.promoted"]);

const USER_TOASTS = {
  "xp.awarded": (d) => `+${d.amount ?? d.xp_awarded ?? d.xp ?? 0} XP`,
  "level.up": (d) => `Level up! You reached level ${d.level ?? d.to ?? d.new_level}`,
  "achievement.unlocked": (d) => `Achievement unlocked: ${d.title ?? d.achievement?.title ?? d.code ?? ""}`,
  "session.promoted": (d) => `You got a seat in "${d.session?.title ?? "a workshop"}"`,
  "notification.created": (d) => (TOASTED_ALREADY.has(d.kind) ? null : describe(d)),
};

/** Connects the app's one HubClient for the signed-in user and listens to `user:<id>`. */
function startHub() {
  const user = api.user;
  if (hub || !user) return;
  blocks = new Blocks(api);
  hub = new HubClient({
    url: wsUrl(),
    getToken: ({ forceRefresh }) => api.token({ forceRefresh }),
    encoding: wsEncoding(),
  });
  window.hubClient = hub; // for debugging and the browser tests
  hub.on("state", showConnection);
  hub.on("unauthorized", () => signedOut());
  userSub = hub.subscribe(`user:${user.id}`);
  for (const [event, text] of Object.entries(USER_TOASTS)) {
    userSub.on(event, (data) => {
      const message = text(data);
      if (message) toast(message, event === "xp.awarded" ? "xp" : "success");
    });
  }
  userSub.on("*", (frame) => userEvents.dispatchEvent(new CustomEvent(frame.event, { detail: frame.data })));
  bell = new Bell(document.querySelector(".session-box"), { api, navigate, userEvents });
  hub.connect();
}

function stopHub() {
  if (!hub) return;
  hub.close();
  hub = null;
  bell.stop();
  bell = null;
  userSub = null;
  blocks = null;
  showConnection({ state: "idle" });
}

function signedOut() {
  stopHub();
  api.clearSession();
  navigate("login");
}

function renderHeader() {
  const user = api.user;
  replace(whoami, user ? h("span", { title: user.email }, user.profile?.full_name || user.email) : "");
  logoutButton.hidden = !user;
  document.getElementById("nav").hidden = !user;
  document.getElementById("search").hidden = !user;
  document.getElementById("nav-moderation").hidden = !user?.roles?.includes("admin");
  document.getElementById("verify-notice").hidden = !user || Boolean(user.email_confirmed_at);
  const current = location.hash.replace(/^#\/?/, "").split("/")[0];
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.route === current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function route() {
  const path = location.hash.replace(/^#\/?/, "");
  if (cleanup) {
    try {
      cleanup();
    } catch (err) {
      console.error(err);
    }
    cleanup = null;
  }
  const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  if (!match) {
    navigate(api.user ? "feed" : "login");
    return;
  }
  if (!match.r.public && !match.r.open && !api.user) {
    navigate("login");
    return;
  }
  if (match.r.public && api.user) {
    navigate("feed");
    return;
  }
  if (api.user) startHub();
  renderHeader();
  clear(view);
  const ctx = { api, hub, user: api.user, toast, navigate, userEvents, blocks, signedIn: onSignedIn, signedOut, search: searchBox };
  try {
    const result = await match.r.view.render(view, ctx, match.r.params ? match.r.params(match.m) : {});
    if (typeof result === "function") cleanup = result;
  } catch (err) {
    console.error(err);
    if (err.status === 401) {
      signedOut();
      return;
    }
    replace(view, h("div", { class: "error", role: "alert" }, `Could not load this page: ${err.message}`));
  }
}

/** After a new pair (login, signup, a verification or reset link, a password change): the socket starts again
 * on the new token, so a socket of the older one (revoked, or still unverified) cannot sign the tab out. */
function onSignedIn({ stay = false } = {}) {
  stopHub();
  startHub();
  if (stay) renderHeader();
  else navigate("feed");
}

logoutButton.addEventListener("click", async () => {
  stopHub();
  await api.logout();
  navigate("login");
});

api.addEventListener("session", () => {
  if (!api.session && hub) {
    stopHub();
    navigate("login");
  }
  renderHeader();
});

window.addEventListener("hashchange", route);
route();
