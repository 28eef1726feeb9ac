"""The subscribe workflow of the edge: facts → decide → join the fan-out → reply → resume.

`channels.connection.Connection` has already checked the subscribe against the connection's
subscriptions and holds the record this module adds to (`subscribed`) and removes from (`drop`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from channels.access import ChannelFacts, decide_subscribe
from channels.frames import EventFrame, OutFrame, encode_reply_ok, encode_reset
from channels.limits import ProtocolLimits
from channels.names import ChannelKind, ChannelName, parse_channel
from channels.presence import Meta
from channels.resume import Replay, Reset, ResumeDecision, decide_resume
from channels.sequencing import NeedsFill, Subscription
from hub.realtime.event_log import DbEventLog
from hub.realtime.extension import RoomExtension
from hub.realtime.facts import FactsLookup
from hub.realtime.fanout import Fanout, Subscriber
from hub.realtime.listener import Listener
from hub.realtime.peers import Peer
from hub.realtime.presence_store import Presence
from hub.realtime.state_channels import StateChannels, counts_data
from hub.services import Services
from persistence.channel_facts import vote_counts
from persistence.identity import SERVICE

__all__ = ["Subscriptions"]

log = logging.getLogger("hub.realtime")


class Subscriptions:
    def __init__(self, services: Services, limits: ProtocolLimits, facts: FactsLookup, fanout: Fanout,
                 log: DbEventLog, listener: Listener, presence: Presence, state: StateChannels) -> None:
        self.services = services
        self.limits = limits
        self.facts = facts
        self.fanout = fanout
        self.log = log
        self.listener = listener
        self.presence = presence
        self.state = state
        self.rooms: dict[ChannelKind, RoomExtension] = {}  # filled by `Realtime.extend`
        # Counts the revocations of channel access seen on this instance (see `access_revoked`).
        self._revocations = 0

    def access_revoked(self) -> None:
        """A user's access to a channel was just taken away here (a kick, a cancelled registration, a lost
        role). A revoker drops only replied subscriptions; a subscribe still in flight decides again before
        its reply instead, since its facts may have been read before the change committed."""
        self._revocations += 1

    @staticmethod
    def revocable(sub: Subscriber) -> bool:
        """Whether a revoker drops `sub` itself: not while its subscribe is in flight (`access_revoked`)."""
        return sub.ready

    async def subscribe(self, peer: Peer, name: ChannelName, since: int | None, frame_id: int | None) -> None:
        """Authorize, join the fan-out, reply, then replay what the client missed and go live.

        The subscriber is registered BEFORE the head is read, so an event committed
        meanwhile is buffered by its `Subscription` (and deduplicated against the
        replay) instead of slipping between the head read and live delivery. The
        reply is queued before any event of the channel. Raises `ProtocolError`s, or
        what the log raises, only before the reply: the subscription is then gone.
        """
        viewer = peer.viewer
        channel = str(name)
        revocations = self._revocations
        facts = await self.facts.lookup(name, peer.caller(), budgeted=True)
        decide_subscribe(name, viewer, facts)
        seq: Subscription[EventFrame] | None = (
            Subscription(max_buffer=self.limits.replay_buffer_frames) if name.is_durable else None
        )
        full_view = viewer.is_admin
        sub = Subscriber(channel, peer.outbox, viewer.user_id, seq, full_view=full_view)
        self.fanout.add(sub)
        peer.connection.subscribed(name, sub)
        self.services.metrics.ws_subscriptions.labels(name.kind.value).inc()
        try:
            if seq is None:
                snapshot = await self._snapshot(name)
                await self._decide_again(peer, name, revocations)
                peer.outbox.push(OutFrame(encode_reply_ok(frame_id, {"channel": channel, "seq": None,
                                                                     "snapshot": snapshot})))
                sub.ready = True
                return
            # A live start on a channel the listener already passes on needs no log read (connection storms).
            known = self.listener.head(channel) if since is None else None
            head, trimmed = (known, 0) if known is not None else await self.log.position(channel)
            decision = decide_resume(head, trimmed, since)
            result: dict[str, Any] = {"channel": channel, "seq": head, "snapshot": None}
            if name.has_presence:
                result["presence"] = await self._join_presence(peer, name, sub, facts)
                room = self.rooms.get(name.kind)
                if room is not None:
                    await room.joined(name, viewer.user_id, facts)
            await self._decide_again(peer, name, revocations)
            peer.outbox.push(OutFrame(encode_reply_ok(frame_id, result)))
            sub.ready = True
        except BaseException:
            await self.unsubscribe(peer, name)
            raise
        fill = self._position(sub, seq, decision, head)
        if fill is None:
            return
        try:
            await self.fanout.catch_up(sub, fill)
        except Exception as exc:
            # The frame has its reply: an error now would be a second one. The subscriber keeps buffering
            # (bounded) while the fan-out retries the read, so the client still gets every event, in order.
            log.warning("replay of %s failed, retrying: %s", channel, exc or type(exc).__name__)
            self.fanout.fill_later(sub, fill)

    async def _decide_again(self, peer: Peer, name: ChannelName, seen: int) -> None:
        """Raises `forbidden` if access was revoked since the facts were read; returns with no await left
        before the caller's reply, so a revocation after this sees a replied subscription."""
        while seen != self._revocations:
            seen = self._revocations
            decide_subscribe(name, peer.viewer, await self.facts.lookup(name, peer.caller()))

    def _position(self, sub: Subscriber, seq: Subscription[EventFrame], decision: ResumeDecision,
                  head: int) -> NeedsFill | None:
        """Start a replied durable subscription where `decision` says; the log read still to do."""
        if isinstance(decision, Replay) and decision.through > decision.after:
            return NeedsFill(decision.after, decision.through)
        if isinstance(decision, Reset):
            sub.outbox.push(OutFrame(encode_reset(sub.channel, head, decision.reason)))
        step = seq.finish_replay([], after=decision.after if isinstance(decision, Replay) else head)
        for frame in step.frames:
            sub.outbox.push(frame)
        return step.fill

    async def _snapshot(self, name: ChannelName) -> Any:
        if name.kind is ChannelKind.VOTES:
            async with self.services.db.transaction(SERVICE) as conn:
                rows = await vote_counts(conn, name.key or "", self.services.settings.votes_snapshot_comments)
            return [counts_data(r["target_type"], r["target_id"], r["upvotes_count"], r["downvotes_count"])
                    for r in rows]
        items = await self.state.leaderboard(name.key or "")
        return None if items is None else {"period": name.key, "items": items}

    async def _join_presence(self, peer: Peer, name: ChannelName, sub: Subscriber, facts: ChannelFacts) -> Any:
        viewer = peer.viewer
        is_host = viewer.is_admin or facts.host_id == viewer.user_id
        sub.full_view = is_host
        meta = Meta(peer.conn_id, "host" if is_host else "participant", False, datetime.now(UTC).isoformat())
        try:
            return await self.presence.join(str(name), viewer.user_id, meta, is_host, sub)
        except Exception as exc:
            # Presence degrades (Redis down); the durable channel works regardless.
            log.warning("presence join failed: %s", exc or type(exc).__name__)
            return {}

    async def unsubscribe(self, peer: Peer, name: ChannelName) -> None:
        """End a subscription from the server side (failed subscribe, revocation): nothing if it is gone."""
        sub = peer.connection.drop(str(name))
        if sub is not None:
            await self.leave(peer, name, sub)

    async def detach(self, peer: Peer) -> None:
        """The connection is gone: leave every channel (presence leaves are best effort)."""
        for channel in list(peer.connection.subscriptions):
            await self.unsubscribe(peer, parse_channel(channel))

    async def leave(self, peer: Peer, name: ChannelName, sub: Subscriber) -> None:
        """Undo what `subscribe` did for `sub`, whose record the connection no longer holds."""
        channel = str(name)
        self.fanout.remove(sub)
        self.services.metrics.ws_subscriptions.labels(name.kind.value).dec()
        if name.has_presence and peer.identity is not None:
            try:
                async with asyncio.timeout(2):  # not wait_for: on 3.11 it can swallow a cancellation
                    await self.presence.leave(channel, sub.user_id, peer.conn_id)
            except Exception as exc:
                log.warning("presence leave failed: %s", exc or type(exc).__name__)
            room = self.rooms.get(name.kind)
            if room is not None:
                try:
                    await room.left(name, sub.user_id)
                except Exception:
                    log.exception("session room leave hook failed on %s", channel)
