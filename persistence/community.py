"""Community posts and comments, read and written as the caller (RLS and column grants decide).

Counters (votes, comments_count, last_activity_at) belong to the schema's triggers and are never
written here; `add_views` is the one server-owned write and runs as SERVICE.

The list statements are module constants so the EXPLAIN test checks exactly what the routes run.
Each feed statement takes the keyset bound first (see `hub.rules.threads`), then the four optional
filters (category, tag, post_type, author_id; NULL = no filter), then the row limit. Feed and thread pages
leave out the posts and comments of authors the caller blocked, by one probe of the `user_blocks` primary
key per row read. `OFFSET 0` keeps that NOT EXISTS a per-row subplan: as an anti-join the planner misjudged
how many rows survive it (with an author filter it chose a sequential scan and a sort). Content hidden
pending review is left out by RLS (migration 0022).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import asyncpg

POST_BY_ID = """
SELECT p.id, p.author_id, a.full_name AS author_full_name, a.avatar_url AS author_avatar_url,
       p.title, p.content, p.post_type, p.category, p.tags, p.is_pinned, p.is_locked,
       p.upvotes_count, p.downvotes_count, p.comments_count, p.views_count,
       p.last_activity_at, p.created_at, p.updated_at
FROM public.community_posts p LEFT JOIN public.user_profiles a ON a.id = p.author_id
WHERE p.id = $1
"""

# Index: idx_posts_pinned_activity (and idx_posts_category_activity / idx_posts_type_activity), backwards.
LIST_POSTS_ACTIVE = """
SELECT p.id, p.author_id, a.full_name AS author_full_name, a.avatar_url AS author_avatar_url,
       p.title, p.content, p.post_type, p.category, p.tags, p.is_pinned, p.is_locked,
       p.upvotes_count, p.downvotes_count, p.comments_count, p.views_count,
       p.last_activity_at, p.created_at, p.updated_at
FROM public.community_posts p LEFT JOIN public.user_profiles a ON a.id = p.author_id
WHERE (p.is_pinned, p.last_activity_at, p.id) < ($1, $2, $3)
  AND ($4::text IS NULL OR p.category = $4)
  AND ($5::text IS NULL OR p.tags @> ARRAY[$5::text])
  AND ($6::text IS NULL OR p.post_type = $6)
  AND ($7::uuid IS NULL OR p.author_id = $7)
  AND NOT EXISTS (SELECT FROM public.user_blocks b WHERE b.blocker_id = auth.uid() AND b.blocked_id = p.author_id
                  OFFSET 0)
ORDER BY p.is_pinned DESC, p.last_activity_at DESC, p.id DESC
LIMIT $8
"""

# Index: idx_posts_created (and idx_posts_author_created), backwards.
LIST_POSTS_NEW = """
SELECT p.id, p.author_id, a.full_name AS author_full_name, a.avatar_url AS author_avatar_url,
       p.title, p.content, p.post_type, p.category, p.tags, p.is_pinned, p.is_locked,
       p.upvotes_count, p.downvotes_count, p.comments_count, p.views_count,
       p.last_activity_at, p.created_at, p.updated_at
FROM public.community_posts p LEFT JOIN public.user_profiles a ON a.id = p.author_id
WHERE (p.created_at, p.id) < ($1, $2)
  AND ($3::text IS NULL OR p.category = $3)
  AND ($4::text IS NULL OR p.tags @> ARRAY[$4::text])
  AND ($5::text IS NULL OR p.post_type = $5)
  AND ($6::uuid IS NULL OR p.author_id = $6)
  AND NOT EXISTS (SELECT FROM public.user_blocks b WHERE b.blocker_id = auth.uid() AND b.blocked_id = p.author_id
                  OFFSET 0)
ORDER BY p.created_at DESC, p.id DESC
LIMIT $7
"""

# Index: idx_posts_score on (upvotes_count - downvotes_count, id), backwards.
LIST_POSTS_TOP = """
SELECT p.id, p.author_id, a.full_name AS author_full_name, a.avatar_url AS author_avatar_url,
       p.title, p.content, p.post_type, p.category, p.tags, p.is_pinned, p.is_locked,
       p.upvotes_count, p.downvotes_count, p.comments_count, p.views_count,
       p.last_activity_at, p.created_at, p.updated_at
