"""The durable publishes of a session room: chat lines, questions, question votes, answers, announcements.

`channels.access.decide_publish` has already checked who may send each (participants; answers and
announcements host or admin only). Each handler is one transaction: it locks the session row and
refuses with `session_not_live` unless the session is live at that moment (so nothing is stored after
`end`, whose transition waits on the lock), writes the row as `service_role` (room rows are
server-owned) and appends the event with the message's REST view (`message_view`). Under the lock a
participant's chat line, question or question vote first meets the room's moderation
(`hub.live_room.moderation.check_line`: kicked and muted participants neither write nor vote; the chat lock
and slow mode hold chat lines only), and only what passes spends the sender's budget: the room-message
budget for lines, questions and announcements, the vote budget for votes (`hub.budgets`; over it:
`rate_limited` with `details.retry_after`), so a refused line costs nothing.

Replies: `{"seq", "message"}` for stored lines and answers (`seq` null when the question was already
answered: nothing new is sent); `{"question_id", "upvotes", "voted"}` for a vote (`voted` false for a
repeat, which changes nothing).

Question votes are not logged: the vote's transaction sends a `hub_state` note
`{"k": "question_votes", "session_id", "question_id", "up"}`, delivered at commit in commit order to
every instance, which coalesces it into `question.votes` (`hub.live_room.question_votes`). Publishing
over the broker after commit instead could deliver two instances' counts out of commit order and
leave a stale last value; the notification cannot.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from channels.errors import NotFound, RateLimited, SessionNotLive
from hub.budgets import ROOM_MESSAGES, VOTES, Budget, spend
from hub.domain.messages import message_view
from hub.live_room.moderation import check_line
from hub.realtime.publish import PublishContext, PublishHandler
from persistence import session_room
from persistence.db import set_identity
from persistence.events import append_event, notify_state
from persistence.identity import SERVICE

__all__ = ["HANDLERS", "QUESTION_VOTES"]

QUESTION_VOTES = "question_votes"  # `k` of the state note


async def _open_room(conn: asyncpg.Connection, ctx: PublishContext) -> UUID:
    """Switches to `service_role`, locks the session row and checks it is live; the session id."""
    session_id = UUID(ctx.channel.key)
    await set_identity(conn, SERVICE)
    status = await session_room.lock_status(conn, session_id)
    if status is None:
        raise NotFound(details={"channel": str(ctx.channel)})
    if status != "live":
        raise SessionNotLive(details={"channel": str(ctx.channel)})
    return session_id


async def _question(conn: asyncpg.Connection, ctx: PublishContext, session_id: UUID) -> tuple[UUID, bool]:
    """The question the payload names (locked) and whether it is answered; `not_found` otherwise."""
    question_id = UUID(ctx.payload.question_id)
    answered = await session_room.lock_question(conn, session_id, question_id)
    if answered is None:
        raise NotFound("no such question", {"question_id": ctx.payload.question_id})
    return question_id, answered


async def _spend(ctx: PublishContext, budget: Budget) -> None:
    """The sender's per-user budget, counted across rooms and instances (`hub.budgets`)."""
    await spend(ctx.services, budget, str(ctx.identity.require_user_id()),
                refuse=lambda wait: RateLimited(wait, f"over the {budget.name} budget"))


def _line(kind: str, event: str) -> PublishHandler:
    async def store(ctx: PublishContext) -> dict[str, Any]:
        async with ctx.services.db.transaction(ctx.identity) as conn:
            session_id = await _open_room(conn, ctx)
            await check_line(conn, ctx, session_id, kind)
            await _spend(ctx, ROOM_MESSAGES)
            message_id = await session_room.insert_message(conn, session_id, ctx.identity.require_user_id(), kind,
                                                           ctx.payload.text)
            view = message_view(await session_room.message(conn, message_id))
            seq = await append_event(conn, ctx.channel, event, view)
        return {"seq": seq, "message": view}

    return store


async def vote_question(ctx: PublishContext) -> dict[str, Any]:
    async with ctx.services.db.transaction(ctx.identity) as conn:
        session_id = await _open_room(conn, ctx)
        await check_line(conn, ctx, session_id, "vote")
        await _spend(ctx, VOTES)
        question_id, _ = await _question(conn, ctx, session_id)
        voted = await session_room.add_question_vote(conn, question_id, ctx.identity.require_user_id())
        upvotes = await session_room.question_upvotes(conn, question_id)
        if voted:
            await notify_state(conn, {"k": QUESTION_VOTES, "session_id": str(session_id),
                                      "question_id": str(question_id), "up": upvotes})
    return {"question_id": str(question_id), "upvotes": upvotes, "voted": voted}


async def answer_question(ctx: PublishContext) -> dict[str, Any]:
    async with ctx.services.db.transaction(ctx.identity) as conn:
        session_id = await _open_room(conn, ctx)
        question_id, answered = await _question(conn, ctx, session_id)
        seq: int | None = None
        if not answered:
            await session_room.mark_answered(conn, question_id)
        view = message_view(await session_room.message(conn, question_id))
        if not answered:
            seq = await append_event(conn, ctx.channel, "question.answered", view)
    return {"seq": seq, "message": view}


# (publish event → handler) for the live room's `RoomExtension.publish_handlers`.
HANDLERS: dict[str, PublishHandler] = {
    "chat.message": _line("chat", "chat.message"),
    "question.ask": _line("question", "question.asked"),
    "announcement": _line("announcement", "announcement"),
    "question.vote": vote_question,
    "question.answer": answer_question,
}
