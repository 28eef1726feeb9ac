"""The live room of a workshop session over `/ws`: its durable publishes, attendance and question votes.

`start_live_room` (in `hub.app.STARTERS`, after `start_realtime`) registers on the instance's
`Realtime`: the five durable publish handlers (`publishes`), the attendance hooks (`attendance`) and
the coalesced `question.votes` (`question_votes`). Presence with roles and hands, reactions,
`participants.count` and the large-room view are the realtime layer's (`hub.realtime.presence_store`).
A cancelled registration loses the room at once (`revocation`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from channels.events import QuestionVoteCount
from channels.names import ChannelKind
from hub.live_room.attendance import SESSION_UPDATED, Attendance
from hub.live_room.publishes import HANDLERS
from hub.live_room.question_votes import QuestionVotes
from hub.live_room.revocation import PARTICIPANT_CANCELLED, Revocation
from hub.realtime.core import REALTIME, Realtime
from hub.services import Services

__all__ = ["start_live_room"]


async def start_live_room(services: Services) -> Callable[[], Awaitable[None]]:
    realtime: Realtime = services.extras[REALTIME]
    for event, handler in HANDLERS.items():
        realtime.publish_handlers[(ChannelKind.SESSION, event)] = handler
    attendance = Attendance(realtime)
    realtime.room_joined.append(attendance.joined)
    realtime.room_left.append(attendance.left)
    realtime.fanout.observers.observe(ChannelKind.SESSION, SESSION_UPDATED, attendance.observe)
    revocation = Revocation(realtime)
    realtime.fanout.observers.observe(ChannelKind.SESSION, PARTICIPANT_CANCELLED, revocation.observe)
    votes = QuestionVotes(realtime.fanout, coalesce_s=services.settings.coalesce_ms / 1000)
    realtime.state_routes.route(QuestionVoteCount, votes.on_state)
    task = asyncio.create_task(votes.run(), name="question-votes")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await attendance.stop()
        await revocation.stop()

    return stop
