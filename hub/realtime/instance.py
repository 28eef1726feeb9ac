"""The realtime edge of one instance, wired together: what `/ws` connections talk to.

`start_realtime` (in `hub.app.STARTERS`) builds one `Realtime`: the fan-out, the
PostgreSQL listener, the ephemeral broker (Redis pub/sub when `REDIS_URL` is set,
in-process otherwise), presence, the state channels, and the parts that act for
connections (`peers`, `subscriptions`, `publishes`); it registers the readiness
checks and the SIGTERM drain (`hub.realtime.peers`). Room extensions
(`hub.realtime.extension`) register with `extend`.

With `REDIS_CLUSTER=1` the broker is a `ShardBus` (sharded pub/sub, one shard channel per hub channel); with
`FANOUT=relay` durable events come through it too, published by the elected `Relay` (`hub.realtime.relay`).

Revocations (`hub_accounts` notes, `hub.realtime.accounts`) reach the REST cache and the local sockets.

Readiness: "listener" fails while the LISTEN connection is down or catching up
(durable events would be late), "draining" while shutting down. Redis is checked
by `hub.readiness` as the API contract asks (`/readyz` names it); losing it only
degrades presence and ephemeral events here, and the broker reconnects on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from channels.backoff import ReconnectBackoff
from channels.events import LeaderboardChanged, VoteCounts
from channels.limits import ProtocolLimits
from channels.names import parse_channel
from channels.ratelimit import KeyedLimiter
from hub.realtime.accounts import AccountSockets
from hub.realtime.brokers import Broker, InProcessBroker, InProcessBus, RedisBroker
from hub.realtime.deadlines import Deadlines
from hub.realtime.event_log import DbEventLog
from hub.realtime.extension import RoomExtension
from hub.realtime.facts import FactsLookup
from hub.realtime.fanout import Fanout
from hub.realtime.incoming import EPHEMERAL_TOPIC, PRESENCE_TOPIC, BrokerRoutes, StateRoutes, channel_of
from hub.realtime.leaderboard_top import leaderboard_loader
from hub.realtime.listener import Listener
from hub.realtime.peers import Peers
from hub.realtime.presence_store import MemoryPresenceStore, Presence, PresenceStore, RedisPresenceStore
from hub.realtime.publish import Publishes
from hub.realtime.relay import Relay
from hub.realtime.shards import ShardBus
from hub.realtime.state_channels import LeaderboardLoader, StateChannels
from hub.realtime.subscribe import Subscriptions
from hub.realtime.tickets import Tickets
from hub.realtime.user_connections import UserConnections
from hub.services import Services, namespace_for
from hub.settings import Settings
from hub.tasks import cancel_and_wait

__all__ = ["Realtime", "protocol_limits", "start_realtime"]

log = logging.getLogger("hub.realtime")


def protocol_limits(s: Settings) -> ProtocolLimits:
    """The limits every connection's protocol state enforces, from the settings (their one source)."""
    return ProtocolLimits(
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
    )


