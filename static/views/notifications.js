/**
 * The inbox (`#/notifications`): every notification newest first, a page at a time, all or unread only;
 * each marked read when opened, or all at once. New ones arrive live (`notification.created` on the
 * user's channel) at the top.
 */

import { describe, targetOf } from "../bell.js";
import { h, replace, showError, timeEl } from "../dom.js";

const PAGE_SIZE = 20;

export async function render(root, ctx) {
  const { api, navigate, userEvents } = ctx;
  let unreadOnly = false;
  let cursor = null;
  const list = h("ul", { class: "inbox" });
  const error = h("div", { class: "error", role: "alert", hidden: true });
  const more = h("button", { type: "button", hidden: true, onclick: () => load(false) }, "Load more");
  const filter = h("input", { type: "checkbox", id: "inbox-unread", onchange: () => { unreadOnly = filter.checked; load(true); } });

  const readEvent = (result) => userEvents.dispatchEvent(new CustomEvent("notifications.read", { detail: result }));

  function entry(item) {
    const li = h("li", { class: `inbox-item${item.read_at ? "" : " unread"}`, dataset: { id: item.id, kind: item.kind } });
    const open = async () => {
      if (!item.read_at) {
        readEvent(await api.post("/api/notifications/read", { ids: [item.id] }));
        item.read_at = new Date().toISOString();
        li.classList.remove("unread");
      }
      const target = targetOf(item);
      if (target) navigate(target);
    };
    replace(li, h("button", { type: "button", class: "inbox-open", onclick: open }, describe(item)), timeEl(item.created_at));
    return li;
  }

  async function load(fresh) {
    if (fresh) {
      cursor = null;
      replace(list);
    }
    try {
      const page = await api.get("/api/notifications", { unread: unreadOnly ? "true" : null, limit: PAGE_SIZE, cursor });
      for (const item of page.items) list.appendChild(entry(item));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (!list.children.length) list.appendChild(h("li", { class: "muted" }, unreadOnly ? "No unread notifications" : "Nothing yet"));
    } catch (err) {
      showError(error, err);
    }
  }

  const markAll = async () => {
    readEvent(await api.post("/api/notifications/read", { all: true }));
    await load(true);
  };

  replace(
    root,
    h(
      "section",
      { class: "card" },
      h("h1", {}, "Notifications"),
      h(
        "div",
        { class: "row" },
        h("label", { for: "inbox-unread" }, filter, " Unread only"),
        h("button", { type: "button", onclick: markAll }, "Mark all read"),
        h("a", { href: "#/settings/notifications" }, "Preferences"),
      ),
      error,
      list,
      more,
    ),
  );
  await load(true);

  const onCreated = (e) => {
    list.querySelector("li.muted")?.remove();
    list.prepend(entry(e.detail));
  };
  userEvents.addEventListener("notification.created", onCreated);
  return () => userEvents.removeEventListener("notification.created", onCreated);
}
