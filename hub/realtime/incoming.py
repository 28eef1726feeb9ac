"""What other writers send this instance outside the durable log, routed to where it is delivered.

* ``hub_state`` notifications arrive from the listener already decoded (:data:`channels.events.StateNote`);
  :class:`StateRoutes` hands each to the one handler registered for its type (the state channels for
  vote counts and leaderboards, ``hub.live_room`` for question votes), in commit order.
* Broker messages: ephemeral events (``<channel>\\n<event frame>``, framed once by the publishing
  instance) go to the channel's ready subscribers as one shared :class:`~channels.frames.OutFrame`;
  presence changes go to :class:`~hub.realtime.presence_store.Presence`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from channels.events import StateNote
from channels.frames import OutFrame
from hub.metrics import Metrics
from hub.realtime.fanout import Fanout
from hub.realtime.presence_store import Presence, change_channel

__all__ = ["EPHEMERAL_TOPIC", "PRESENCE_TOPIC", "BrokerRoutes", "StateRoutes", "channel_of"]

log = logging.getLogger("hub.realtime")

EPHEMERAL_TOPIC = "ephemeral"
PRESENCE_TOPIC = "presence"

N = TypeVar("N", bound=StateNote)


class StateRoutes:
    """One handler per state note type. A handler is called in commit order and must not block."""

    __slots__ = ("_handlers", "_metrics")

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._handlers: dict[type[Any], Callable[[Any], None]] = {}

    def route(self, kind: type[N], handler: Callable[[N], None]) -> None:
        self._handlers[kind] = handler

    def dispatch(self, note: StateNote) -> None:
        self._metrics.events_in.labels("state").inc()
        handler = self._handlers.get(type(note))
        if handler is None:
            log.debug("no handler for %s", type(note).__name__)
            return
        handler(note)


class BrokerRoutes:
    """Messages of the instance's broker topics, from every instance (this one included)."""

    __slots__ = ("_fanout", "_metrics", "_presence")

    def __init__(self, fanout: Fanout, presence: Presence, metrics: Metrics) -> None:
        self._fanout = fanout
        self._presence = presence
        self._metrics = metrics

    def __call__(self, topic: str, data: bytes) -> None:
        if topic == EPHEMERAL_TOPIC:
            channel, _, frame = data.partition(b"\n")
            self._metrics.events_in.labels("broker").inc()
            self._fanout.broadcast(channel.decode(), OutFrame(frame))
        elif topic == PRESENCE_TOPIC:
            self._presence.on_message(data)


def channel_of(topic: str, data: bytes) -> str | None:
    """The channel a broker message is about: what shards it on a Redis Cluster (``hub.realtime.shards``)."""
    if topic == EPHEMERAL_TOPIC:
        return data.partition(b"\n")[0].decode()
    if topic == PRESENCE_TOPIC:
        return change_channel(data)
    return None
