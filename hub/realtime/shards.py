"""Sharded pub/sub on a Redis Cluster (``REDIS_CLUSTER=1``): one shard channel per hub channel.

Everything about hub channel ``c`` travels on the shard channel ``<prefix>:{c}`` (the braces make ``c`` the
hash tag, so a channel's durable events, ephemeral events and presence changes share one shard and stay in
order). A message is ``<topic>\\0<data>``: topic ``d`` is a durable event as the relay
(:mod:`hub.realtime.relay`) publishes it, any other topic is a broker topic (ephemeral, presence).

:class:`ShardBus` is the instance's :class:`~hub.realtime.brokers.Broker` in cluster mode and its receiver of
relayed events. It ``SSUBSCRIBE``\\ s only to the channels :meth:`follow`\\ ed (those with local
subscribers), so events of other channels never reach the instance. Each subscribe confirmation, first or
after the client moved a channel to a new master in a failover, is reported to ``on_joined``: what was
published before it never reached this instance, and the listener reads it from the log.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from redis.asyncio.cluster import ClusterPubSub, RedisCluster
from redis.exceptions import RedisError

from hub.realtime.brokers import BrokerUnavailable, Handler, send_within
from hub.tasks import cancel_and_wait

__all__ = ["DURABLE_TOPIC", "ShardBus"]

log = logging.getLogger("hub.shards")
# Jitter from a generator of its own: the `random` module's shared state is not this module's to move.
_JITTER = random.Random()

DURABLE_TOPIC = "d"
_POLL_S = 0.2
_DURABLE_BATCH = 1000  # committed events per pipeline (one round trip per shard node)


class ShardBus:
    def __init__(
        self,
        client: RedisCluster,
        prefix: str,
        channel_of: Callable[[str, bytes], str | None],
        *,
        on_durable: Callable[[str], None] | None = None,
        on_joined: Callable[[str], None] | None = None,
        on_reconnect: Callable[[], None] | None = None,
        publish_timeout_s: float = 1.0,
        backoff_max_s: float = 2.0,
    ) -> None:
        self._client = client
        # Braces in the prefix would become the hash tag and put every channel on one shard.
        self._prefix = prefix.replace("{", "").replace("}", "") + ":{"
        self._channel_of = channel_of
        self._on_durable = on_durable
        self._on_joined = on_joined
        self._on_reconnect = on_reconnect
        self._publish_timeout_s = publish_timeout_s
        self._backoff_max_s = backoff_max_s
        self._wanted: set[str] = set()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Committed events queued to go, each with the future its publisher awaits; one sender at a time.
        self._durables: list[tuple[str, bytes, asyncio.Future[None]]] = []
        self._sender: asyncio.Task[None] | None = None
        self._connected = False
        self.received = 0  # messages read off the shards, for /metrics and the tests' "nothing unwanted"

    @property
    def connected(self) -> bool:
        return self._connected

    def shard_channel(self, channel: str) -> str:
        return f"{self._prefix}{channel}}}"

    def follow(self, channel: str) -> None:
        self._wanted.add(channel)
        self._changed.set()

    def unfollow(self, channel: str) -> None:
        self._wanted.discard(channel)
        self._changed.set()

    # --- Broker -------------------------------------------------------------------

    async def start(self, handler: Handler) -> None:
        self._task = asyncio.create_task(self._run(handler), name="shard-bus")

    async def publish(self, topic: str, data: bytes) -> None:
        channel = self._channel_of(topic, data)
        if channel is None:
            raise BrokerUnavailable(f"no channel in a {topic} message")
        await self._spublish(channel, topic.encode() + b"\0" + data)

    def publish_durable(self, channel: str, note: bytes) -> asyncio.Future[None]:
        """One committed event (a ``hub_events`` payload) to the channel's shard, queued at once; the future
        ends when Redis took it, or fails as the send failed (and so does everything queued behind it).

        What is queued by the next send goes in one non-transactional cluster pipeline: redis-py groups its
        commands by node and writes each node's share, in queued order, on one connection, so a channel's
        events (one shard) reach it in the order queued. One send at a time, or two pipelines could overtake
        each other. Cancelling the future withdraws an event not sent yet.
        """
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._durables.append((self.shard_channel(channel), DURABLE_TOPIC.encode() + b"\0" + note, sent))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_durables(), name="shard-bus-durables")
        return sent

    async def _send_durables(self) -> None:
        batch: list[tuple[str, bytes, asyncio.Future[None]]] = []
        try:
            while self._durables:
                batch = [item for item in self._durables[:_DURABLE_BATCH] if not item[2].done()]
                del self._durables[:_DURABLE_BATCH]
                if not batch:
                    continue
                async with self._client.pipeline(transaction=False) as pipe:
                    for name, message, _ in batch:
                        pipe.spublish(name, message)
                    await self._execute_unless_withdrawn(pipe.execute(), [sent for *_, sent in batch])
                for *_, sent in batch:
                    if not sent.done():
                        sent.set_result(None)
                batch = []
        except Exception as exc:
            if not _settle(batch + self._durables, exc):
                log.warning("durable publish failed after its events were withdrawn: %s", exc)
            self._durables = []
        except asyncio.CancelledError:
            _settle(batch + self._durables, None)
            self._durables = []
            raise
        finally:
            self._sender = None

    async def _execute_unless_withdrawn(self, execute: Awaitable[object], events: list[asyncio.Future[None]]) -> None:
        """A pipeline's send, abandoned once every event in it is withdrawn: redis-py retries a failed send
        inside `execute` (after backoff sleeps), and a retry must not publish what the relay withdrew on
        hearing its lock was gone."""
        sending = asyncio.ensure_future(send_within(self._publish_timeout_s, execute))
        waiting = set(events)
        try:
            while waiting and not sending.done():
                done, _ = await asyncio.wait({sending, *waiting}, return_when=asyncio.FIRST_COMPLETED)
                waiting -= done
        finally:
            if not sending.done():
                await cancel_and_wait([sending])
        if not sending.cancelled():
            sending.result()

    async def _spublish(self, channel: str, message: bytes) -> None:
        await send_within(self._publish_timeout_s, self._client.spublish(self.shard_channel(channel), message))

    async def stop(self) -> None:
        await cancel_and_wait([self._task, self._sender])
        _settle(self._durables, None)
        self._durables = []
        self._task = self._sender = None  # a sender cancelled before its first step never ran its `finally`

    # --- receiving ------------------------------------------------------------------

    async def _run(self, handler: Handler) -> None:
        delay = 0.05
        reconnecting = False
        while True:
            pubsub: ClusterPubSub = self._client.pubsub()
            subscribed: set[str] = set()
            try:
                self._changed.set()
                while True:
                    if self._changed.is_set():
                        self._changed.clear()
                        await self._sync(pubsub, subscribed)
                        if not self._connected:
                            self._connected = True
                            delay = 0.05
                            if reconnecting and self._on_reconnect is not None:
                                self._on_reconnect()
                    if not subscribed:
                        try:
                            async with asyncio.timeout(_POLL_S):
                                await self._changed.wait()
                        except TimeoutError:
                            pass
                        continue
                    message = await pubsub.get_sharded_message(timeout=_POLL_S)
                    if message is not None:
                        self._dispatch(handler, message)
            except (RedisError, OSError) as exc:
                log.warning("sharded pub/sub lost: %s", exc or type(exc).__name__)
            finally:
                self._connected = False
                try:
                    await pubsub.aclose()
                except (RedisError, OSError):
                    pass
            reconnecting = True
            await asyncio.sleep(delay * (0.5 + _JITTER.random()))
            delay = min(delay * 2, self._backoff_max_s)

    async def _sync(self, pubsub: ClusterPubSub, subscribed: set[str]) -> None:
        wanted = set(self._wanted)
        gone = subscribed - wanted
        new = wanted - subscribed
        if gone:
            await pubsub.sunsubscribe(*[self.shard_channel(c) for c in gone])
            subscribed -= gone
        if new:
            await pubsub.ssubscribe(*[self.shard_channel(c) for c in new])
            subscribed |= new

    def _dispatch(self, handler: Handler, message: dict[str, object]) -> None:
        kind = message.get("type")
        name = message.get("channel")
        if not isinstance(name, bytes):
            return
        channel = name.decode()[len(self._prefix):-1]
        if kind in ("ssubscribe", b"ssubscribe"):
            if self._on_joined is not None:
                self._on_joined(channel)
            return
        data = message.get("data")
        if kind not in ("smessage", b"smessage") or not isinstance(data, bytes):
            return
        self.received += 1
        topic, _, payload = data.partition(b"\0")
        try:
            if topic == b"d":
                if self._on_durable is not None:
                    self._on_durable(payload.decode())
            else:
                handler(topic.decode(), payload)
        except Exception:
            log.exception("shard message handler failed")


def _settle(queued: list[tuple[str, bytes, asyncio.Future[None]]], error: Exception | None) -> int:
    """Events that will not be sent: their futures fail with `error`, or are cancelled (the bus stopped).
    Returns how many were still awaited."""
    settled = 0
    for *_, sent in queued:
        if sent.done():
            continue
        settled += 1
        if error is None:
            sent.cancel()
        else:
            sent.set_exception(error)
    return settled
