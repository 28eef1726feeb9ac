"""An asyncio client of the hub's websocket protocol v1 (docs/client.md, "Python").

    async with HubClient("wss://hub.example/ws", token_provider=get_token) as hub:
        thread = await hub.subscribe(f"thread:{post_id}", since=last_seen)
        async for item in thread:
            ...

Depends on ``websockets``, msgspec and the protocol's pure definitions (``channels``) only.
"""

from hub.client.client import DEFAULT_BACKOFF, Disconnect, HubClient, State, TokenProvider
from hub.client.errors import (
    ClientClosed,
    ConnectionLost,
    Fatal,
    HubError,
    RequestError,
    RequestTimeout,
    SubscriptionRevoked,
    TokenRevoked,
    Unauthenticated,
)
from hub.client.frames import AuthResult, Event, Presence, PresenceEntry, Reset, SubscribeResult
from hub.client.subscription import Item, Resubscribed, Subscription

__all__ = [
    "DEFAULT_BACKOFF",
    "AuthResult",
    "ClientClosed",
    "ConnectionLost",
    "Disconnect",
    "Event",
    "Fatal",
    "HubClient",
    "HubError",
    "Item",
    "Presence",
    "PresenceEntry",
    "RequestError",
    "RequestTimeout",
    "Reset",
    "Resubscribed",
    "State",
    "SubscribeResult",
    "Subscription",
    "SubscriptionRevoked",
    "TokenProvider",
    "TokenRevoked",
    "Unauthenticated",
]
