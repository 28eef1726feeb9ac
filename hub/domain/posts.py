"""Posts: publishing one, and a post's one representation, for REST responses and for the `post.*` events
on `feed` and its thread.

Votes and comment counts change through the schema's triggers; `score` is derived here. A deleted post
is gone from REST; the views of it the log still holds get `title`, `content`, `category` and `tags` null
and `redacted` true (migration 0020), so `redacted` is false in every view REST returns."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from channels.names import ChannelName
from hub.domain.awards import unlock_due_achievements
from hub.domain.community import Author, Removed, author_view
from hub.errors import NotFound
from hub.rules.threads import score
from persistence import community, progress
from persistence.db import set_identity
from persistence.events import append_event
from persistence.identity import SERVICE, Identity


class PostView(msgspec.Struct):
    id: UUID
    author_id: UUID
    author: Author
    title: str
    content: str | None
    post_type: str
    category: str | None
    tags: list[str]
    is_pinned: bool
    is_locked: bool
    upvotes_count: int
    downvotes_count: int
    score: int
    comments_count: int
    views_count: int
    redacted: bool
    last_activity_at: datetime
    created_at: datetime
    updated_at: datetime


def post_view(row: Mapping[str, Any]) -> PostView:
    """A post as REST returns it and as its events carry it."""
    return PostView(
        id=row["id"],
        author_id=row["author_id"],
        author=author_view(row),
        title=row["title"],
        content=row["content"],
        post_type=row["post_type"],
        category=row["category"],
        tags=list(row["tags"] or []),
        is_pinned=row["is_pinned"],
        is_locked=row["is_locked"],
        upvotes_count=row["upvotes_count"],
        downvotes_count=row["downvotes_count"],
        score=score(row["upvotes_count"], row["downvotes_count"]),
        comments_count=row["comments_count"],
        views_count=row["views_count"],
        redacted=False,
        last_activity_at=row["last_activity_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def load_post(conn: asyncpg.Connection, post_id: UUID) -> PostView:
    row = await community.post_by_id(conn, post_id)
    if row is None:
        raise NotFound("Post not found")
    return post_view(row)


async def publish_post(conn: asyncpg.Connection, user: Identity, fields: dict[str, Any], *,
                       now: datetime) -> PostView:
    """Creates the post from its request `fields`, announces `post.created` on the feed, logs
    `post_create` and unlocks the `posts_created` achievements due now, all in the caller's transaction."""
    author = user.require_user_id()
    post_id = await community.create_post(conn, author, fields)
    view = await load_post(conn, post_id)
    await append_event(conn, ChannelName.feed(), "post.created", view)
    # Achievements unlock the moment the post exists, in the same transaction.
    await set_identity(conn, SERVICE)
    await progress.log_activity(conn, author, "post_create", "post", post_id, {"post_type": view.post_type})
    await unlock_due_achievements(conn, author, now)
    return view


async def remove_post(conn: asyncpg.Connection, post_id: UUID) -> bool:
    """Deletes the post (its comments and votes with it) and announces `post.deleted` on the feed and its
    thread, as the caller (RLS: its author or an admin). False when there was no such post."""
    if not await community.delete_post(conn, post_id):
        return False
    gone = Removed(id=post_id)
    await append_event(conn, ChannelName.feed(), "post.deleted", gone)
    await append_event(conn, ChannelName.thread(post_id), "post.deleted", gone)
    return True
