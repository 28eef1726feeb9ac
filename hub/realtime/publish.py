"""Client publishes that passed the protocol's checks (`channels.connection.Connection.check_publish`):
authorized on the channel's facts, then ephemeral events go to every instance over the broker with `seq`
null, durable ones to the room extension's handler for `(kind, event)`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from channels.access import ChannelFacts, decide_publish
from channels.errors import EmailUnverified, EventNotAllowed, InternalError
from channels.frames import encode_event, encode_json
from channels.names import ChannelKind, ChannelName
from channels.publishes import PublishRule
from hub.realtime.brokers import Broker, BrokerUnavailable
from hub.realtime.facts import FactsLookup, viewer_of
from hub.realtime.incoming import EPHEMERAL_TOPIC
from hub.realtime.peers import Peer
from hub.realtime.presence_store import Presence
from hub.services import Services
from persistence.identity import Identity

__all__ = ["PublishContext", "PublishHandler", "Publishes"]

log = logging.getLogger("hub.realtime")

@dataclass(frozen=True)
class PublishContext:
    """What a durable publish handler gets: it runs its own transaction as `identity` and appends the
    event with `persistence.events.append_event`; its return value is the reply's `result`."""

    services: Services
    identity: Identity
    channel: ChannelName
    rule: PublishRule
    payload: Any  # the rule's payload struct (ChatMessage, QuestionRef, …)
    facts: ChannelFacts


PublishHandler = Callable[[PublishContext], Awaitable[dict[str, Any]]]


def _ephemeral(event: str, user_id: str, payload: Any) -> tuple[str, dict[str, Any]]:
    """The event others see for an ephemeral publish: who did it is added by the server."""
    if event == "hand.raise":
        return "hand.raised", {"user_id": user_id}
    if event == "hand.lower":
        return "hand.lowered", {"user_id": payload.user_id or user_id, "by": user_id}
    if event == "reaction":
        return "reaction", {"user_id": user_id, "emoji": payload.emoji}
    return event, {"user_id": user_id}


class Publishes:
    def __init__(self, services: Services, facts: FactsLookup, broker: Broker, presence: Presence) -> None:
        self.services = services
        self.facts = facts
        self.broker = broker
        self.presence = presence
        # Durable client publishes (chat, questions, announcements), registered by their room extension.
        self.handlers: dict[tuple[ChannelKind, str], PublishHandler] = {}

    async def publish(self, peer: Peer, name: ChannelName, rule: PublishRule, payload: Any) -> dict[str, Any]:
        """A client publish that passed the table, payload and rate checks: authorize, then dispatch.

        Ephemeral events go to every instance over the broker with `seq` null; durable
        ones to the handler registered for `(kind, event)` (`event_not_allowed` if none), refused with
        `email_unverified` for an unverified account while `REQUIRE_EMAIL_VERIFICATION` is on.
        """
        return await self.publish_as(peer.caller(), name, rule, payload)

    async def publish_as(self, identity: Identity, name: ChannelName, rule: PublishRule,
                         payload: Any) -> dict[str, Any]:
        """:meth:`publish` for a caller without a connection (`POST /api/channels/{channel}/publish`)."""
        if rule.stored and self.services.settings.require_email_verification and not identity.email_verified:
            # Durable publishes are the room's writes (chat, questions, announcements, question votes);
            # ephemeral ones (hands, reactions) store nothing and stay open.
            raise EmailUnverified()
        viewer = viewer_of(identity)
        facts = await self.facts.lookup(name, identity)
        target = getattr(payload, "user_id", None)
        decide_publish(name, rule, viewer, facts, target_user_id=target)
        if rule.stored:
            handler = self.handlers.get((name.kind, rule.event))
            if handler is None:
                raise EventNotAllowed(details={"channel": str(name), "event": rule.event})
            return await handler(PublishContext(self.services, identity, name, rule, payload, facts))
        event, data = _ephemeral(rule.event, viewer.user_id, payload)
        frame = encode_event(str(name), None, event, encode_json(data), datetime.now(UTC))
        try:
            await self.broker.publish(EPHEMERAL_TOPIC, str(name).encode() + b"\n" + frame)
        except BrokerUnavailable:
            raise InternalError("live delivery is unavailable right now") from None
        if rule.event in ("hand.raise", "hand.lower"):
            try:
                await self.presence.set_hand(str(name), target or viewer.user_id, rule.event == "hand.raise")
            except Exception as exc:
                log.warning("presence hand update failed: %s", exc or type(exc).__name__)
        return {}
