"""The messages of a live session's room (chat, questions, answers, announcements): their one shape, for
REST history and for the events the live room appends on `session:<id>`."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec


class MessageAuthor(msgspec.Struct):
    id: UUID
    full_name: str | None


class MessageView(msgspec.Struct):
    id: UUID
    session_id: UUID
    author_id: UUID
    author: MessageAuthor
    kind: str
    content: str | None
    parent_id: UUID | None
    upvotes_count: int
    is_answered: bool
    is_deleted: bool
    redacted: bool  # the text is gone: here because the message is deleted, in a logged event since then
    created_at: datetime


def message_view(record: asyncpg.Record) -> MessageView:
    """`record` has the columns of `persistence.sessions.messages_page`; a deleted message keeps its place
    with `content` null and `redacted` true, as every view of it the room's log still holds (migration 0020)."""
    return MessageView(
        id=record["id"],
        session_id=record["session_id"],
        author_id=record["author_id"],
        author=MessageAuthor(id=record["author_id"], full_name=record["author_full_name"]),
        kind=record["kind"],
        content=None if record["is_deleted"] else record["content"],
        parent_id=record["parent_id"],
        upvotes_count=record["upvotes_count"],
        is_answered=record["is_answered"],
        is_deleted=record["is_deleted"],
        redacted=record["is_deleted"],
        created_at=record["created_at"],
    )
