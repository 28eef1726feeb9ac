"""Who wants to see which durable event, keyed by ``(channel kind, event)``.

Code that reacts to a durable event on this instance (``hub.live_room``: a session going live, a
registration cancelled) registers for its channel kind and event name and receives the event
itself (:class:`~channels.frames.EventFrame`: channel, seq, event, data as JSON), after it was
delivered to the local subscribers. Events nobody registered for cost one dict lookup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from channels.errors import UnknownChannel
from channels.frames import EventFrame
from channels.names import ChannelKind, ChannelName, parse_channel

__all__ = ["DurableObserver", "Observers"]

log = logging.getLogger("hub.realtime")

# Called with the event's channel and the event, in the channel's sequence order; must not block.
DurableObserver = Callable[[ChannelName, EventFrame], None]


class Observers:
    __slots__ = ("_by_key",)

    def __init__(self) -> None:
        # Keyed by the channel name's prefix (the kind's value), which an event's channel text starts with.
        self._by_key: dict[tuple[str, str], list[DurableObserver]] = {}

    def observe(self, kind: ChannelKind, event: str, observer: DurableObserver) -> None:
        """Have ``observer`` see every durable ``event`` of a ``kind`` channel this instance passes on live."""
        self._by_key.setdefault((kind.value, event), []).append(observer)

    def notify(self, frame: EventFrame) -> None:
        observers = self._by_key.get((frame.channel.partition(":")[0], frame.event))
        if not observers:
            return
        try:
            name = parse_channel(frame.channel)
        except UnknownChannel:
            # A name the log should never hold; delivery to subscribers already happened, so only report it.
            log.error("durable event on a malformed channel %r", frame.channel)
            return
        for observer in observers:
            try:
                observer(name, frame)
            except Exception:
                log.exception("observer of %s failed on %s", frame.event, frame.channel)
