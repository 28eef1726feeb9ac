/**
 * Notification preferences (`#/settings/notifications`): in-app notifications are always on; email is
 * on or off per kind (`GET/PATCH /api/me/notification-settings`). Each switch saves at once; mails of the
 * kinds switched on come as one digest per few minutes, however busy a thread is.
 */

import { busy, h, replace } from "../dom.js";

const KIND_LABELS = {
  "post.reply": "Comments on my posts",
  "comment.reply": "Replies to my comments",
  "session.promoted": "A seat in a workshop I was waitlisted for",
  "session.reminder": "A workshop I registered for starts in 15 minutes",
  "session.rescheduled": "A workshop I registered for moved",
  "session.cancelled": "A workshop I registered for was cancelled",
  "achievement.unlocked": "Achievements I unlock",
  "report.resolved": "Outcomes of reports I filed",
};

export async function render(root, ctx) {
  const { api } = ctx;
  const settings = await api.get("/api/me/notification-settings");
  const error = h("div", { class: "error", role: "alert", hidden: true });
  const status = h("p", { class: "muted small", role: "status", "aria-live": "polite" });

  function row(kind, on) {
    const box = h("input", { type: "checkbox", id: `email-${kind}`, checked: on, dataset: { kind } });
    box.addEventListener("change", async () => {
      const wanted = box.checked;
      const saved = await busy(box, () => api.patch("/api/me/notification-settings", { email: { [kind]: wanted } }), error);
      box.checked = saved ? saved.email[kind] : !wanted; // a failed save shows the setting still held
      if (saved) status.textContent = `Saved: email for "${KIND_LABELS[kind] || kind}" is ${box.checked ? "on" : "off"}.`;
    });
    return h("li", { class: "pref-row" }, box, h("label", { for: `email-${kind}` }, KIND_LABELS[kind] || kind));
  }

  replace(
    root,
    h(
      "section",
      { class: "card notification-settings" },
      h("h1", {}, "Notification preferences"),
      h("p", { class: "muted" }, "Every notification shows under the bell. Choose which ones are also emailed; several in a few minutes come as one email."),
      h("h2", {}, "Email me about"),
      error,
      h("ul", { class: "prefs" }, Object.entries(settings.email).map(([kind, on]) => row(kind, on))),
      status,
      h("p", {}, h("a", { href: "#/notifications" }, "All notifications")),
    ),
  );
}
