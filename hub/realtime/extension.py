"""What a room adds to the realtime edge on the channels of one kind (the live room on `session:<id>`).

One object per room kind, registered once with `Realtime.extend`: its durable publish handlers, the
hooks around a connection joining and leaving the room's presence, observers of live durable events and
handlers of `hub_state` notification kinds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from channels.access import ChannelFacts
from channels.names import ChannelKind, ChannelName
from hub.realtime.incoming import StateRoutes
from hub.realtime.observers import DurableObserver
from hub.realtime.publish import PublishHandler

__all__ = ["RoomExtension"]



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

    def observers(self) -> Mapping[str, DurableObserver]:
        """Durable event → the observer shown it, on channels of `kind`, when this instance passes it on live
        (after its delivery)."""
        ...

    def route_states(self, routes: StateRoutes) -> None:
        """Route the `hub_state` note types this room handles (`StateRoutes.route`)."""
        ...