FROM public.community_posts p LEFT JOIN public.user_profiles a ON a.id = p.author_id
WHERE ((p.upvotes_count - p.downvotes_count), p.id) < ($1, $2)
  AND ($3::text IS NULL OR p.category = $3)
  AND ($4::text IS NULL OR p.tags @> ARRAY[$4::text])
  AND ($5::text IS NULL OR p.post_type = $5)
  AND ($6::uuid IS NULL OR p.author_id = $6)
  AND NOT EXISTS (SELECT FROM public.user_blocks b WHERE b.blocker_id = auth.uid() AND b.blocked_id = p.author_id
                  OFFSET 0)
ORDER BY (p.upvotes_count - p.downvotes_count) DESC, p.id DESC
LIMIT $7
"""

LIST_POSTS = {"active": LIST_POSTS_ACTIVE, "new": LIST_POSTS_NEW, "top": LIST_POSTS_TOP}

# Index: idx_comments_post_sort_path, walked forward from the cursor's stored path: a page reads its own
# rows and nothing else, however deep or wide the thread. `$2` is the last comment of the previous page
# (NULL for the first page, which starts below every path); a cursor that is not a comment of this post
# bounds nothing and the page is empty. Paths compare in "C" collation (the column's): see
# `hub.rules.threads` for why that is display order. Rows come only while the caller can see the post,
# so a page that has rows needs no separate look at the post.
THREAD_PAGE = """
SELECT c.id, c.post_id, c.parent_comment_id, c.author_id,
       a.full_name AS author_full_name, a.avatar_url AS author_avatar_url,
       c.content, c.is_deleted, c.upvotes_count, c.downvotes_count, c.created_at, c.updated_at, c.depth
FROM public.community_comments c
LEFT JOIN public.user_profiles a ON a.id = c.author_id
WHERE c.post_id = $1
  AND c.sort_path > CASE WHEN $2::uuid IS NULL THEN ''
                         ELSE (SELECT s.sort_path FROM public.community_comments s
                               WHERE s.id = $2 AND s.post_id = $1) END
  AND EXISTS (SELECT FROM public.community_posts p WHERE p.id = $1)
  AND NOT EXISTS (SELECT FROM public.user_blocks b WHERE b.blocker_id = auth.uid() AND b.blocked_id = c.author_id
                  OFFSET 0)
ORDER BY c.sort_path
LIMIT $3
"""

COMMENT_BY_ID = """
SELECT c.id, c.post_id, c.parent_comment_id, c.author_id,
       a.full_name AS author_full_name, a.avatar_url AS author_avatar_url,
       c.content, c.is_deleted, c.upvotes_count, c.downvotes_count, c.created_at, c.updated_at, c.depth
FROM public.community_comments c LEFT JOIN public.user_profiles a ON a.id = c.author_id
WHERE c.id = $1
  AND EXISTS (SELECT FROM public.community_posts p WHERE p.id = c.post_id)  -- under RLS: a visible post
"""


async def post_by_id(conn: asyncpg.Connection, post_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(POST_BY_ID, post_id)


async def list_posts(conn: asyncpg.Connection, sort: str, after: tuple[Any, ...], *, category: str | None,
                     tag: str | None, post_type: str | None, author_id: UUID | None,
                     limit: int) -> list[asyncpg.Record]:
    """One page of the feed. Custom plans only: a generic plan of these statements cannot see which
    filters are NULL, misjudges their selectivity and scans instead of walking the sort's index."""
    await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
    rows: list[asyncpg.Record] = await conn.fetch(LIST_POSTS[sort], *after, category, tag, post_type,
                                                  author_id, limit)
    return rows


async def create_post(conn: asyncpg.Connection, author_id: UUID, fields: Mapping[str, Any]) -> UUID:
    post_id: UUID = await conn.fetchval(
        """
        INSERT INTO public.community_posts (author_id, title, content, post_type, category, tags)
        VALUES ($1, $2, $3, $4, $5, $6)
        RETURNING id
        """,
        author_id, fields["title"], fields["content"], fields["post_type"], fields["category"], fields["tags"],
    )
    return post_id


