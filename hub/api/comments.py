"""Threaded comments: the thread in display order, replies, author edits, soft deletes, and their
events on `thread:<post_id>` (`comment.created`, `comment.updated`, `comment.deleted`), each carrying
`hub.domain.comments.CommentView`, the one representation of a comment.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated
from uuid import UUID

import asyncpg
import msgspec
from litestar import Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from channels.names import ChannelName
from hub.auth import AppServices, Caller, require_verified
from hub.budgets import COMMENTS, spend
from hub.domain.comments import CommentView, add_comment, comment_view, load_comment, remove_comment
from hub.domain.community import NO_NUL, require_author_or_admin
from hub.errors import NotFound, ValidationFailed
from hub.idempotency import IdempotencyKey, create_once
from hub.pagination import Page, check_limit, cursor_key, page_of
from persistence import community
from persistence.events import append_event

# A thread cursor encodes one comment id (54 characters); anything longer is refused before decoding.
THREAD_CURSOR_MAX_LENGTH = 64

CommentContent = Annotated[str, msgspec.Meta(min_length=1, max_length=10_000, pattern=NO_NUL)]


class CommentIn(msgspec.Struct, forbid_unknown_fields=True):
    content: CommentContent
    parent_comment_id: UUID | None = None


class CommentPatch(msgspec.Struct, forbid_unknown_fields=True):
    content: CommentContent


@get("/api/posts/{post_id:uuid}/comments", tags=["community"])
async def list_thread(
    post_id: FromPath[UUID],
    user: Caller,
    services: AppServices,
    limit: Annotated[int | None, QueryParameter()] = None,
    cursor: Annotated[str | None, QueryParameter(max_length=THREAD_CURSOR_MAX_LENGTH)] = None,
) -> Page[CommentView]:
    """The cursor is the last comment's id: its stored path is where the next page starts."""
    size = check_limit(limit)
    key = cursor_key(cursor, tuple[UUID])
    after = None if key is None else key[0]
    async with services.db.transaction(user) as conn:
        rows = await community.thread_page(conn, post_id, after, size + 1)
        # A page with rows proves the post is there and the cursor is its comment; only an empty page
        # may be a missing post or a cursor from another thread.
        if not rows:
            if await community.post_by_id(conn, post_id) is None:
                raise NotFound("Post not found")
            if after is not None and await community.comment_post_id(conn, after) != post_id:
                raise ValidationFailed({"cursor": "is not a cursor this route issued"})
    page = page_of(rows, size, lambda row: [str(row["id"])])
    return Page(items=[comment_view(row) for row in page.items], next_cursor=page.next_cursor)


@post("/api/posts/{post_id:uuid}/comments", status_code=201, tags=["community"])
async def create_comment(post_id: FromPath[UUID], data: JSONBody[CommentIn], user: Caller, services: AppServices,
                         idempotency_key: IdempotencyKey = None) -> Response[CommentView]:
    require_verified(services, user)

    async def create(conn: asyncpg.Connection) -> CommentView:
        return await add_comment(conn, user, post_id, data.content, data.parent_comment_id,
                                 max_reply_depth=services.settings.max_reply_depth)

    return await create_once(services.db, user, idempotency_key, f"POST /api/posts/{post_id}/comments", data, create,
                             charge=partial(spend, services, COMMENTS, str(user.require_user_id())))


@get("/api/comments/{comment_id:uuid}", tags=["community"])
async def get_comment(comment_id: FromPath[UUID], user: Caller, services: AppServices) -> CommentView:
    async with services.db.transaction(user) as conn:
        return await load_comment(conn, comment_id)


@patch("/api/comments/{comment_id:uuid}", tags=["community"])
async def edit_comment(comment_id: FromPath[UUID], data: JSONBody[CommentPatch], user: Caller,
                       services: AppServices) -> CommentView:
    async with services.db.transaction(user) as conn:
        current = await load_comment(conn, comment_id)
        require_author_or_admin(user, current.author_id)
        if not await community.edit_comment(conn, comment_id, data.content):
            raise NotFound("Comment was deleted")
        view = await load_comment(conn, comment_id)
        await append_event(conn, ChannelName.thread(view.post_id), "comment.updated", view)
    return view


@delete("/api/comments/{comment_id:uuid}", tags=["community"])
async def delete_comment(comment_id: FromPath[UUID], user: Caller, services: AppServices) -> None:
    """Soft delete; the comment's logged events are redacted in the same transaction (migration 0020).
    Deleting an already deleted comment changes nothing and announces nothing."""
    async with services.db.transaction(user) as conn:
        current = await load_comment(conn, comment_id)
        require_author_or_admin(user, current.author_id)
        await remove_comment(conn, comment_id)


ROUTES = [list_thread, create_comment, get_comment, edit_comment, delete_comment]
