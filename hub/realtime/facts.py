"""The facts a channel's access is decided on (`channels.access`), fetched for the edge.

A post or session channel's facts come from one transaction as the service role; an id found missing
is remembered for `WS_MISSING_TTL` (`channels.missing`), so probing for absent ids costs no query, and
a subscribe's lookup first spends one of the user's lookups (`hub.realtime.admission`).
"""

from __future__ import annotations

import time

from channels.access import ChannelFacts, Role, Viewer
from channels.missing import MissingIds
from channels.names import ChannelKind, ChannelName
from hub.realtime.admission import spend_lookup
from hub.services import Services
from persistence.channel_facts import channel_facts
from persistence.identity import SERVICE, Identity

__all__ = ["FactsLookup", "viewer_of"]

_FACT_KINDS = frozenset({ChannelKind.THREAD, ChannelKind.VOTES, ChannelKind.SESSION})


def viewer_of(identity: Identity) -> Viewer:
    roles: set[Role] = set()
    if identity.is_admin:
        roles.add(Role.ADMIN)
    if identity.is_host:
        roles.add(Role.HOST)
    return Viewer(str(identity.require_user_id()), frozenset(roles))


class FactsLookup:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.missing = MissingIds(services.settings.ws_missing_ttl_s, services.settings.ws_missing_max)

    async def lookup(self, name: ChannelName, identity: Identity, *, budgeted: bool = False) -> ChannelFacts:
        """The facts of a post or session channel: one transaction, or none for an id recently found missing.

        `budgeted` (subscribes): the transaction spends one of the user's lookups (`hub.realtime.admission`) first."""
        if name.kind not in _FACT_KINDS:
            return ChannelFacts()
        lookups = self.services.metrics.ws_access_lookups
        # thread: and votes: name the same post; only existence is remembered (attendance changes).
        key = ("session" if name.kind is ChannelKind.SESSION else "post", name.key)
        if self.missing.is_missing(key, time.monotonic()):
            lookups.labels("missing").inc()
            return ChannelFacts(exists=False)
        if budgeted:
            await spend_lookup(self.services, str(identity.require_user_id()))
        lookups.labels("database").inc()
        async with self.services.db.transaction(SERVICE) as conn:
            facts = await channel_facts(conn, name, identity.require_user_id())
        if not facts.exists:
            self.missing.add(key, time.monotonic())
        return facts
