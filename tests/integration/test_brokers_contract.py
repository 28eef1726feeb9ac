"""One contract for every ephemeral broker: the in-process one and Redis pub/sub (a real server)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest
import redis.asyncio as aioredis

from hub.realtime.brokers import Broker, BrokerUnavailable, InProcessBroker, InProcessBus, RedisBroker
from tests.helpers.ports import free_port


class Inbox(list[tuple[str, bytes]]):
    """What a broker's handler received; `arrived` (shared by a test's inboxes) is set on every message."""

    def __init__(self, arrived: asyncio.Event) -> None:
        super().__init__()
        self.arrived = arrived

    def __call__(self, topic: str, data: bytes) -> None:
        self.append((topic, data))
        self.arrived.set()


MakeBroker = Callable[[Sequence[str]], Awaitable[tuple[Broker, Inbox]]]


@pytest.fixture(params=["in_process", "redis"])
async def make_broker(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[MakeBroker]:
    """Started brokers of one kind sharing one bus (or one Redis namespace); each with its inbox."""
    bus = InProcessBus()
    namespace = f"brokertest:{secrets.token_hex(4)}"
    client = aioredis.from_url(redis_url)
    started: list[Broker] = []
    arrived = asyncio.Event()

    async def make(topics: Sequence[str]) -> tuple[Broker, Inbox]:
        broker: Broker = (InProcessBroker(bus, topics) if request.param == "in_process"
                          else RedisBroker(client, namespace, topics))
        inbox = Inbox(arrived)
        await broker.start(inbox)
        started.append(broker)
        return broker, inbox

    yield make
    for broker in started:
        await broker.stop()
    await client.aclose()


async def _until(check: Callable[[], bool], inbox: Inbox) -> None:
    async with asyncio.timeout(5):
        while not check():
            inbox.arrived.clear()
            await inbox.arrived.wait()


async def test_a_message_reaches_every_started_broker_including_the_publisher_in_order(
    make_broker: MakeBroker,
) -> None:
    (first, inbox1), (_second, inbox2) = await make_broker(["t"]), await make_broker(["t"])
    for i in range(100):
        await first.publish("t", str(i).encode())
    await _until(lambda: len(inbox1) == 100 and len(inbox2) == 100, inbox1)
    expected = [("t", str(i).encode()) for i in range(100)]
    assert inbox1 == expected and inbox2 == expected
    assert first.connected


async def test_topics_are_separate(make_broker: MakeBroker) -> None:
    (publisher, _), (only_b, inbox_b) = await make_broker(["a", "b"]), await make_broker(["b"])
    await publisher.publish("a", b"for a")
    await publisher.publish("b", b"for b")
    # Each broker hands on messages in publish order: a wrong "for a" would have arrived before "for b".
    await _until(lambda: ("b", b"for b") in inbox_b, inbox_b)
    assert inbox_b == [("b", b"for b")]
    assert only_b.connected


async def test_a_stopped_broker_receives_nothing(make_broker: MakeBroker) -> None:
    (publisher, inbox_p), (stopped, inbox_s) = await make_broker(["t"]), await make_broker(["t"])
    await stopped.stop()
    await publisher.publish("t", b"after stop")
    await publisher.publish("t", b"marker")
    # Every subscriber is handed each message in publish order (the bus's callbacks, Redis's fan-out): once
    # the marker reached the publisher, "after stop" was handed to every broker still receiving.
    await _until(lambda: ("t", b"marker") in inbox_p, inbox_p)
    assert inbox_p == [("t", b"after stop"), ("t", b"marker")]
    assert inbox_s == []


async def test_redis_namespaces_keep_deployments_apart(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    ours, theirs = RedisBroker(client, "ns-one", ["t"]), RedisBroker(client, "ns-two", ["t"])
    heard = Inbox(asyncio.Event())
    await ours.start(heard)
    await theirs.start(lambda _t, _data: None)
    try:
        await theirs.publish("t", b"not for us")
        await ours.publish("t", b"ours")
        # Published first, "not for us" would have arrived before "ours" if namespaces leaked.
        await _until(lambda: ("t", b"ours") in heard, heard)
        assert heard == [("t", b"ours")]
    finally:
        await ours.stop()
        await theirs.stop()
        await client.aclose()


async def test_redis_publish_without_a_server_raises_broker_unavailable_and_subscriber_keeps_retrying() -> None:
    client = aioredis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    broker = RedisBroker(client, "down", ["t"], publish_timeout_s=0.5)
    await broker.start(lambda _t, _d: None)
    try:
        assert not broker.connected
        with pytest.raises(BrokerUnavailable):
            await broker.publish("t", b"x")
    finally:
        await broker.stop()
        await client.aclose()
