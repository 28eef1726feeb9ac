"""Comments: the thread rules of adding one, and a comment's one representation, for REST and for the
`comment.*` events on `thread:<post_id>`.

The view always carries `depth` (0 for a top-level comment). A deleted comment keeps its place and
replies, with `content` null and `redacted` true; so does every view of it the channel's log still holds
(migration 0020 rewrites them in the deleting transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from channels.names import ChannelName
from hub.domain.community import Author, author_view
from hub.domain.notifications import Kind, ReplyNote, excerpt, notify
from hub.errors import Locked, NotFound, ValidationFailed
from hub.rules.threads import reply_parent, score
from persistence import blocks, community
from persistence.events import append_event
from persistence.identity import Identity


class CommentView(msgspec.Struct):
    id: UUID
    post_id: UUID
    parent_comment_id: UUID | None
    author_id: UUID
    author: Author
    content: str | None
    is_deleted: bool
    redacted: bool  # the text is gone: here because the comment is deleted, in a logged event since then
    upvotes_count: int
    downvotes_count: int
    score: int
    depth: int
    created_at: datetime
    updated_at: datetime


def comment_view(row: Mapping[str, Any]) -> CommentView:
    """A comment as REST returns it and as its events carry it."""
    return CommentView(
        id=row["id"],
        post_id=row["post_id"],
        parent_comment_id=row["parent_comment_id"],
        author_id=row["author_id"],
        author=author_view(row),
        content=None if row["is_deleted"] else row["content"],
        is_deleted=row["is_deleted"],
        redacted=row["is_deleted"],
        upvotes_count=row["upvotes_count"],
        downvotes_count=row["downvotes_count"],
        score=score(row["upvotes_count"], row["downvotes_count"]),
        depth=row["depth"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def load_comment(conn: asyncpg.Connection, comment_id: UUID) -> CommentView:
    row = await community.comment_by_id(conn, comment_id)
    if row is None:
        raise NotFound("Comment not found")
    return comment_view(row)


async def add_comment(conn: asyncpg.Connection, user: Identity, post_id: UUID, content: str,
                      parent_comment_id: UUID | None, *, max_reply_depth: int) -> CommentView:
    """Adds a comment (a reply when `parent_comment_id` is set) and announces `comment.created`. 423 on a
    locked post unless the caller is an admin; 404 for a missing post; 422 for a parent from another
    post. A reply deeper than `max_reply_depth` goes under the deepest allowed ancestor
    (`hub.rules.threads.reply_parent`)."""
    post_row = await community.post_by_id(conn, post_id)
    if post_row is None:
        raise NotFound("Post not found")
    # The schema's RLS refuses the same; checking first gives the caller 423 rather than 403.
    if post_row["is_locked"] and not user.is_admin:
        raise Locked()
    parent = parent_comment_id
    if parent is not None:
        place = await community.comment_place(conn, parent)
        if place is None or place["post_id"] != post_id:
            raise ValidationFailed({"parent_comment_id": "is not a comment of this post"})
        parent = reply_parent(parent, place["depth"], place["sort_path"], max_reply_depth)
    try:
        comment_id = await community.create_comment(conn, post_id, user.require_user_id(), content, parent)
    except asyncpg.InsufficientPrivilegeError:
        raise Locked() from None  # locked after our check: RLS refused the insert
    except asyncpg.ForeignKeyViolationError:
        raise NotFound("Post not found") from None  # deleted after our check
    view = await load_comment(conn, comment_id)
    await append_event(conn, ChannelName.thread(post_id), "comment.created", view)
    await _notify_reply(conn, view, post_row)
    return view


async def _notify_reply(conn: asyncpg.Connection, view: CommentView, post_row: asyncpg.Record) -> None:
    """Tells the author of what was replied to (the parent comment, else the post): never for a reply to
    oneself, nor when that author blocks the replier (a block is the reader's wish not to hear from them).
    Runs as `service_role`, where `append_event` left the transaction."""
    kind: Kind
    if view.parent_comment_id is None:
        recipient, kind = post_row["author_id"], "post.reply"
    else:
        parent = await community.comment_by_id(conn, view.parent_comment_id)
        recipient, kind = (parent["author_id"] if parent else None), "comment.reply"
    if recipient is None or recipient == view.author_id or await blocks.blocks(conn, recipient, view.author_id):
        return
    await notify(conn, recipient, kind, ReplyNote(
        post_id=view.post_id, post_title=post_row["title"], comment_id=view.id,
        parent_comment_id=view.parent_comment_id, author_id=view.author_id, author_name=view.author.full_name,
        excerpt=excerpt(view.content or "")))


async def remove_comment(conn: asyncpg.Connection, comment_id: UUID) -> bool:
    """Soft-deletes the comment and announces `comment.deleted` on its thread, as the caller (the schema's
    `delete_comment`: its author or an admin). False when it was deleted already (nothing announced)."""
    if not await community.soft_delete_comment(conn, comment_id):
        return False
    view = await load_comment(conn, comment_id)
    await append_event(conn, ChannelName.thread(view.post_id), "comment.deleted", view)
    return True
