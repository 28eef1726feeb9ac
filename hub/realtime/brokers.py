"""The ephemeral broker: best-effort messages to every instance (typing, hands, reactions, presence).

One small protocol, :class:`Broker`: ``publish(topic, data)`` sends bytes to the
handler of every started broker on the same topic, including the publisher's
own. Per publisher, messages arrive in publish order; nothing is stored, so a
message published while a broker is disconnected is lost for it (durable
events never travel here: they go through PostgreSQL).

* :class:`InProcessBroker`: brokers sharing one :class:`InProcessBus` (one instance, tests).
* :class:`RedisBroker`: Redis pub/sub on ``<namespace>:<topic>``. Redis pub/sub
  ignores database numbers, so the namespace is what keeps two deployments or test
  runs on one Redis apart. The subscriber connection reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from hub.tasks import cancel_and_wait

__all__ = ["Broker", "BrokerUnavailable", "Handler", "InProcessBroker", "InProcessBus", "RedisBroker", "send_within"]

log = logging.getLogger("hub.broker")
# Jitter from a generator of its own: the `random` module's shared state is not this module's to move.
_JITTER = random.Random()

Handler = Callable[[str, bytes], None]


class BrokerUnavailable(Exception):
    """The message could not be handed to the broker (e.g. Redis is down)."""


async def send_within(timeout_s: float, send: Awaitable[Any]) -> None:
    """Await one Redis publish, turning a slow or failed Redis into :class:`BrokerUnavailable`."""
    try:
        async with asyncio.timeout(timeout_s):
            await send
    except (RedisError, OSError, TimeoutError) as exc:
        raise BrokerUnavailable(str(exc) or type(exc).__name__) from None


class Broker(Protocol):
    @property
    def connected(self) -> bool:
        """True while incoming messages are being received."""
        ...

    async def start(self, handler: Handler) -> None:
        """Start receiving this broker's topics; ``handler(topic, data)`` runs on the event loop, never
        concurrently with itself. Returns once subscribed (or, for Redis, once the first attempt ended)."""
        ...

    async def publish(self, topic: str, data: bytes) -> None:
        """Send to every started broker of ``topic``; raises :class:`BrokerUnavailable` when it cannot."""
        ...

    async def stop(self) -> None: ...


class InProcessBus:
    """What in-process brokers share: the set of started brokers."""

    def __init__(self) -> None:
        self.brokers: set[InProcessBroker] = set()


class InProcessBroker:
    def __init__(self, bus: InProcessBus, topics: Sequence[str]) -> None:
        self._bus = bus
        self._topics = frozenset(topics)
        self._handler: Handler | None = None

    @property
    def connected(self) -> bool:
        return self._handler is not None

    async def start(self, handler: Handler) -> None:
        self._handler = handler
        self._bus.brokers.add(self)

    async def publish(self, topic: str, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        for broker in self._bus.brokers:
            if topic in broker._topics:
                # Scheduled, not called: the publisher never runs subscribers' code inline (as with Redis).
                loop.call_soon(broker._deliver, topic, data)

    def _deliver(self, topic: str, data: bytes) -> None:
        if self._handler is not None:
            self._handler(topic, data)

    async def stop(self) -> None:
        self._bus.brokers.discard(self)
        self._handler = None


class RedisBroker:
    def __init__(
        self,
        client: aioredis.Redis,
        namespace: str,
        topics: Sequence[str],
        *,
        on_reconnect: Callable[[], None] | None = None,
        publish_timeout_s: float = 1.0,
        backoff_max_s: float = 2.0,
    ) -> None:
        self._client = client
        self._prefix = f"{namespace}:"
        self._names = [self._prefix + topic for topic in topics]
        self._on_reconnect = on_reconnect
        self._publish_timeout_s = publish_timeout_s
        self._backoff_max_s = backoff_max_s
        self._task: asyncio.Task[None] | None = None
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    async def start(self, handler: Handler) -> None:
        first = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(handler, first), name="redis-broker")
        await first

    async def publish(self, topic: str, data: bytes) -> None:
        await send_within(self._publish_timeout_s, self._client.publish(self._prefix + topic, data))

    async def stop(self) -> None:
        await cancel_and_wait([self._task])
        self._task = None

    async def _run(self, handler: Handler, first: asyncio.Future[None]) -> None:
        delay = 0.05
        reconnecting = False
        try:
            while True:
                pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                try:
                    await pubsub.subscribe(*self._names)
                    self._connected = True
                    delay = 0.05
                    if reconnecting and self._on_reconnect is not None:
                        self._on_reconnect()
                    if not first.done():
                        first.set_result(None)
                    while True:
                        message = await pubsub.get_message(timeout=None)
                        if message is None or message.get("type") != "message":
                            continue
                        topic = message["channel"].decode()[len(self._prefix):]
                        try:
                            handler(topic, message["data"])
                        except Exception:
                            log.exception("broker handler failed")
                except (RedisError, OSError) as exc:
                    if self._connected or not reconnecting:
                        log.warning("redis pub/sub lost: %s", exc or type(exc).__name__)
                finally:
                    self._connected = False
                    try:
                        await pubsub.aclose()
                    except (RedisError, OSError):
                        pass
                if not first.done():
                    first.set_result(None)
                reconnecting = True
                await asyncio.sleep(delay * (0.5 + _JITTER.random()))
                delay = min(delay * 2, self._backoff_max_s)
        finally:
            if not first.done():
                first.cancel()
