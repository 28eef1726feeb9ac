/**
 * The admins' moderation queue: open reports grouped by what they report, with the content and the
 * counts, and the three decisions (dismiss, remove the content, ban its author), each with a note.
 * A decision resolves every open report of that target (POST /api/admin/reports/{id}/resolve).
 */

import { busy, field, h, nameOf, replace, showError, timeEl } from "../dom.js";

const REASON_TEXT = { spam: "spam", abuse: "abuse", off_topic: "off topic", other: "other" };
const TARGET_TEXT = { post: "Post", comment: "Comment", session_message: "Chat line", user: "User" };

export async function render(root, ctx) {
  if (!ctx.user?.roles?.includes("admin")) {
    ctx.navigate("feed");
    return;
  }
  const list = h("ol", { class: "reports", "aria-label": "Reported content" });
  const empty = h("p", { class: "card muted", hidden: true }, "Nothing to review.");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  let cursor = null;

  const link = (group) => {
    const c = group.content;
    if (c.removed) return null;
    if (group.target_type === "post") return h("a", { href: `#/posts/${group.target_id}` }, "Open the post");
    if (group.target_type === "comment" && c.post_id) return h("a", { href: `#/posts/${c.post_id}` }, "Open the thread");
    if (group.target_type === "session_message" && c.session_id) return h("a", { href: `#/sessions/${c.session_id}` }, "Open the room");
    return null;
  };

  const contentOf = (group) => {
    const c = group.content;
    const who = h(
      "p",
      { class: "muted" },
      group.target_type === "user" ? "User: " : "By ",
      h("strong", {}, nameOf({ full_name: c.author_name }, c.author_id)),
      c.author_email ? ` <${c.author_email}>` : "",
    );
    if (group.target_type === "user") return h("div", { class: "reported-content" }, who);
    return h(
      "div",
      { class: "reported-content" },
      c.title ? h("h3", { class: "reported-title" }, group.target_type === "post" ? c.title : `On: ${c.title}`) : null,
      c.removed ? h("p", { class: "muted" }, h("em", {}, "[removed]")) : h("blockquote", { class: "reported-body" }, c.body || ""),
      who,
      c.hidden ? h("span", { class: "badge lock" }, "Hidden pending review") : null,
      link(group),
    );
  };

  const card = (group) => {
    const note = h("input", { type: "text", name: "note", maxlength: 1000 });
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const reportId = group.reports[0].id;
    const el = h(
      "li",
      { class: "card report-group", dataset: { targetId: group.target_id, targetType: group.target_type } },
      h(
        "div",
        { class: "post-meta" },
        h("span", { class: "badge" }, TARGET_TEXT[group.target_type] || group.target_type),
        h("span", { class: "report-count" }, `${group.report_count} report${group.report_count === 1 ? "" : "s"}`),
        h("span", { class: "muted" }, group.reasons.map((r) => REASON_TEXT[r] || r).join(", ")),
        h("span", { class: "muted" }, "latest ", timeEl(group.newest_at)),
      ),
      contentOf(group),
      h(
        "ul",
        { class: "report-list small", "aria-label": "Reports" },
        group.reports.map((r) =>
          h("li", {}, h("strong", {}, REASON_TEXT[r.reason] || r.reason), r.details ? `: ${r.details}` : "", " · ", timeEl(r.created_at)),
        ),
      ),
      field("Note (kept in the audit log)", note),
      error,
    );
    const decide = (action, button) =>
      busy(
        button,
        async () => {
          await ctx.api.post(`/api/admin/reports/${reportId}/resolve`, { action, note: note.value.trim() || null });
          el.remove();
          empty.hidden = list.children.length > 0;
          ctx.toast(`Resolved: ${action.replace("_", " ")}`, "success");
        },
        error,
      );
    const buttons = [
      ["dismiss", "Dismiss"],
      ["remove_content", "Remove content"],
      ["ban_author", group.target_type === "user" ? "Ban user" : "Ban author"],
    ]
      .filter(([action]) => !(action === "remove_content" && group.target_type === "user"))
      .map(([action, text]) => {
        const button = h("button", { type: "button", class: action === "dismiss" ? "" : "danger" }, text);
        button.addEventListener("click", () => decide(action, button));
        return button;
      });
    el.appendChild(h("div", { class: "row" }, buttons));
    return el;
  };

  const status = h("p", { class: "error", role: "alert", hidden: true });
  const loadPage = async () => {
    const data = await ctx.api.get("/api/admin/reports", { status: "open", limit: 20, cursor });
    for (const group of data.items) list.appendChild(card(group));
    cursor = data.next_cursor;
    more.hidden = !cursor;
    empty.hidden = list.children.length > 0;
  };
  const reload = () => {
    replace(list);
    cursor = null;
    return loadPage().catch((err) => showError(status, err));
  };
  const refresh = h("button", { type: "button" }, "Refresh");
  refresh.addEventListener("click", () => busy(refresh, reload));
  more.addEventListener("click", () => busy(more, loadPage).catch((err) => showError(status, err)));

  root.appendChild(
    h(
      "section",
      { class: "page" },
      h("div", { class: "page-head" }, h("h1", {}, "Moderation"), refresh),
      status,
      empty,
      list,
      more,
    ),
  );
  await loadPage();
}