async def patch_post(conn: asyncpg.Connection, post_id: UUID, patch: Mapping[str, Any]) -> bool:
    """Applies only the keys present in `patch`; False when the post is gone."""
    changed: UUID | None = await conn.fetchval(
        """
        UPDATE public.community_posts p
        SET (title, content, post_type, category, tags)
          = (SELECT r.title, r.content, r.post_type, r.category, r.tags
             FROM jsonb_populate_record(p, $2::jsonb) r)
        WHERE p.id = $1
        RETURNING p.id
        """,
        post_id, patch,
    )
    return changed is not None


async def moderate(conn: asyncpg.Connection, post_id: UUID, *, pinned: bool | None = None,
                   locked: bool | None = None) -> bool:
    """Sets the flags given (None keeps one); False when the post is gone. The schema's
    guard_post_moderation trigger refuses this for non-admins."""
    changed: UUID | None = await conn.fetchval(
        """
        UPDATE public.community_posts
        SET is_pinned = coalesce($2, is_pinned), is_locked = coalesce($3, is_locked)
        WHERE id = $1
        RETURNING id
        """,
        post_id, pinned, locked,
    )
    return changed is not None


async def delete_post(conn: asyncpg.Connection, post_id: UUID) -> bool:
    """Hard delete; comments go by cascade and votes by the schema's delete trigger. Every logged view of
    the post and its comments is redacted in this transaction (migration 0020's triggers)."""
    deleted: UUID | None = await conn.fetchval(
        "DELETE FROM public.community_posts WHERE id = $1 RETURNING id", post_id)
    return deleted is not None


async def add_views(conn: asyncpg.Connection, views: Mapping[UUID, int]) -> None:
    """One increment per post, in id order so concurrent flushers lock rows in the same order."""
    await conn.executemany(
        "UPDATE public.community_posts SET views_count = views_count + $2 WHERE id = $1",
        sorted(views.items()),
    )


async def thread_page(conn: asyncpg.Connection, post_id: UUID, after_id: UUID | None,
                      limit: int) -> list[asyncpg.Record]:
    """One page of the thread in display order after the comment `after_id` (None: from the start);
    empty when the post is missing or hidden from the caller."""
    rows: list[asyncpg.Record] = await conn.fetch(THREAD_PAGE, post_id, after_id, limit)
    return rows


async def comment_by_id(conn: asyncpg.Connection, comment_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(COMMENT_BY_ID, comment_id)


async def comment_post_id(conn: asyncpg.Connection, comment_id: UUID) -> UUID | None:
    post_id: UUID | None = await conn.fetchval(
        "SELECT post_id FROM public.community_comments WHERE id = $1", comment_id)
    return post_id


async def comment_place(conn: asyncpg.Connection, comment_id: UUID) -> asyncpg.Record | None:
    """(post_id, depth, sort_path) of a comment: what a reply to it is placed by."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT post_id, depth, sort_path FROM public.community_comments WHERE id = $1", comment_id)
    return row


async def create_comment(conn: asyncpg.Connection, post_id: UUID, author_id: UUID, content: str,
                         parent_comment_id: UUID | None) -> UUID:
    comment_id: UUID = await conn.fetchval(
        """
        INSERT INTO public.community_comments (post_id, author_id, content, parent_comment_id)
        VALUES ($1, $2, $3, $4)
        RETURNING id
        """,
        post_id, author_id, content, parent_comment_id,
    )
    return comment_id


async def edit_comment(conn: asyncpg.Connection, comment_id: UUID, content: str) -> bool:
    changed: UUID | None = await conn.fetchval(
        "UPDATE public.community_comments SET content = $2 WHERE id = $1 AND NOT is_deleted RETURNING id",
        comment_id, content)
    return changed is not None


async def soft_delete_comment(conn: asyncpg.Connection, comment_id: UUID) -> bool:
    """True when this call deleted it; the row, its replies and its votes stay, its text moves to the
    server-only `private.deleted_content` (migration 0017's trigger) and every logged view of it is
    redacted (0020's). Through the schema's `public.delete_comment` (author or admin): users cannot write
    `is_deleted` themselves."""
    deleted: bool = await conn.fetchval("SELECT public.delete_comment($1)", comment_id)
    return deleted
