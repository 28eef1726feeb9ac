"""The live room of a workshop session over `/ws`: its durable publishes, attendance and question votes.

`start_live_room` (in `hub.app.STARTERS`, after `start_realtime`) extends the instance's `Realtime`
with one `LiveRoom` on `session:<id>` channels (`hub.realtime.extension.RoomExtension`): the five
durable publish handlers (`publishes`) and the five of room moderation (`moderation`: mutes, kicks,
slow mode, chat lock), the attendance hooks (`attendance`), the coalesced `question.votes`
(`question_votes`) and, since a cancelled or kicked participant loses the room at once, `revocation`.
Presence with roles and hands, reactions, `participants.count` and the large-room view are the realtime
layer's (`hub.realtime.presence_store`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from channels.access import ChannelFacts
from channels.events import QuestionVoteCount
from channels.names import ChannelKind, ChannelName
from hub.live_room.attendance import SESSION_UPDATED, Attendance
from hub.live_room.moderation import HANDLERS as MODERATION_HANDLERS
from hub.live_room.publishes import HANDLERS
from hub.live_room.question_votes import QuestionVotes
from hub.live_room.revocation import PARTICIPANT_CANCELLED, PARTICIPANT_KICKED, Revocation
from hub.realtime.incoming import StateRoutes
from hub.realtime.instance import Realtime
from hub.realtime.observers import DurableObserver
from hub.realtime.publish import PublishHandler
from hub.services import Services
from hub.tasks import cancel_and_wait

__all__ = ["LiveRoom", "start_live_room"]


class LiveRoom:
    """The live room as a `RoomExtension` of `session:<id>` channels."""

    kind = ChannelKind.SESSION

    def __init__(self, realtime: Realtime, coalesce_s: float) -> None:
        self.attendance = Attendance(realtime)
        self.revocation = Revocation(realtime)
        self.votes = QuestionVotes(realtime.fanout, coalesce_s=coalesce_s)

    def publish_handlers(self) -> Mapping[str, PublishHandler]:
        return {**HANDLERS, **MODERATION_HANDLERS}

    async def joined(self, name: ChannelName, user_id: str, facts: ChannelFacts) -> None:
        await self.attendance.joined(name, user_id, facts)

    async def left(self, name: ChannelName, user_id: str) -> None:
        await self.attendance.left(name, user_id)

    def observers(self) -> Mapping[str, DurableObserver]:
        return {SESSION_UPDATED: self.attendance.observe, PARTICIPANT_CANCELLED: self.revocation.observe,
                PARTICIPANT_KICKED: self.revocation.observe}

    def route_states(self, routes: StateRoutes) -> None:
        routes.route(QuestionVoteCount, self.votes.on_state)

    async def stop(self) -> None:
        await self.attendance.stop()
        await self.revocation.stop()


async def start_live_room(services: Services) -> Callable[[], Awaitable[None]]:
    realtime = services.started.get(Realtime)
    room = LiveRoom(realtime, coalesce_s=services.settings.coalesce_ms / 1000)
    realtime.extend(room)
    task = asyncio.create_task(room.votes.run(), name="question-votes")

    async def stop() -> None:
        await cancel_and_wait([task])
        await room.stop()

    return stop
