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

from hub.auth import AppServices, Caller
from hub.budgets import COMMENTS, spend
from hub.domain.comments import CommentView, comment_view, load_comment
from hub.domain.community import NO_NUL, require_author_or_admin, thread_channel
from hub.errors import Locked, NotFound, ValidationFailed
from hub.idempotency import IdempotencyKey, create_once
from hub.pagination import Page, check_limit, cursor_key, page_of
from hub.rules.threads import reply_parent
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

    async def create(conn: asyncpg.Connection) -> CommentView:
        post_row = await community.post_by_id(conn, post_id)
        if post_row is None:
            raise NotFound("Post not found")
        # The schema's RLS refuses the same; checking first gives the caller 423 rather than 403.
        if post_row["is_locked"] and not user.is_admin:
            raise Locked()
        parent = data.parent_comment_id
        if parent is not None:
            place = await community.comment_place(conn, parent)
            if place is None or place["post_id"] != post_id:
                raise ValidationFailed({"parent_comment_id": "is not a comment of this post"})
            parent = reply_parent(parent, place["depth"], place["sort_path"], services.settings.max_reply_depth)
        try:
            comment_id = await community.create_comment(conn, post_id, user.require_user_id(), data.content,
                                                        parent)
        except asyncpg.InsufficientPrivilegeError:
            raise Locked() from None  # locked after our check: RLS refused the insert
        except asyncpg.ForeignKeyViolationError:
            raise NotFound("Post not found") from None  # deleted after our check
        view = await load_comment(conn, comment_id)
        await append_event(conn, thread_channel(post_id), "comment.created", view)
        return view

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
        await append_event(conn, thread_channel(view.post_id), "comment.updated", view)
    return view


@delete("/api/comments/{comment_id:uuid}", tags=["community"])
async def delete_comment(comment_id: FromPath[UUID], user: Caller, services: AppServices) -> None:
    """Soft delete; deleting an already deleted comment changes nothing and announces nothing."""
    async with services.db.transaction(user) as conn:
        current = await load_comment(conn, comment_id)
        require_author_or_admin(user, current.author_id)
        if await community.soft_delete_comment(conn, comment_id):
            view = await load_comment(conn, comment_id)
            await append_event(conn, thread_channel(view.post_id), "comment.deleted", view)


ROUTES = [list_thread, create_comment, get_comment, edit_comment, delete_comment]
