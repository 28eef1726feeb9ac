"""The messages of a live session's room (chat, questions, answers, announcements): their one shape, for
REST history and for the events the live room appends on `session:<id>`; and removing a chat line."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from channels.names import ChannelName
from hub.domain.community import Removed
from persistence import session_room
from persistence.db import set_identity
from persistence.events import append_event
from persistence.identity import Identity, service_acting_for


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


async def remove_chat_line(conn: asyncpg.Connection, remover: Identity, session_id: UUID,
                           message_id: UUID, kinds: tuple[str, ...] = ("chat",)) -> bool | None:
    """Soft-deletes a chat line (or another of `kinds`) of the session (its text kept server-only, with
    `remover` as `deleted_by`) and announces `chat.deleted` `{id}` on the room. The caller has decided that
    `remover` may. None: no such chat line; False: it was deleted already (nothing announced)."""
    await set_identity(conn, service_acting_for(remover))  # message rows are server-owned
    deleted_now = await session_room.delete_chat_line(conn, session_id, message_id, kinds)
    if deleted_now:
        await append_event(conn, ChannelName.session(session_id), "chat.deleted", Removed(id=message_id))
    return deleted_now
