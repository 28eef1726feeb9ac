"""What a revocation does to this instance's live websockets (the REST side is `hub.revocation`).

Every instance hears each `hub_accounts` note through its listener, so a user's sockets are acted on
wherever they are connected:

* `revoked` (ban, deletion, password change, logout-all): each socket of the user authenticated with a token
  issued at or before the cutoff gets a `token_revoked` error and is closed with 4003.
* `role`: the sockets stay; each takes the account's new role (read once from the database), and every
  subscription the new role no longer allows (an admin's seat in other hosts' session rooms) is revoked with
  a `forbidden` error naming the channel, as a cancelled registration is (`hub.live_room.revocation`).

After the listener lost its connection, notes may have been missed: once it listens again, `recheck` reads
the cutoffs of every locally connected user in one query and closes, with 4003, each socket whose token is
older (the kind of a missed revocation is not known; the client refreshes its token and reconnects).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any
from uuid import UUID

from channels.access import decide_subscribe
from channels.errors import Forbidden, ProtocolError
from channels.frames import OutFrame, encode_error
from channels.names import ChannelKind, parse_channel
from hub.realtime.facts import FactsLookup, viewer_of
from hub.realtime.peers import Peer, Peers
from hub.realtime.subscribe import Subscriptions
from hub.revocation import AccountNote, decode_note
from hub.rules.revocation import is_revoked
from hub.services import Services
from persistence import accounts
from persistence.account_state import RevocationKind
from persistence.identity import SERVICE, with_app_role

__all__ = ["AccountSockets"]

log = logging.getLogger("hub.realtime")

# Of the channels a socket holds, only session rooms are decided on roles (`channels.access`).
_ROLE_GATED = frozenset({ChannelKind.SESSION})


class AccountSockets:
    def __init__(self, services: Services, peers: Peers, subscriptions: Subscriptions, facts: FactsLookup) -> None:
        self._services = services
        self._peers = peers
        self._subscriptions = subscriptions
        self._facts = facts
        self._tasks: set[asyncio.Task[None]] = set()

    def _older(self, user_id: UUID, cutoff_us: int) -> list[Peer]:
        """The user's authenticated sockets whose token the cutoff revokes."""
        return [peer for peer in self._peers
                if (identity := peer.identity) is not None and identity.user_id == user_id
                and is_revoked(identity.issued_us, cutoff_us)]

    def on_note(self, payload: str) -> None:
        """A `hub_accounts` note, as the listener received it."""
        note = decode_note(payload)
        if note is None:
            # Unreadable, or of a kind this version does not know: it may have revoked someone, so act as
            # after notes were missed.
            log.warning("unreadable account note: %.200s", payload)
            self._services.cutoffs.missed()
            self.on_reconnect()
            return
        self._services.cutoffs.noted(note)
        if note.k is RevocationKind.ROLE:
            if self._older(note.u, note.a):
                self._spawn(self._role_changed(note))
            return
        for peer in self._older(note.u, note.a):
            peer.revoke()

    def on_reconnect(self) -> None:
        """The listener listens again after a lost connection: catch the sockets of missed notes."""
        self._spawn(self.recheck())

    async def recheck(self) -> None:
        users = {peer.identity.user_id for peer in self._peers
                 if peer.identity is not None and peer.identity.user_id is not None}
        if not users:
            return
        cutoffs = await self._services.cutoffs.current(list(users))
        for peer in list(self._peers):
            identity = peer.identity
            if identity is not None and identity.user_id is not None and \
                    is_revoked(identity.issued_us, cutoffs.get(identity.user_id)):
                peer.revoke()

    async def _role_changed(self, note: AccountNote) -> None:
        async with self._services.db.transaction(SERVICE) as conn:
            user = await accounts.user_by_id(conn, note.u)
        if user is None:  # deleted meanwhile: its own note closes the sockets
            return
        role = accounts.metadata(user["raw_app_meta_data"]).get("role")
        for peer in self._older(note.u, note.a):
            identity = peer.identity
            assert identity is not None
            # As of the cutoff: the socket now holds what a token issued just after it would carry.
            peer.identity = with_app_role(identity, role if isinstance(role, str) else None, note.a + 1)
            self._subscriptions.access_revoked()
            await self._drop_disallowed(peer)

    async def _drop_disallowed(self, peer: Peer) -> None:
        identity = peer.caller()
        viewer = viewer_of(identity)
        for channel, sub in list(peer.connection.subscriptions.items()):
            name = parse_channel(channel)
            if name.kind not in _ROLE_GATED or not self._subscriptions.revocable(sub):
                continue
            try:
                decide_subscribe(name, viewer, await self._facts.lookup(name, identity))
            except ProtocolError:
                await self._subscriptions.unsubscribe(peer, name)
                notice = Forbidden("Your role changed", details={"channel": channel})
                peer.outbox.push(OutFrame(encode_error(notice)))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(self._run(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run(work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:
            log.exception("acting on an account revocation failed")

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
