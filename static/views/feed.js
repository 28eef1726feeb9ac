/**
 * The community feed: newest activity first, new posts arrive live on `feed`. Posts of authors the user
 * blocked are left out by the hub's pages and dropped here from the live events.
 */

import { newIdempotencyKey } from "../api.js";
import { busy, field, h, itemsOf, nameOf, replace, timeEl } from "../dom.js";
import { safetyActions } from "../safety.js";

export async function render(root, ctx) {
  await ctx.blocks.load(); // before the live events: they are filtered by it
  const cards = new Map(); // post id → card element
  const list = h("ol", { class: "posts", "aria-label": "Posts", "aria-live": "polite" });
  const more = h("button", { type: "button", hidden: true }, "Load more");
  let cursor = null;

  const card = (post) =>
    h(
      "li",
      { class: "card post-card", dataset: { id: post.id, authorId: post.author_id } },
      h(
        "div",
        { class: "post-meta" },
        post.is_pinned ? h("span", { class: "badge pin" }, "Pinned") : null,
        post.is_locked ? h("span", { class: "badge lock" }, "Locked") : null,
        h("span", { class: "badge" }, post.post_type || "discussion"),
        post.category ? h("span", { class: "muted" }, post.category) : null,
      ),
      h("h2", {}, h("a", { href: `#/posts/${post.id}` }, post.title)),
      h("p", { class: "excerpt" }, (post.content || "").slice(0, 240)),
      h(
        "div",
        { class: "post-foot muted" },
        h("span", {}, nameOf(post.author, post.author_id)),
        " · ",
        timeEl(post.created_at),
        " · ",
        h("span", { class: "score", "aria-label": "Score" }, `▲ ${post.score ?? 0}`),
        " · ",
        h("span", { class: "comments-count" }, `${post.comments_count ?? 0} comments`),
        " ",
        safetyActions(ctx, "post", post, dropAuthor),
      ),
    );

  const upsert = (post, { prepend = false } = {}) => {
    if (ctx.blocks.has(post.author_id)) return;
    const fresh = card(post);
    const old = cards.get(post.id);
    cards.set(post.id, fresh);
    if (old) old.replaceWith(fresh);
    else if (prepend) list.insertBefore(fresh, list.querySelector(".post-card:not(:has(.pin))"));
    else list.appendChild(fresh);
  };
  const remove = (post) => {
    cards.get(post.id)?.remove();
    cards.delete(post.id);
  };
  function dropAuthor(authorId) {
    for (const el of [...cards.values()]) if (el.dataset.authorId === authorId) remove({ id: el.dataset.id });
  }

  const loadPage = async () => {
    const data = await ctx.api.get("/api/posts", { limit: 20, cursor });
    for (const post of itemsOf(data)) upsert(post);
    cursor = data.next_cursor;
    more.hidden = !cursor;
  };
  const reload = async () => {
    replace(list);
    cards.clear();
    cursor = null;
    await loadPage();
  };

  // Subscribe before the first fetch so nothing created in between is missed (upsert dedupes).
  const sub = ctx.hub.subscribe("feed", { onReset: reload });
  sub.on("post.created", (post) => upsert(post, { prepend: true }));
  for (const event of ["post.updated", "post.pinned", "post.locked"]) sub.on(event, (post) => upsert(post));
  sub.on("post.deleted", remove);

  root.appendChild(
    h(
      "section",
      { class: "page" },
      h("div", { class: "page-head" }, h("h1", {}, "Community")),
      composer(ctx, (post) => upsert(post, { prepend: true })),
      list,
      more,
    ),
  );
  more.addEventListener("click", () => busy(more, loadPage));
  await loadPage();
  return () => sub.unsubscribe();
}

function composer(ctx, onCreated) {
  const title = h("input", { type: "text", name: "title", required: true, maxlength: 300 });
  const content = h("textarea", { name: "content", rows: 3, maxlength: 20000 });
  const type = h(
    "select",
    { name: "post_type" },
    h("option", { value: "discussion" }, "Discussion"),
    h("option", { value: "question" }, "Question"),
  );
  const category = h("input", { type: "text", name: "category", value: "general", maxlength: 100 });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Post");
  let key = newIdempotencyKey();
  const form = h(
    "form",
    { "aria-label": "New post" },
    field("Title", title),
    field("What's on your mind?", content),
    h("div", { class: "row" }, field("Type", type), field("Category", category)),
    error,
    submit,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(
      submit,
      async () => {
        const post = await ctx.api.post(
          "/api/posts",
          { title: title.value.trim(), content: content.value, post_type: type.value, category: category.value.trim() || null, tags: [] },
          { idempotencyKey: key },
        );
        key = newIdempotencyKey();
        form.reset();
        onCreated(post);
      },
      error,
    );
  });
  return h("details", { class: "card composer" }, h("summary", {}, "Start a discussion"), form);
}
