/**
 * One post with its threaded comments. `thread:<id>` brings comments (created, edited, deleted) and post
 * changes live, with resume after reconnects; `votes:<id>` brings absolute vote counts. Comments of
 * authors the user blocked are left out of the hub's pages and dropped here from the live events.
 */

import { newIdempotencyKey } from "../api.js";
import { busy, field, h, nameOf, replace, showError, timeEl } from "../dom.js";
import { safetyActions } from "../safety.js";

export async function render(root, ctx, { id }) {
  await ctx.blocks.load(); // before the live events: they are filtered by it
  const me = ctx.user;
  const nodes = new Map(); // comment id → {comment, el, body, score, replies, voteButtons}
  const myVotes = new Map(); // "post:<id>" / "comment:<id>" → "upvote" | "downvote" | null
  let post = null;

  const thread = h("ol", { class: "thread", "aria-label": "Comments" });
  const header = h("article", { class: "card post-full", "aria-label": "Post" });
  const countLabel = h("h2", { id: "comments-heading" }, "Comments");
  const typing = h("p", { class: "typing muted", "aria-live": "polite" });
  const status = h("p", { class: "error", role: "alert", hidden: true });

  // ---- votes -------------------------------------------------------------------------------------
  const voteBox = (targetType, target) => {
    const score = h("span", { class: "score", "aria-label": "Score" }, String(target.score ?? 0));
    const up = h("button", { type: "button", class: "vote up", "aria-label": "Upvote", "aria-pressed": "false" }, "▲");
    const down = h("button", { type: "button", class: "vote down", "aria-label": "Downvote", "aria-pressed": "false" }, "▼");
    const key = `${targetType}:${target.id}`;
    if (target.my_vote !== undefined && !myVotes.has(key)) myVotes.set(key, target.my_vote);
    up.setAttribute("aria-pressed", String(myVotes.get(key) === "upvote"));
    down.setAttribute("aria-pressed", String(myVotes.get(key) === "downvote"));
    const path = targetType === "post" ? `/api/posts/${target.id}/vote` : `/api/comments/${target.id}/vote`;
    const vote = (type, button) =>
      busy(button, async () => {
        const result = myVotes.get(key) === type ? await ctx.api.del(path) : await ctx.api.put(path, { vote_type: type });
        applyCounts(result);
      }).catch((err) => showError(status, err));
    up.addEventListener("click", () => vote("upvote", up));
    down.addEventListener("click", () => vote("downvote", down));
    return { el: h("div", { class: "votes", role: "group", "aria-label": "Votes" }, up, score, down), score, up, down };
  };
  const voteBoxes = new Map(); // "type:id" → voteBox
  const applyCounts = (counts) => {
    const key = `${counts.target_type}:${counts.target_id}`;
    if ("my_vote" in counts) myVotes.set(key, counts.my_vote);
    const box = voteBoxes.get(key);
    if (!box) return;
    box.score.textContent = String(counts.score);
    box.score.title = `${counts.upvotes} up, ${counts.downvotes} down`;
    const mine = myVotes.get(key);
    box.up.setAttribute("aria-pressed", String(mine === "upvote"));
    box.down.setAttribute("aria-pressed", String(mine === "downvote"));
  };

  // ---- the post ----------------------------------------------------------------------------------
  const renderPost = () => {
    const box = voteBox("post", post);
    voteBoxes.set(`post:${post.id}`, box);
    replace(
      header,
      h(
        "div",
        { class: "post-meta" },
        post.is_pinned ? h("span", { class: "badge pin" }, "Pinned") : null,
        post.is_locked ? h("span", { class: "badge lock" }, "Locked") : null,
        h("span", { class: "badge" }, post.post_type || "discussion"),
        post.category ? h("span", { class: "muted" }, post.category) : null,
      ),
      h("h1", { class: "post-title" }, post.title),
      h("p", { class: "muted" }, nameOf(post.author, post.author_id), " · ", timeEl(post.created_at)),
      h("div", { class: "post-body" }, post.content || ""),
      h("div", { class: "row" }, box.el, safetyActions(ctx, "post", post, () => loadComments())),
    );
    commentForm.hidden = Boolean(post.is_locked);
    lockedNote.hidden = !post.is_locked;
  };

  // ---- comments ----------------------------------------------------------------------------------
  const mine = (c) => me && c.author_id === me.id;
  const renderCommentBody = (node) => {
    const c = node.comment;
    // A resume replays a since-deleted comment's earlier events redacted (text null), before its comment.deleted.
    const gone = Boolean(c.is_deleted || c.redacted);
    replace(node.body, gone ? h("em", { class: "muted" }, "[deleted]") : c.content);
    node.el.classList.toggle("deleted", gone);
    node.edit.hidden = node.remove.hidden = gone || !mine(c);
    node.edited.hidden = !c.updated_at || c.updated_at === c.created_at || gone;
  };
  const upsertComment = (c) => {
    if (ctx.blocks.has(c.author_id)) return;
    const existing = nodes.get(c.id);
    if (existing) {
      existing.comment = c;
      renderCommentBody(existing);
      return;
    }
    const box = voteBox("comment", c);
    voteBoxes.set(`comment:${c.id}`, box);
    const node = {
      comment: c,
      body: h("div", { class: "comment-body" }),
      replies: h("ol", { class: "replies" }),
      edited: h("span", { class: "muted" }, " · edited"),
      edit: h("button", { type: "button", class: "link" }, "Edit"),
      remove: h("button", { type: "button", class: "link" }, "Delete"),
    };
    const reply = h("button", { type: "button", class: "link" }, "Reply");
    const slot = h("div", { class: "slot" });
    node.el = h(
      "li",
      { class: "comment", dataset: { commentId: c.id }, "aria-label": `Comment by ${nameOf(c.author, c.author_id)}` },
      h("div", { class: "comment-meta muted" }, h("strong", {}, nameOf(c.author, c.author_id)), " · ", timeEl(c.created_at), node.edited),
      node.body,
      h("div", { class: "comment-actions" }, box.el, reply, node.edit, node.remove, safetyActions(ctx, "comment", c, () => loadComments())),
      slot,
      node.replies,
    );
    reply.addEventListener("click", () => replace(slot, commentComposer(c.id, () => replace(slot))));
    node.edit.addEventListener("click", () => replace(slot, editor(node, () => replace(slot))));
    node.remove.addEventListener("click", () =>
      busy(node.remove, async () => {
        if (!confirm("Delete this comment?")) return;
        upsertComment(await deleted(c.id));
      }).catch((err) => showError(status, err)),
    );
    nodes.set(c.id, node);
    renderCommentBody(node);
    const parent = c.parent_comment_id && nodes.get(c.parent_comment_id);
    (parent ? parent.replies : thread).appendChild(node.el);
    countLabel.textContent = `Comments (${nodes.size})`;
  };
  const deleted = async (commentId) => {
    await ctx.api.del(`/api/comments/${commentId}`);
    return { ...nodes.get(commentId).comment, is_deleted: true, content: null };
  };

  const commentComposer = (parentId, done) => {
    const text = h("textarea", { name: "content", rows: parentId ? 2 : 3, required: true, maxlength: 10000 });
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const submit = h("button", { type: "submit", class: "primary" }, parentId ? "Reply" : "Comment");
    let key = newIdempotencyKey();
    const form = h(
      "form",
      { class: parentId ? "reply-form" : "card comment-form", "aria-label": parentId ? "Reply" : "Add a comment" },
      field(parentId ? "Your reply" : "Add a comment", text),
      error,
      h("div", { class: "row" }, submit, parentId ? h("button", { type: "button", class: "link", onclick: done }, "Cancel") : null),
    );
    let lastTyping = 0;
    text.addEventListener("input", () => {
      if (Date.now() - lastTyping < 3000) return;
      lastTyping = Date.now();
      ctx.hub.publish(`thread:${id}`, "typing", {}).catch(() => {});
    });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      busy(
        submit,
        async () => {
          const body = { content: text.value };
          if (parentId) body.parent_comment_id = parentId;
          upsertComment(await ctx.api.post(`/api/posts/${id}/comments`, body, { idempotencyKey: key }));
          key = newIdempotencyKey();
          form.reset();
          if (parentId) done();
        },
        error,
      );
    });
    if (parentId) queueMicrotask(() => text.focus());
    return form;
  };

  const editor = (node, done) => {
    const text = h("textarea", { name: "content", rows: 2, required: true, maxlength: 10000, value: node.comment.content || "" });
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const submit = h("button", { type: "submit", class: "primary" }, "Save");
    const form = h(
      "form",
      { class: "reply-form", "aria-label": "Edit comment" },
      field("Edit your comment", text),
      error,
      h("div", { class: "row" }, submit, h("button", { type: "button", class: "link", onclick: done }, "Cancel")),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      busy(
        submit,
        async () => {
          upsertComment(await ctx.api.patch(`/api/comments/${node.comment.id}`, { content: text.value }));
          done();
        },
        error,
      );
    });
    return form;
  };

  const loadComments = async () => {
    replace(thread);
    nodes.clear();
    for (const key of [...voteBoxes.keys()]) if (key.startsWith("comment:")) voteBoxes.delete(key);
    for (const c of await ctx.api.all(`/api/posts/${id}/comments`)) upsertComment(c);
    countLabel.textContent = `Comments (${nodes.size})`;
  };
  const loadPost = async () => {
    post = await ctx.api.get(`/api/posts/${id}`);
    renderPost();
  };

  // ---- live --------------------------------------------------------------------------------------
  const threadSub = ctx.hub.subscribe(`thread:${id}`, {
    onReset: async () => {
      await Promise.all([loadPost(), loadComments()]);
    },
  });
  threadSub.on("comment.created", upsertComment);
  threadSub.on("comment.updated", upsertComment);
  threadSub.on("comment.deleted", (c) => upsertComment({ ...c, is_deleted: true, content: null }));
  for (const event of ["post.updated", "post.locked"]) {
    threadSub.on(event, (p) => {
      post = { ...post, ...p };
      renderPost();
    });
  }
  threadSub.on("post.deleted", () => {
    replace(root, h("section", { class: "page" }, h("p", { class: "card" }, "This post was deleted. "), h("a", { href: "#/feed" }, "Back to the feed")));
  });
  let typingTimer = null;
  threadSub.on("typing", (data) => {
    if (me && data?.user_id === me.id) return;
    typing.textContent = "Someone is typing…";
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => (typing.textContent = ""), 4000);
  });
  const votesSub = ctx.hub.subscribe(`votes:${id}`, {
    onSnapshot: (snapshot) => {
      for (const counts of Array.isArray(snapshot) ? snapshot : snapshot.items || []) applyCounts(counts);
    },
  });
  votesSub.on("counts", (data) => {
    for (const counts of Array.isArray(data) ? data : [data]) applyCounts(counts);
  });

  const commentForm = commentComposer(null);
  const lockedNote = h("p", { class: "card muted", hidden: true }, "This post is locked: no new comments.");
  root.appendChild(
    h(
      "section",
      { class: "page" },
      h("p", {}, h("a", { href: "#/feed" }, "← Feed")),
      status,
      header,
      h("section", { "aria-labelledby": "comments-heading" }, countLabel, commentForm, lockedNote, typing, thread),
    ),
  );
  await Promise.all([loadPost(), loadComments()]);
  return () => {
    clearTimeout(typingTimer);
    threadSub.unsubscribe();
    votesSub.unsubscribe();
  };
}
