"""What a room adds to the realtime edge on the channels of one kind (the live room on `session:<id>`).

One object per room kind, registered once with `Realtime.extend`: its durable publish handlers, the
hooks around a connection joining and leaving the room's presence, observers of live durable events and
handlers of `hub_state` notification kinds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from channels.access import ChannelFacts
from channels.names import ChannelKind, ChannelName
from hub.realtime.durable import DurableObserver
from hub.realtime.publish import PublishHandler

__all__ = ["RoomExtension", "StateHandler"]

# A `hub_state` notification kind handled outside `StateChannels` (hub.live_room's question votes);
# called with the raw payload, in commit order, and must not block.
StateHandler = Callable[[str], None]


class RoomExtension(Protocol):
    @property
    def kind(self) -> ChannelKind:
        """The channel kind whose rooms this extends."""
        ...

    def publish_handlers(self) -> Mapping[str, PublishHandler]:
        """Durable client publish event → its handler, on channels of `kind`."""
        ...

    async def joined(self, name: ChannelName, user_id: str, facts: ChannelFacts) -> None:
        """Awaited before the subscribe reply, once the connection's presence joined `name`, with the facts
        the subscribe was decided on."""
        ...

    async def left(self, name: ChannelName, user_id: str) -> None:
        """After a connection's presence left `name` (the extension decides whether it was the user's last)."""
        ...

    def observers(self) -> Sequence[DurableObserver]:
        """Shown every durable event this instance passes on live, after its delivery."""
        ...

    def state_handlers(self) -> Mapping[str, StateHandler]:
        """`hub_state` notification kind → its handler."""
        ...
