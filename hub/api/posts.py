"""Community posts: the feed, one post, author edits, admin moderation, and their channel events.

`hub.domain.posts.PostView` is the one representation of a post, for REST responses and for event data
alike (`post.created`, `post.updated`, `post.pinned`, `post.locked` on `feed`, the last three also on the
post's thread). Votes and comment counts change through the schema's triggers, not here.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Literal
from uuid import UUID

import asyncpg
import msgspec
from litestar import Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from channels.names import ChannelName
from hub.auth import AppServices, Caller, require_admin, require_verified
from hub.budgets import POSTS, spend
from hub.domain.community import NO_NUL, require_announcement_rights, require_author_or_admin
from hub.domain.posts import PostView, load_post, post_view, publish_post, remove_post
from hub.errors import Forbidden, NotFound, ValidationFailed
from hub.idempotency import IdempotencyKey, create_once
from hub.pagination import CursorQuery, Page, check_limit, decode_cursor, page_of
from hub.rules.periods import utc_datetime
from hub.rules.threads import (
    POST_CURSOR_LENGTH,
    PostSort,
    first_post_key,
    parse_post_cursor,
    post_cursor_key,
)
from hub.views_counter import views_counter_of
from persistence import community
from persistence.events import append_event
from persistence.identity import Identity

PostType = Literal["discussion", "question", "announcement"]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=300, pattern=NO_NUL)]
PostContent = Annotated[str, msgspec.Meta(max_length=20_000, pattern=NO_NUL)]
Category = Annotated[str, msgspec.Meta(max_length=100, pattern=NO_NUL)]
Tag = Annotated[str, msgspec.Meta(max_length=50, pattern=NO_NUL)]
Tags = Annotated[list[Tag], msgspec.Meta(max_length=10)]


class PostIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    content: PostContent | None = None
    post_type: PostType = "discussion"
    category: Category | None = None
    tags: Tags = msgspec.field(default_factory=list)


class PostPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields present are changed; counters, flags and the author are not accepted at all."""

    title: Title | msgspec.UnsetType = msgspec.UNSET
    content: PostContent | msgspec.UnsetType | None = msgspec.UNSET
    post_type: PostType | msgspec.UnsetType = msgspec.UNSET
    category: Category | msgspec.UnsetType | None = msgspec.UNSET
    tags: Tags | msgspec.UnsetType = msgspec.UNSET


@post("/api/posts", status_code=201, tags=["community"])
async def create_post(data: JSONBody[PostIn], user: Caller, services: AppServices,
                      idempotency_key: IdempotencyKey = None) -> Response[PostView]:
    require_verified(services, user)
    require_announcement_rights(user, data.post_type)

    async def create(conn: asyncpg.Connection) -> PostView:
        return await publish_post(conn, user, msgspec.to_builtins(data), now=utc_datetime(services.clock()))

    return await create_once(services.db, user, idempotency_key, "POST /api/posts", data, create,
                             charge=partial(spend, services, POSTS, str(user.require_user_id())))


@get("/api/posts", tags=["community"])
async def list_posts(
    user: Caller,
    services: AppServices,
    sort: Annotated[PostSort, QueryParameter()] = "active",
    category: Annotated[str | None, QueryParameter(max_length=100, pattern=NO_NUL)] = None,
    tag: Annotated[str | None, QueryParameter(max_length=50, pattern=NO_NUL)] = None,
    post_type: Annotated[PostType | None, QueryParameter()] = None,
    author_id: Annotated[UUID | None, QueryParameter()] = None,
    limit: Annotated[int | None, QueryParameter()] = None,
    cursor: CursorQuery = None,
) -> Page[PostView]:
    size = check_limit(limit)
    key = decode_cursor(cursor, POST_CURSOR_LENGTH[sort])
    try:
        after = first_post_key(sort) if key is None else parse_post_cursor(sort, key)
    except ValueError:
        raise ValidationFailed({"cursor": "is not a cursor this route issued"}) from None
    async with services.db.transaction(user) as conn:
        rows = await community.list_posts(conn, sort, after, category=category, tag=tag, post_type=post_type,
                                          author_id=author_id, limit=size + 1)
    return page_of([post_view(row) for row in rows], size,
                   lambda view: post_cursor_key(sort, msgspec.structs.asdict(view)))


