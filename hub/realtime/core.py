"""The realtime layer of one instance, wired together: what `/ws` connections talk to.

`start_realtime` (in `hub.app.STARTERS`) builds one `Realtime`: the fan-out, the
PostgreSQL listener, the ephemeral broker (Redis pub/sub when `REDIS_URL` is set,
in-process otherwise), presence, and the state channels; it registers the
readiness checks and the SIGTERM drain.

Readiness: "listener" fails while the LISTEN connection is down or catching up
(durable events would be late), "draining" while shutting down. Redis is checked
by `hub.readiness` as the API contract asks (`/readyz` names it); losing it only
degrades presence and ephemeral events here, and the broker reconnects on its own.

Drain (SIGTERM): uvicorn's own shutdown closes websockets with 1012 *before* the
app's lifespan shutdown runs, so the lifespan is too late for 1001. Instead, when
running in the main thread (uvicorn's server process or worker), the starter
wraps uvicorn's SIGTERM handler: the first SIGTERM marks the instance draining
(`/readyz` 503, new websockets are closed with 1001 right after the upgrade),
closes every websocket with 1001, waits for them to finish (at most
`DRAIN_TIMEOUT`), then hands the signal to uvicorn, which stops accepting,
finishes in-flight requests and runs the lifespan shutdown. A second SIGTERM goes
to uvicorn at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import msgspec

from channels.access import ChannelFacts, Role, Viewer, decide_publish, decide_subscribe
from channels.backoff import ReconnectBackoff
from channels.errors import CloseCode, EventNotAllowed, InternalError
from channels.frames import encode_event, encode_json, encode_reply_ok, encode_reset
from channels.limits import ProtocolLimits
from channels.missing import MissingIds
from channels.names import ChannelKind, ChannelName, parse_channel
from channels.presence import Meta
from channels.publishes import PublishRule
from channels.ratelimit import KeyedLimiter
from channels.resume import Replay, Reset, ResumeDecision, decide_resume
from channels.sequencing import NeedsFill, Subscription
from hub.domain.leaderboard import leaderboard_row
from hub.realtime.admission import spend_lookup
from hub.realtime.brokers import Broker, BrokerUnavailable, InProcessBroker, InProcessBus, RedisBroker
from hub.realtime.deadlines import Deadlines
from hub.realtime.fanout import Fanout, LogRow, Outbox, Subscriber
from hub.realtime.listener import Listener
from hub.realtime.presence_store import MemoryPresenceStore, Presence, PresenceStore, RedisPresenceStore
from hub.realtime.state_channels import LeaderboardLoader, StateChannels, counts_data
from hub.realtime.user_connections import UserConnections
from hub.realtime.ws_protocol import WireFrames
from hub.rules.periods import Period, utc_datetime, window
from hub.services import Services
from persistence import events, leaderboard
from persistence.channel_facts import channel_facts, vote_counts
from persistence.db import Database
from persistence.identity import SERVICE, Identity

__all__ = [
    "REALTIME", "Peer", "PublishContext", "PublishHandler", "Realtime", "RoomJoined", "RoomLeft", "StateHandler",
    "start_realtime", "viewer_of",
]

log = logging.getLogger("hub.realtime")

REALTIME = "realtime"  # key in services.extras
EPHEMERAL_TOPIC = "ephemeral"
PRESENCE_TOPIC = "presence"
_FACT_KINDS = frozenset({ChannelKind.THREAD, ChannelKind.VOTES, ChannelKind.SESSION})


def viewer_of(identity: Identity) -> Viewer:
    roles: set[Role] = set()
    if identity.is_admin:
        roles.add(Role.ADMIN)
    if identity.is_host:
        roles.add(Role.HOST)
    return Viewer(str(identity.require_user_id()), frozenset(roles))


@dataclass(eq=False, slots=True)
class Peer:
    """One websocket connection as the realtime layer sees it (the I/O lives in `hub.realtime.websocket`)."""

    conn_id: str
    outbox: Outbox
    close: Callable[[CloseCode, str], None]  # server-side close: the connection flushes nothing more
    identity: Identity | None = None
    # The connection's one record of its subscriptions (hub.realtime.websocket checks subscribe/unsubscribe against it).
    subs: dict[str, Subscriber] = field(default_factory=dict)

    def caller(self) -> Identity:
        if self.identity is None:
            raise LookupError("peer is not authenticated")  # hub.realtime.websocket only passes on frames after auth
        return self.identity

    @property
    def viewer(self) -> Viewer:
        return viewer_of(self.caller())


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

# Session-room hooks (registered by hub.live_room for attendance). `RoomJoined` is awaited before the
# subscribe reply, once the connection's presence joined `session:<id>`, with the facts the subscribe
# was decided on; `RoomLeft` after a connection's presence left it (the hook decides whether it was
# the user's last connection).
RoomJoined = Callable[[ChannelName, str, ChannelFacts], Awaitable[None]]
RoomLeft = Callable[[ChannelName, str], Awaitable[None]]
# A `hub_state` notification kind handled outside `StateChannels` (hub.live_room's question votes);
# called with the raw payload, in commit order, and must not block.
StateHandler = Callable[[str], None]
# Sees every durable event frame this instance passes on live (hub.live_room: a session going live).
DurableObserver = Callable[[str, str], None]


class _StateKind(msgspec.Struct):
    k: str = ""


_STATE_KIND = msgspec.json.Decoder(_StateKind)


class ObservedFanout(Fanout):
    """The fan-out, also showing each live durable event to `observers` (after delivering it)."""

    def __init__(self, log: DbEventLog, *, on_open: Callable[[str], None], on_close: Callable[[str], None]) -> None:
        super().__init__(log, on_open=on_open, on_close=on_close)
        self.observers: list[DurableObserver] = []

    def deliver(self, channel: str, seq: int, frame: str) -> None:
        super().deliver(channel, seq, frame)
        for observe in self.observers:
            try:
                observe(channel, frame)
            except Exception:
                log.exception("durable event observer failed on %s", channel)


class DbEventLog:
    """The durable log read as the service role, each row encoded once into its event frame."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def read(self, channel: str, after: int, through: int, limit: int) -> list[LogRow]:
        async with self._db.transaction(SERVICE) as conn:
            rows = await events.events_after_raw(conn, channel, after, through, limit)
        return [
            (
                int(r["seq"]),
                encode_event(channel, int(r["seq"]), r["event"], r["data_json"].encode(),
                             r["created_at"].isoformat()).decode(),
            )
            for r in rows
        ]

    async def position(self, channel: str) -> tuple[int, int]:
        async with self._db.transaction(SERVICE) as conn:
            return await events.channel_position(conn, channel)


