/**
 * bell.js — the header's notification bell: the unread count (from `GET /api/auth/me`, then +1 per
 * `notification.created` on the user's own channel, live) and a panel with the newest notifications
 * (`GET /api/notifications`), each marked read when opened, "Mark all read", and links to the inbox and
 * the notification preferences. `describe` and `targetOf` are shared with the inbox page.
 */

import { h, replace, timeEl } from "./dom.js";

const PANEL_SIZE = 10;

const OUTCOME_TEXT = { dismiss: "no action was needed", remove_content: "the content was removed", ban_author: "the author was banned" };

const DESCRIBE = {
  "post.reply": (d) => `${d.author_name || "Someone"} commented on "${d.post_title}": ${d.excerpt}`,
  "comment.reply": (d) => `${d.author_name || "Someone"} replied to your comment on "${d.post_title}": ${d.excerpt}`,
  "session.promoted": (d) => `You got a seat in "${d.title}"`,
  "session.reminder": (d) => `"${d.title}" starts in 15 minutes`,
  "session.rescheduled": (d) => `"${d.title}" moved to ${new Date(d.scheduled_at).toLocaleString()}`,
  "session.cancelled": (d) => `"${d.title}" was cancelled`,
  "achievement.unlocked": (d) => `Achievement unlocked: ${d.title}`,
  "report.resolved": (d) => `A report you filed was reviewed: ${OUTCOME_TEXT[d.outcome] || "resolved"}`,
};

/** One line of text for an inbox item. */
export function describe(item) {
  const text = DESCRIBE[item.kind];
  return text ? text(item.data || {}) : "You have a new notification";
}

/** The route an item leads to, or null. */
export function targetOf(item) {
  const d = item.data || {};
  if (d.post_id) return `posts/${d.post_id}`;
  if (d.session_id) return `sessions/${d.session_id}`;
  if (item.kind === "achievement.unlocked") return "progress";
  return null;
}

export class Bell {
  /** `ctx`: {api, navigate, userEvents}. Mounts into `host` and listens until `stop()`. */
  constructor(host, { api, navigate, userEvents }) {
    this.api = api;
    this.navigate = navigate;
    this.userEvents = userEvents;
    this.unread = 0;
    this.count = h("span", { class: "bell-count", "aria-hidden": "true", hidden: true }, "0");
    this.button = h("button", { type: "button", class: "bell-button", "aria-expanded": "false", "aria-haspopup": "true", "aria-controls": "bell-panel", onclick: () => this.toggle() }, h("span", { class: "bell-icon", "aria-hidden": "true" }, "🔔"), this.count);
    this.list = h("ul", { class: "bell-list" });
    this.panel = h(
      "div",
      { id: "bell-panel", class: "bell-panel", hidden: true, role: "region", "aria-label": "Recent notifications" },
      h("div", { class: "bell-head" }, h("strong", {}, "Notifications"), h("button", { type: "button", class: "link", onclick: () => this.markAll() }, "Mark all read")),
      this.list,
      h("div", { class: "bell-foot" }, h("a", { href: "#/notifications", onclick: () => this.close() }, "All notifications"), h("a", { href: "#/settings/notifications", onclick: () => this.close() }, "Preferences")),
    );
    this.root = h("div", { class: "bell" }, this.button, this.panel);
    host.appendChild(this.root);
    this.onCreated = (e) => this.created(e.detail);
    userEvents.addEventListener("notification.created", this.onCreated);
    this.onRead = (e) => this.show(e.detail.unread_notifications);
    userEvents.addEventListener("notifications.read", this.onRead);
    this.show(0);
    this.refreshCount();
  }

  async refreshCount() {
    try {
      const me = await this.api.get("/api/auth/me");
      this.show(me.unread_notifications ?? 0);
    } catch (err) {
      console.error(err);
    }
  }

  show(unread) {
    this.unread = Math.max(0, unread);
    this.count.textContent = this.unread > 99 ? "99+" : String(this.unread);
    this.count.hidden = this.unread === 0;
    this.button.setAttribute("aria-label", `Notifications, ${this.unread} unread`);
    this.root.dataset.unread = String(this.unread);
  }

  created(item) {
    this.show(this.unread + 1);
    if (!this.panel.hidden) this.list.prepend(this.entry(item));
  }

  entry(item) {
    const open = async () => {
      if (!item.read_at) {
        const result = await this.api.post("/api/notifications/read", { ids: [item.id] });
        item.read_at = new Date().toISOString();
        this.userEvents.dispatchEvent(new CustomEvent("notifications.read", { detail: result }));
      }
      this.close();
      const target = targetOf(item);
      if (target) this.navigate(target);
    };
    return h(
      "li",
      { class: `bell-item${item.read_at ? "" : " unread"}`, dataset: { id: item.id, kind: item.kind } },
      h("button", { type: "button", class: "bell-open", onclick: open }, describe(item)),
      timeEl(item.created_at),
    );
  }

  async toggle() {
    if (!this.panel.hidden) {
      this.close();
      return;
    }
    this.panel.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    replace(this.list, h("li", { class: "muted small" }, "Loading…"));
    try {
      const page = await this.api.get("/api/notifications", { limit: PANEL_SIZE });
      replace(this.list, ...(page.items.length ? page.items.map((item) => this.entry(item)) : [h("li", { class: "muted small" }, "Nothing yet")]));
    } catch (err) {
      replace(this.list, h("li", { class: "error" }, `Could not load notifications: ${err.message}`));
    }
  }

  close() {
    this.panel.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
  }

  async markAll() {
    const result = await this.api.post("/api/notifications/read", { all: true });
    for (const li of this.list.querySelectorAll(".bell-item.unread")) li.classList.remove("unread");
    this.userEvents.dispatchEvent(new CustomEvent("notifications.read", { detail: result }));
  }

  stop() {
    this.userEvents.removeEventListener("notification.created", this.onCreated);
    this.userEvents.removeEventListener("notifications.read", this.onRead);
    this.root.remove();
  }
}
