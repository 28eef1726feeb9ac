"""A comment's one representation, for REST and for the `comment.*` events on `thread:<post_id>`.

It always carries `depth` (0 for a top-level comment). A deleted comment keeps its place and replies,
with `content` null."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from hub.domain.community import Author, author_view
from hub.errors import NotFound
from hub.rules.threads import score
from persistence import community


class CommentView(msgspec.Struct):
    id: UUID
    post_id: UUID
    parent_comment_id: UUID | None
    author_id: UUID
    author: Author
    content: str | None
    is_deleted: bool
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