def _ephemeral(event: str, user_id: str, payload: Any) -> tuple[str, dict[str, Any]]:
    """The event others see for an ephemeral publish: who did it is added by the server."""
    if event == "hand.raise":
        return "hand.raised", {"user_id": user_id}
    if event == "hand.lower":
        return "hand.lowered", {"user_id": payload.user_id or user_id, "by": user_id}
    if event == "reaction":
        return "reaction", {"user_id": user_id, "emoji": payload.emoji}
    return event, {"user_id": user_id}


class Realtime:
    def __init__(self, services: Services, *, top20: LeaderboardLoader | None = None) -> None:
        s = services.settings
        metrics = services.metrics
        self.services = services
        self.settings = s
        self.instance_id = uuid.uuid4().hex
        self.limits = ProtocolLimits(
            auth_timeout_s=s.ws_auth_timeout_s,
            heartbeat_s=s.ws_heartbeat_s,
            max_frame_bytes=s.ws_max_frame_bytes,
            max_subscriptions=s.ws_max_subscriptions,
            replay_buffer_frames=max(1, s.ws_send_queue // 4),
            send_queue_frames=s.ws_send_queue,
            publish_rate_per_s=s.scaled_rate(s.ws_publish_rate),
            publish_burst=s.scaled(s.ws_publish_burst),
            frame_rate_per_s=s.ws_frame_rate,
            frame_burst=s.ws_frame_burst,
            strike_limit=s.ws_strike_limit,
            strike_window_s=s.ws_strike_window_s,
            coalesce_window_s=s.coalesce_ms / 1000,
            presence_window_s=s.presence_batch_ms / 1000,
            large_room_threshold=s.large_room_threshold,
        )
        # Shared by every connection of the instance: keys are "<user>|<channel>", so a user's tabs share a bucket.
        self.publish_limiter = KeyedLimiter(self.limits.publish_rate_per_s, self.limits.publish_burst,
                                            max_keys=100_000)
        self.missing = MissingIds(s.ws_missing_ttl_s, s.ws_missing_max)
        self.log = DbEventLog(services.db)
        self.fanout = ObservedFanout(self.log, on_open=self._channel_opened, on_close=self._channel_closed)

        def observe(latency: float) -> None:
            metrics.commit_to_send.observe(latency)
            metrics.events_in.labels("postgres").inc()

        self.listener = Listener(
            services.db.dsn, self.fanout, self.log, self._on_state,
            on_reconnect=metrics.listener_reconnects.inc, on_latency=observe, wall_clock=time.time,
            backoff=ReconnectBackoff(fast_max_s=s.listener_retry_max_s, fast_for_s=s.listener_retry_fast_for_s),
        )
        topics = (EPHEMERAL_TOPIC, PRESENCE_TOPIC)
        store: PresenceStore
        self.broker: Broker
        if services.redis is not None:
            self.broker = RedisBroker(services.redis, services.namespace, topics,
                                      on_reconnect=metrics.redis_reconnects.inc)
            store = RedisPresenceStore(services.redis, services.namespace, self.instance_id, s.presence_ttl_s)
        else:
            self.broker = InProcessBroker(InProcessBus(), topics)
            store = MemoryPresenceStore()
        self.presence = Presence(
            store, self.fanout, self._publish_presence,
            window_s=s.presence_batch_ms / 1000, large_room_threshold=s.large_room_threshold,
            heartbeat_s=s.presence_ttl_s / 3,
        )
        self.state = StateChannels(self.fanout, coalesce_s=s.coalesce_ms / 1000, top20=top20)
        # Durable client publishes (chat, questions, announcements) are registered by their domain.
        self.publish_handlers: dict[tuple[ChannelKind, str], PublishHandler] = {}
        self.room_joined: list[RoomJoined] = []
        self.room_left: list[RoomLeft] = []
        self.state_handlers: dict[str, StateHandler] = {}
        self.peers: set[Peer] = set()
        self.deadlines = Deadlines()  # the connections' protocol deadlines, on one timer
        self.wire_frames = WireFrames()  # frames encoded for the wire once per event
        self._peers_gone = asyncio.Event()
        self.draining = False
        # The per-user cap counts across instances (Redis); a crashed instance's connections stop counting
        # within PRESENCE_TTL, the same liveness window as its presence entries.
        self.user_connections = UserConnections(services.redis, services.namespace, self.instance_id,
                                                s.presence_ttl_s)
        self._tasks: list[asyncio.Task[None]] = []
        self._drain_task: asyncio.Task[None] | None = None
        self._restore_signal: Callable[[], None] | None = None

    # --- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        await self.broker.start(self._on_broker)
        # Live before the first claim: other instances' claims drop the counts of an instance not known alive.
        try:
            async with asyncio.timeout(2):
                await self.user_connections.heartbeat()
        except Exception as exc:
            log.warning("connection count heartbeat failed: %s", exc or type(exc).__name__)
        self._tasks = [
            asyncio.create_task(self.user_connections.run(), name="user-connections"),
            asyncio.create_task(self.listener.run(), name="listener"),
            asyncio.create_task(self.state.run(), name="state-channels"),
            asyncio.create_task(self.presence.run(), name="presence"),
        ]
        ready: dict[str, Callable[[], Awaitable[str | None]]] = self.services.extras.setdefault("ready", {})
        ready["listener"] = self._listener_ready
        ready["draining"] = self._drain_ready
        self._hook_sigterm()

    async def stop(self) -> None:
        if self._restore_signal is not None:
            self._restore_signal()
        self.begin_drain()
        await self._wait_for_peers(min(self.settings.drain_timeout_s, 2.0))
        if self._drain_task is not None and self._drain_task is not asyncio.current_task():
            self._drain_task.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self.presence.store.clear()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self.user_connections.clear()
        await self.broker.stop()
        self.deadlines.close()

    async def _listener_ready(self) -> str | None:
        return None if self.listener.connected else "disconnected"

    async def _drain_ready(self) -> str | None:
        return "draining" if self.draining else None

    def begin_drain(self) -> None:
        """Refuse new websockets and close every open one with 1001 (clients reconnect elsewhere and resume)."""
        self.draining = True
        for peer in list(self.peers):
            peer.close(CloseCode.GOING_AWAY, "server draining")

    async def drain(self) -> None:
        self.begin_drain()
        await self._wait_for_peers(self.settings.drain_timeout_s)

    def add_peer(self, peer: Peer) -> None:
        self.peers.add(peer)
        self._peers_gone.clear()

    def remove_peer(self, peer: Peer) -> None:
        self.peers.discard(peer)
        if not self.peers:
            self._peers_gone.set()

    async def _wait_for_peers(self, budget_s: float) -> None:
        if self.peers:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(budget_s):
                    await self._peers_gone.wait()

    def _hook_sigterm(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals only reach the main thread (the in-thread test servers drain via begin_drain)
        loop = asyncio.get_running_loop()
        previous = signal.getsignal(signal.SIGTERM)

        def forward(signum: int, frame: FrameType | None) -> None:
            signal.signal(signal.SIGTERM, previous)
            if callable(previous):
                previous(signum, frame)
            else:
                signal.raise_signal(signum)

        async def drain_then_forward(signum: int, frame: FrameType | None) -> None:
            log.info("SIGTERM: draining websockets")
            await self.drain()
            forward(signum, frame)

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            if self._drain_task is not None:
                forward(signum, frame)
                return
            self._drain_task = loop.create_task(drain_then_forward(signum, frame), name="drain")

        signal.signal(signal.SIGTERM, on_sigterm)

        def restore() -> None:
            if signal.getsignal(signal.SIGTERM) is on_sigterm:
                signal.signal(signal.SIGTERM, previous)

        self._restore_signal = restore

    # --- connections -------------------------------------------------------------

    async def claim_user(self, user_id: str) -> bool:
        """Count a connection of `user_id` (on every instance); False when over the per-user limit."""
        return await self.user_connections.claim(user_id, self.settings.ws_max_connections_per_user)

    def release_user(self, user_id: str) -> None:
        self.user_connections.release(user_id)

    async def detach(self, peer: Peer) -> None:
        """The connection is gone: leave every channel (presence leaves are best effort)."""
        for channel in list(peer.subs):
            await self.unsubscribe(peer, parse_channel(channel))

    # --- subscribe ---------------------------------------------------------------

    async def facts(self, name: ChannelName, identity: Identity, *, budgeted: bool = False) -> ChannelFacts:
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
        facts = await self.facts(name, peer.caller(), budgeted=True)
        decide_subscribe(name, viewer, facts)
        seq: Subscription[str] | None = (
            Subscription(max_buffer=self.limits.replay_buffer_frames) if name.is_durable else None
        )
        full_view = viewer.is_admin
        sub = Subscriber(channel, peer.outbox, viewer.user_id, seq, full_view=full_view)
        self.fanout.add(sub)
        peer.subs[channel] = sub
        self.services.metrics.ws_subscriptions.labels(name.kind.value).inc()
        try:
            if seq is None:
                snapshot = await self._snapshot(name)
                peer.outbox.push(encode_reply_ok(frame_id, {"channel": channel, "seq": None,
                                                            "snapshot": snapshot}).decode())
                sub.ready = True
                return
            # A live start on a channel the listener already passes on needs no log read (connection storms).
            known = self.listener.head(channel) if since is None else None
            head, trimmed = (known, 0) if known is not None else await self.log.position(channel)
            decision = decide_resume(head, trimmed, since)
            result: dict[str, Any] = {"channel": channel, "seq": head, "snapshot": None}
            if name.has_presence:
                result["presence"] = await self._join_presence(peer, name, sub, facts)
                for joined in self.room_joined:
                    await joined(name, viewer.user_id, facts)
            peer.outbox.push(encode_reply_ok(frame_id, result).decode())
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

    def _position(self, sub: Subscriber, seq: Subscription[str], decision: ResumeDecision,
                  head: int) -> NeedsFill | None:
        """Start a replied durable subscription where `decision` says; the log read still to do."""
        if isinstance(decision, Replay) and decision.through > decision.after:
            return NeedsFill(decision.after, decision.through)
        if isinstance(decision, Reset):
            sub.outbox.push(encode_reset(sub.channel, head, decision.reason).decode())
        step = seq.finish_replay([], after=decision.after if isinstance(decision, Replay) else head)
        for frame in step.frames:
            sub.outbox.push(frame)
        return step.fill

    async def _snapshot(self, name: ChannelName) -> Any:
        if name.kind is ChannelKind.VOTES:
            async with self.services.db.transaction(SERVICE) as conn:
                rows = await vote_counts(conn, name.key or "", self.settings.votes_snapshot_comments)
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
        channel = str(name)
        sub = peer.subs.pop(channel, None)
        if sub is None:
            return
        self.fanout.remove(sub)
        self.services.metrics.ws_subscriptions.labels(name.kind.value).dec()
        if name.has_presence and peer.identity is not None:
            try:
                async with asyncio.timeout(2):  # not wait_for: on 3.11 it can swallow a cancellation
                    await self.presence.leave(channel, sub.user_id, peer.conn_id)
            except Exception as exc:
                log.warning("presence leave failed: %s", exc or type(exc).__name__)
            for left in self.room_left:
                try:
                    await left(name, sub.user_id)
                except Exception:
                    log.exception("session room leave hook failed on %s", channel)

    # --- publish -----------------------------------------------------------------

    async def publish(self, peer: Peer, name: ChannelName, rule: PublishRule, payload: Any) -> dict[str, Any]:
        """A client publish that passed the table, payload and rate checks: authorize, then dispatch.

        Ephemeral events go to every instance over the broker with `seq` null; durable
        ones to the handler registered for `(kind, event)` (`event_not_allowed` if none).
        """
        identity = peer.caller()
        viewer = viewer_of(identity)
        facts = await self.facts(name, identity)
        target = getattr(payload, "user_id", None)
        decide_publish(name, rule, viewer, facts, target_user_id=target)
        if rule.stored:
            handler = self.publish_handlers.get((name.kind, rule.event))
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

    async def _publish_presence(self, data: bytes) -> None:
        await self.broker.publish(PRESENCE_TOPIC, data)

    # --- incoming ----------------------------------------------------------------

    def _on_broker(self, topic: str, data: bytes) -> None:
        if topic == EPHEMERAL_TOPIC:
            channel, _, frame = data.partition(b"\n")
            self.services.metrics.events_in.labels("broker").inc()
            self.fanout.broadcast(channel.decode(), frame.decode())
        elif topic == PRESENCE_TOPIC:
            self.presence.on_message(data)

    def _on_state(self, payload: str) -> None:
        self.services.metrics.events_in.labels("state").inc()
        try:
            handler = self.state_handlers.get(_STATE_KIND.decode(payload).k)
        except msgspec.DecodeError:
            handler = None
        if handler is not None:
            handler(payload)
        else:
            self.state.on_state(payload)

    def _channel_opened(self, channel: str) -> None:
        if parse_channel(channel).is_durable:
            self.listener.track(channel)

    def _channel_closed(self, channel: str) -> None:
        self.listener.untrack(channel)
        self.presence.drop(channel)


def leaderboard_loader(services: Services) -> LeaderboardLoader:
    """The top 20 of a period's current window (by the app's clock), as `GET /api/leaderboard` shows them."""

    async def top20(period: str) -> list[dict[str, Any]]:
        current = window(_period(period), utc_datetime(services.clock()).date())
        async with services.db.transaction(SERVICE) as conn:
            rows = await leaderboard.top(conn, period, current.start, 20)
        return [msgspec.structs.asdict(leaderboard_row(r)) for r in rows]

    return top20


def _period(text: str) -> Period:
    if text == "daily":
        return "daily"
    if text == "weekly":
        return "weekly"
    if text == "monthly":
        return "monthly"
    return "all_time"


async def start_realtime(services: Services) -> Callable[[], Awaitable[None]]:
    realtime = Realtime(services, top20=leaderboard_loader(services))
    services.extras[REALTIME] = realtime
    await realtime.start()
    return realtime.stop