class Realtime:
    def __init__(self, services: Services, *, top20: LeaderboardLoader | None = None) -> None:
        s = services.settings
        metrics = services.metrics
        self.services = services
        self.settings = s
        self.instance_id = uuid.uuid4().hex
        self.limits = protocol_limits(s)
        # Shared by every connection of the instance: keys are "<user>|<channel>", so a user's tabs share a bucket.
        self.publish_limiter = KeyedLimiter(self.limits.publish_rate_per_s, self.limits.publish_burst,
                                            max_keys=100_000)
        # A socket's every frame pays its connection's frame budget, whatever the channel; a user's REST publishes
        # (hub.api.realtime) pay one such budget together, so spreading them over channels gains nothing.
        self.rest_publish_limiter = KeyedLimiter(self.limits.frame_rate_per_s, self.limits.frame_burst,
                                                 max_keys=100_000)
        self.log = DbEventLog(services.db)
        self.fanout = Fanout(self.log, on_open=self._channel_opened, on_close=self._channel_closed)
        # `hub_state` notes by type; room extensions route their own kinds (hub.live_room: question votes).
        self.state_routes = StateRoutes(metrics)

        def observe(latency: float) -> None:
            metrics.commit_to_send.observe(latency)
            metrics.events_in.labels("postgres").inc()

        def reconnected() -> None:
            metrics.listener_reconnects.inc()
            self.accounts.on_reconnect()

        relayed = s.fanout == "relay"
        self.listener = Listener(
            services.db.dsn, self.fanout, self.log, self.state_routes.dispatch,
            on_reconnect=reconnected, on_account=self._on_account, on_listening=services.cutoffs.listening,
            on_latency=observe, wall_clock=time.time,
            backoff=ReconnectBackoff(fast_max_s=s.listener_retry_max_s, fast_for_s=s.listener_retry_fast_for_s),
            listen_events=not relayed,
            on_received=metrics.durable_notes.labels("relay" if relayed else "notify").inc,
        )
        topics = (EPHEMERAL_TOPIC, PRESENCE_TOPIC)
        store: PresenceStore
        self.broker: Broker
        self.shards: ShardBus | None = None
        self.relay: Relay | None = None
        if services.redis_cluster is not None and services.redis is not None:
            self.shards = ShardBus(
                services.redis_cluster, namespace_for(s, services.db.dsn), channel_of,
                on_durable=self.listener.feed if relayed else None,
                on_joined=self._shard_joined if relayed else None,
                on_reconnect=metrics.redis_reconnects.inc,
            )
            self.broker = self.shards
            store = RedisPresenceStore(services.redis, services.namespace, self.instance_id, s.presence_ttl_s)
            if relayed:
                self.relay = Relay(services.db.dsn, services.db, self.shards.publish_durable,
                                   standby_poll_s=s.relay_standby_poll_s, on_holding=metrics.relay_holding.set,
                                   on_published=metrics.relay_published.inc)
        elif services.redis is not None:
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
        self.state_routes.route(VoteCounts, self.state.on_votes)
        self.state_routes.route(LeaderboardChanged, self.state.on_leaderboard)
        self._broker_routes = BrokerRoutes(self.fanout, self.presence, metrics)
        facts = FactsLookup(services)
        self.subscriptions = Subscriptions(services, self.limits, facts, self.fanout, self.log, self.listener,
                                           self.presence, self.state)
        self.publishes = Publishes(services, facts, self.broker, self.presence)
        self.peers = Peers(s.drain_timeout_s)
        self.accounts = AccountSockets(services, self.peers, self.subscriptions, facts)
        self.deadlines = Deadlines()  # the connections' protocol deadlines, on one timer
        self.tickets = Tickets(services.redis, services.namespace)  # for `GET /sse` (hub.api.realtime)
        # The per-user cap counts across instances (Redis); a crashed instance's connections stop counting
        # within PRESENCE_TTL, the same liveness window as its presence entries.
        self.user_connections = UserConnections(services.redis, services.namespace, self.instance_id,
                                                s.presence_ttl_s)
        self._tasks: list[asyncio.Task[None]] = []

    def extend(self, room: RoomExtension) -> None:
        """Register a room extension (once per channel kind)."""
        if room.kind in self.subscriptions.rooms:
            raise ValueError(f"{room.kind.value} rooms are extended already")
        self.subscriptions.rooms[room.kind] = room
        for event, handler in room.publish_handlers().items():
            self.publishes.handlers[(room.kind, event)] = handler
        for event, observer in room.observers().items():
            self.fanout.observers.observe(room.kind, event, observer)
        room.route_states(self.state_routes)

    # --- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        await self.broker.start(self._broker_routes)
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
        if self.relay is not None:
            self._tasks += [asyncio.create_task(self.relay.run(), name="relay"),
                            asyncio.create_task(self._check_heads(), name="relay-heads")]
            self.services.readiness.add("relay", self._relay_ready)
            relay = self.relay
            self.services.readiness.relay_state = lambda: relay.state
        self.services.readiness.add("listener", self._listener_ready)
        self.services.readiness.add("draining", self.peers.ready)
        self.peers.hook_sigterm()

    async def stop(self) -> None:
        await self.peers.stop()
        await self.accounts.stop()
        await cancel_and_wait(self._tasks)
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

    def _shard_joined(self, channel: str) -> None:
        self.services.metrics.shard_joins.inc()
        self.listener.catch_up(channel)

    async def _relay_ready(self) -> str | None:
        """Relayed events arrive while the shard subscriptions are up (the relay itself may be elsewhere)."""
        return None if self.shards is not None and self.shards.connected else "shards disconnected"

    async def _check_heads(self) -> None:
        """Relay mode's backstop: an event lost on its way through Redis (a failover) shows as a gap at the
        channel's next event; this finds it within twice RELAY_CHECK seconds when there is no next event."""
        while True:
            await asyncio.sleep(self.settings.relay_check_s)
            channels = self.listener.tracked()
            heads: dict[str, int] = {}
            try:
                for i in range(0, len(channels), 1000):
                    heads |= await self.log.heads(channels[i:i + 1000])
                self.listener.check_heads(heads)
            except Exception as exc:  # the database is away: the listener's reconnect catches up anyway
                log.debug("relay head check failed: %s", exc or type(exc).__name__)

    # --- connections -------------------------------------------------------------

    async def claim_user(self, user_id: str) -> bool:
        """Count a connection of `user_id` (on every instance); False when over the per-user limit."""
        return await self.user_connections.claim(user_id, self.settings.ws_max_connections_per_user)

    def release_user(self, user_id: str) -> None:
        self.user_connections.release(user_id)

    # --- incoming ----------------------------------------------------------------

    def _on_account(self, payload: str) -> None:
        self.accounts.on_note(payload)

    async def _publish_presence(self, data: bytes) -> None:
        await self.broker.publish(PRESENCE_TOPIC, data)

    def _channel_opened(self, channel: str) -> None:
        if parse_channel(channel).is_durable:
            self.listener.track(channel)
        if self.shards is not None:
            self.shards.follow(channel)

    def _channel_closed(self, channel: str) -> None:
        self.listener.untrack(channel)
        if self.shards is not None:
            self.shards.unfollow(channel)
        self.presence.drop(channel)


async def start_realtime(services: Services) -> Callable[[], Awaitable[None]]:
    realtime = Realtime(services, top20=leaderboard_loader(services))
    services.started.add(realtime)
    await realtime.start()
    return realtime.stop
