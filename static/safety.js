/**
 * safety.js — what a user does about others' content: report it (a small dialog posting to /api/reports)
 * and block its author (the app's one `Blocks` set, loaded from GET /api/me/blocks).
 *
 * Blocking is a reader's preference: the hub leaves blocked authors out of REST feed and thread pages, and
 * the views ask `ctx.blocks.has(author_id)` to drop the live `feed` and `thread:` events the hub still
 * sends them (post and comment events carry `author_id`).
 */

import { busy, field, h, showError } from "./dom.js";

const REASONS = [
  ["spam", "Spam"],
  ["abuse", "Abuse or harassment"],
  ["off_topic", "Off topic"],
  ["other", "Something else"],
];

/** The blocked user ids of the signed-in user. Dispatches `change` when the set changes. */
export class Blocks extends EventTarget {
  constructor(api) {
    super();
    this.api = api;
    this.ids = new Set();
    this.loaded = null;
  }

  /** Loads the set once per sign-in (later calls share the first load). */
  load() {
    if (!this.loaded) {
      this.loaded = this.api
        .get("/api/me/blocks")
        .then((data) => {
          this.ids = new Set((data.items || []).map((b) => b.id));
          this.dispatchEvent(new Event("change"));
        })
        .catch((err) => {
          this.loaded = null;
          throw err;
        });
    }
    return this.loaded;
  }

  has(userId) {
    return Boolean(userId) && this.ids.has(userId);
  }

  async block(userId) {
    await this.api.post(`/api/users/${userId}/block`);
    this.ids.add(userId);
    this.dispatchEvent(new Event("change"));
  }

  async unblock(userId) {
    await this.api.del(`/api/users/${userId}/block`);
    this.ids.delete(userId);
    this.dispatchEvent(new Event("change"));
  }
}

/** Opens a modal dialog to report `targetType` `targetId`; resolves when it closes. */
export function openReportDialog(ctx, targetType, targetId, label) {
  const reason = h("select", { name: "reason" }, REASONS.map(([value, text]) => h("option", { value }, text)));
  const details = h("textarea", { name: "details", rows: 3, maxlength: 1000 });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Send report");
  const cancel = h("button", { type: "button", class: "link" }, "Cancel");
  const form = h(
    "form",
    { method: "dialog", "aria-label": "Report" },
    h("h2", {}, `Report ${label}`),
    field("Reason", reason),
    field("Details (optional)", details),
    error,
    h("div", { class: "row" }, submit, cancel),
  );
  const dialog = h("dialog", { class: "card report-dialog", "aria-label": `Report ${label}` }, form);
  document.body.appendChild(dialog);
  const closed = new Promise((resolve) => dialog.addEventListener("close", () => {
    dialog.remove();
    resolve();
  }));
  cancel.addEventListener("click", () => dialog.close());
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(submit, async () => {
      const body = { target_type: targetType, target_id: targetId, reason: reason.value };
      if (details.value.trim()) body.details = details.value.trim();
      try {
        await ctx.api.post("/api/reports", body);
        ctx.toast("Thanks: a moderator will look at it", "success");
      } catch (err) {
        if (err.code !== "already_reported") throw err;
        ctx.toast("You reported this already");
      }
      dialog.close();
    }).catch((err) => showError(error, err));
  });
  dialog.showModal();
  return closed;
}

/**
 * The "Report" and "Block" actions for a post or comment by someone else (none for one's own).
 * `onBlocked` runs after a block, so the view can drop what it shows of that author.
 */
export function safetyActions(ctx, targetType, target, onBlocked) {
  if (!ctx.user || target.author_id === ctx.user.id) return null;
  const label = targetType === "post" ? "this post" : "this comment";
  const report = h("button", { type: "button", class: "link report" }, "Report");
  const block = h("button", { type: "button", class: "link block" }, "Block author");
  report.addEventListener("click", () => openReportDialog(ctx, targetType, target.id, label));
  block.addEventListener("click", () =>
    busy(block, async () => {
      if (!confirm("Block this author? Their posts and comments will be hidden from you.")) return;
      await ctx.blocks.block(target.author_id);
      ctx.toast("Blocked. You can unblock them later.");
      onBlocked?.(target.author_id);
    }).catch((err) => ctx.toast(err.message, "error")),
  );
  return h("span", { class: "safety-actions" }, report, block);
}
