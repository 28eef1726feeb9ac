"""One contract for every presence store (in-memory and Redis), plus presence kept in step across instances."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable

import msgspec
import pytest
import redis.asyncio as aioredis

from channels.frames import OutFrame
from channels.presence import Meta
from hub.realtime.brokers import RedisBroker
from hub.realtime.fanout import Fanout, LogRow, Outbox, Subscriber
from hub.realtime.presence_store import (
    Departure,
    MemoryPresenceStore,
    Presence,
    PresenceStore,
    RedisPresenceStore,
)
from tests.helpers.eventually import eventually

MakeStore = Callable[[str], PresenceStore]


def meta(conn: str, hand: bool = False) -> Meta:
    return Meta(conn, "participant", hand, "2025-01-01T00:00:00+00:00")


@pytest.fixture(params=["memory", "redis"])
async def make_store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[MakeStore]:
    """Stores of one kind over shared state, one per instance id."""
    client = aioredis.from_url(redis_url)
    namespace = f"presencetest:{secrets.token_hex(4)}"
    memory = MemoryPresenceStore()

    def make(instance: str) -> PresenceStore:
        return memory if request.param == "memory" else RedisPresenceStore(client, namespace, instance, 30)

    yield make
    await client.aclose()


async def test_one_entry_per_user_with_a_meta_per_connection(make_store: MakeStore) -> None:
    store = make_store("i1")
    await store.put("session:s", "u1", meta("c1"))
    await store.put("session:s", "u1", meta("c2"))
    await store.put("session:s", "u2", meta("c3"))
    await store.put("session:other", "u3", meta("c4"))
    state = await store.entries("session:s")
    assert {u: sorted(m.conn_id for m in metas) for u, metas in state.items()} == {"u1": ["c1", "c2"], "u2": ["c3"]}


async def test_put_replaces_a_connections_meta_and_remove_forgets_it(make_store: MakeStore) -> None:
    store = make_store("i1")
    await store.put("session:s", "u1", meta("c1"))
    await store.put("session:s", "u1", meta("c1", hand=True))
    assert await store.entries("session:s") == {"u1": [meta("c1", hand=True)]}
    await store.remove("session:s", "c1")
    await store.remove("session:s", "never-there")
    assert await store.entries("session:s") == {}


async def test_heartbeat_of_live_instances_removes_nothing(make_store: MakeStore) -> None:
    first, second = make_store("i1"), make_store("i2")
    await first.put("session:s", "u1", meta("c1"))
    await second.put("session:s", "u2", meta("c2"))
    assert await first.heartbeat() == [] and await second.heartbeat() == []
    assert set(await first.entries("session:s")) == {"u1", "u2"}


async def test_a_crashed_instances_entries_vanish_within_the_ttl(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    namespace = f"presencetest:{secrets.token_hex(4)}"
    survivor = RedisPresenceStore(client, namespace, "alive", 1.0)
    crashed = RedisPresenceStore(client, namespace, "crashed", 1.0)
    try:
        await survivor.put("session:s", "u1", meta("c1"))
        await crashed.put("session:s", "u2", meta("c2"))
        assert set(await survivor.entries("session:s")) == {"u1", "u2"}
        # `crashed` stops heartbeating; once its liveness expired, the survivor's heartbeat removes its entries.
        departures: list[Departure] = []

        async def crashed_removed() -> bool:
            departures.extend(await survivor.heartbeat())
            return bool(departures)

        await eventually(crashed_removed, within=10, what="the crashed instance's entries removed", every=0.1)
        assert [(d.channel, d.user_id, d.conn_id) for d in departures] == [("session:s", "u2", "c2")]
        assert set(await survivor.entries("session:s")) == {"u1"}
    finally:
        await client.aclose()


async def test_clear_removes_only_this_instances_entries(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    namespace = f"presencetest:{secrets.token_hex(4)}"
    leaving, staying = (RedisPresenceStore(client, namespace, i, 30) for i in ("leaving", "staying"))
    try:
        await leaving.put("session:s", "u1", meta("c1"))
        await staying.put("session:s", "u2", meta("c2"))
        await leaving.clear()
        assert set(await staying.entries("session:s")) == {"u2"}
    finally:
        await client.aclose()


class _NoLog:
    async def read(self, channel: str, after: int, through: int, limit: int) -> list[LogRow]:
        return []

    async def position(self, channel: str) -> tuple[int, int]:
        return (0, 0)


async def test_a_join_on_one_instance_reaches_a_subscriber_on_another_as_a_presence_diff(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    namespace = f"presencetest:{secrets.token_hex(4)}"
    channel = "session:s"
    instances: list[tuple[Presence, RedisBroker, Fanout]] = []
    for name in ("one", "two"):
        fanout = Fanout(_NoLog())
        broker = RedisBroker(client, namespace, ["presence"])
        presence = Presence(RedisPresenceStore(client, namespace, name, 30), fanout,
                            lambda data, b=broker: b.publish("presence", data),
                            window_s=0.05, large_room_threshold=200, heartbeat_s=10)
        await broker.start(lambda _t, data, p=presence: p.on_message(data))
        instances.append((presence, broker, fanout))
    tasks = [asyncio.create_task(p.run()) for p, _, _ in instances]
    try:
        (one, _, _), (two, _, fanout_two) = instances
        outbox = Outbox(16, lambda: None)
        frames: list[str] = []
        arrived = asyncio.Event()

        async def receive(frame: OutFrame) -> None:
            frames.append(frame.text)
            arrived.set()

        outbox.attach(receive, lambda: None)  # every send completes at once: no writer is ever needed
        watcher = Subscriber(channel, outbox, "u-watcher", None)
        watcher.ready = True
        fanout_two.add(watcher)
        state = await two.join(channel, "u-watcher", meta("cw"), False, watcher)
        assert set(state) == {"u-watcher"}
        await one.join(channel, "u-joiner", meta("cj"), False, "joiner")
        async with asyncio.timeout(5):
            while not any('"u-joiner"' in f for f in frames):
                arrived.clear()
                await arrived.wait()
        diff = msgspec.json.decode(next(f for f in frames if '"u-joiner"' in f))
        assert diff["op"] == "presence" and diff["joins"]["u-joiner"]["metas"][0]["conn_id"] == "cj"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for _, broker, _ in instances:
            await broker.stop()
        await client.aclose()