@get("/api/posts/{post_id:uuid}", tags=["community"])
async def get_post(post_id: FromPath[UUID], user: Caller, services: AppServices) -> PostView:
    async with services.db.transaction(user) as conn:
        view = await load_post(conn, post_id)
    views_counter_of(services).count(post_id)
    return view


@patch("/api/posts/{post_id:uuid}", tags=["community"])
async def edit_post(post_id: FromPath[UUID], data: JSONBody[PostPatch], user: Caller,
                    services: AppServices) -> PostView:
    require_announcement_rights(user, data.post_type)
    async with services.db.transaction(user) as conn:
        current = await load_post(conn, post_id)
        require_author_or_admin(user, current.author_id)
        try:
            changed = await community.patch_post(conn, post_id, msgspec.to_builtins(data))
        except asyncpg.InsufficientPrivilegeError:
            # RLS: a non-admin may not keep an announcement (one whose author lost the admin role)
            raise Forbidden("Only admins edit announcements") from None
        if not changed:
            raise NotFound("Post not found")
        view = await load_post(conn, post_id)
        await append_event(conn, ChannelName.feed(), "post.updated", view)
        await append_event(conn, ChannelName.thread(post_id), "post.updated", view)
    return view


@delete("/api/posts/{post_id:uuid}", tags=["community"])
async def delete_post(post_id: FromPath[UUID], user: Caller, services: AppServices) -> None:
    async with services.db.transaction(user) as conn:
        current = await load_post(conn, post_id)
        require_author_or_admin(user, current.author_id)
        if not await remove_post(conn, post_id):
            raise NotFound("Post not found")


async def _moderate(services: AppServices, user: Identity, post_id: UUID, *, pinned: bool | None = None,
                    locked: bool | None = None) -> PostView:
    """Sets a moderation flag and announces it: `post.pinned` on the feed, `post.locked` on the feed
    and the thread (one event name for both directions; the post in the data says which)."""
    require_admin(user)
    async with services.db.transaction(user) as conn:
        if not await community.moderate(conn, post_id, pinned=pinned, locked=locked):
            raise NotFound("Post not found")
        view = await load_post(conn, post_id)
        if pinned is not None:
            await append_event(conn, ChannelName.feed(), "post.pinned", view)
        if locked is not None:
            await append_event(conn, ChannelName.feed(), "post.locked", view)
            await append_event(conn, ChannelName.thread(post_id), "post.locked", view)
    return view


@post("/api/posts/{post_id:uuid}/pin", status_code=200, tags=["community"])
async def pin_post(post_id: FromPath[UUID], user: Caller, services: AppServices) -> PostView:
    return await _moderate(services, user, post_id, pinned=True)


@post("/api/posts/{post_id:uuid}/unpin", status_code=200, tags=["community"])
async def unpin_post(post_id: FromPath[UUID], user: Caller, services: AppServices) -> PostView:
    return await _moderate(services, user, post_id, pinned=False)


@post("/api/posts/{post_id:uuid}/lock", status_code=200, tags=["community"])
async def lock_post(post_id: FromPath[UUID], user: Caller, services: AppServices) -> PostView:
    return await _moderate(services, user, post_id, locked=True)


@post("/api/posts/{post_id:uuid}/unlock", status_code=200, tags=["community"])
async def unlock_post(post_id: FromPath[UUID], user: Caller, services: AppServices) -> PostView:
    return await _moderate(services, user, post_id, locked=False)


ROUTES = [create_post, list_posts, get_post, edit_post, delete_post, pin_post, unpin_post, lock_post, unlock_post]
