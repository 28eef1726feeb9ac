"""The history of a live session's room: chat, questions (with upvotes and the answered flag), answers
and announcements. The live room writes them; their one shape is `hub.domain.messages.MessageView`."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import delete, get
from litestar.params import FromPath, QueryParameter

from hub.auth import AppServices, Caller
from hub.domain.messages import MessageView, message_view, remove_chat_line
from hub.domain.sessions import require_hosting, require_room_reader, time_id_cursor
from hub.errors import NotFound
from hub.pagination import CursorQuery, Page, check_limit, page_of
from persistence import sessions


@get("/api/sessions/{session_id:uuid}/messages", tags=["sessions"])
async def session_messages(
    session_id: FromPath[UUID],
    user: Caller,
    services: AppServices,
    limit: Annotated[int | None, QueryParameter()] = None,
    cursor: CursorQuery = None,
) -> Page[MessageView]:
    """Oldest first, keyset-paginated by (created_at, id); for those the session channel admits
    (host, admins, seat holders), 403 for anyone else."""
    size = check_limit(limit)
    after = time_id_cursor(cursor)
    async with services.db.transaction(user) as conn:
        await require_room_reader(conn, user, session_id)
        rows = await sessions.messages_page(conn, session_id, after, size + 1)
    page = page_of(rows, size, lambda row: [row["created_at"].isoformat(), str(row["id"])])
    return Page(items=[message_view(row) for row in page.items], next_cursor=page.next_cursor)


@delete("/api/sessions/{session_id:uuid}/messages/{message_id:uuid}", status_code=204, tags=["sessions"])
async def delete_chat_line(session_id: FromPath[UUID], message_id: FromPath[UUID], user: Caller,
                           services: AppServices) -> None:
    """Host or admin removes a chat line (soft: it keeps its place in the history with `content` null, its
    text kept server-only for moderation by migration 0017's trigger, which records who removed it) and
    the room gets `chat.deleted` `{id}`; removing it again changes nothing. 404 for anything that is not a
    chat line of this session (questions and announcements are not removed here)."""
    async with services.db.transaction(user) as conn:
        await require_hosting(conn, user, session_id)
        if await remove_chat_line(conn, user, session_id, message_id) is None:
            raise NotFound("Chat line not found")


ROUTES = [session_messages, delete_chat_line]
