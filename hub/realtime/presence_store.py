"""Presence across instances: who is in each session room, one entry per connection.

:class:`PresenceStore` keeps the entries (``put``/``remove``/``entries``) and the
liveness of the instances that own them (``heartbeat``):

* :class:`MemoryPresenceStore`: one instance (no Redis).
* :class:`RedisPresenceStore`: a hash per channel (``<ns>:presence:<channel>``,
  field = connection id) plus one key per instance (``<ns>:presence-alive:<id>``)
  with a TTL that each heartbeat refreshes. Entries of an instance whose key has
  expired are invisible to ``entries`` at once and removed by the next heartbeat
  of any other instance, which reports them so it can announce their leaves.

:class:`Presence` keeps one :class:`~channels.presence.PresenceRoom` per channel
with local subscribers, loaded from the store and kept in step by the changes
every instance publishes on the broker (including its own), and sends the
batched ``presence`` diffs and ``participants.count`` to local subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import msgspec
import redis.asyncio as aioredis

from channels.frames import EventFrame, OutFrame, encode_json, encode_presence, presence_state
from channels.presence import Meta, PresenceBatch, PresenceRoom
from hub.realtime.fanout import Fanout

__all__ = [
    "Departure",
    "MemoryPresenceStore",
    "Presence",
    "PresenceStore",
    "RedisPresenceStore",
    "change_channel",
]

log = logging.getLogger("hub.presence")

State = dict[str, list[Meta]]


@dataclass(frozen=True, slots=True)
class Departure:
    """An entry removed because its instance stopped heartbeating."""

    channel: str
    user_id: str
    conn_id: str


class PresenceStore(Protocol):
    async def put(self, channel: str, user_id: str, meta: Meta) -> None:
        """Add or replace the entry of connection ``meta.conn_id``."""
        ...

    async def remove(self, channel: str, conn_id: str) -> None: ...

    async def entries(self, channel: str) -> State:
        """user id → metas of every live entry."""
        ...

    async def heartbeat(self) -> list[Departure]:
        """Refresh this instance's liveness; remove (and return) entries of instances that lost theirs."""
        ...

    async def clear(self) -> None:
        """Remove this instance's entries (shutdown)."""
        ...


class MemoryPresenceStore:
    def __init__(self) -> None:
        self._channels: dict[str, dict[str, tuple[str, Meta]]] = {}

    async def put(self, channel: str, user_id: str, meta: Meta) -> None:
        self._channels.setdefault(channel, {})[meta.conn_id] = (user_id, meta)

    async def remove(self, channel: str, conn_id: str) -> None:
        conns = self._channels.get(channel)
        if conns is not None:
            conns.pop(conn_id, None)
            if not conns:
                del self._channels[channel]

    async def entries(self, channel: str) -> State:
        state: State = {}
        for user_id, meta in self._channels.get(channel, {}).values():
            state.setdefault(user_id, []).append(meta)
        return state

    async def heartbeat(self) -> list[Departure]:
        return []

    async def clear(self) -> None:
        self._channels.clear()


class _Entry(msgspec.Struct, frozen=True):
    u: str  # user id
    i: str  # instance id
    m: Meta


_ENTRY = msgspec.json.Decoder(_Entry)


class RedisPresenceStore:
    def __init__(self, client: aioredis.Redis, namespace: str, instance_id: str, ttl_s: float) -> None:
        self._client = client
        self._ns = namespace
        self._instance = instance_id
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._index = f"{namespace}:presence-channels"

    def _hash(self, channel: str) -> str:
        return f"{self._ns}:presence:{channel}"

    def _alive(self, instance: str) -> str:
        return f"{self._ns}:presence-alive:{instance}"

    async def put(self, channel: str, user_id: str, meta: Meta) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.set(self._alive(self._instance), b"1", px=self._ttl_ms)
            pipe.hset(self._hash(channel), meta.conn_id, msgspec.json.encode(_Entry(user_id, self._instance, meta)))
            pipe.sadd(self._index, channel)
            await pipe.execute()

    async def remove(self, channel: str, conn_id: str) -> None:
        await self._client.hdel(self._hash(channel), conn_id)

    async def _all(self, channel: str) -> dict[str, _Entry]:
        raw: dict[Any, Any] = await self._client.hgetall(self._hash(channel))
        out: dict[str, _Entry] = {}
        for field, value in raw.items():
            try:
                out[field.decode()] = _ENTRY.decode(value)
            except msgspec.DecodeError:
                out[field.decode()] = _Entry("", "", Meta("", "participant", False, ""))
        return out

    async def _live_instances(self, entries: dict[str, _Entry]) -> set[str]:
        instances = sorted({e.i for e in entries.values() if e.i})
        if not instances:
            return set()
        flags = await self._client.mget([self._alive(i) for i in instances])
        return {i for i, flag in zip(instances, flags, strict=True) if flag is not None}

    async def entries(self, channel: str) -> State:
        entries = await self._all(channel)
        live = await self._live_instances(entries)
        state: State = {}
        for entry in entries.values():
            if entry.i in live:
                state.setdefault(entry.u, []).append(entry.m)
        return state

    async def heartbeat(self) -> list[Departure]:
        await self._client.set(self._alive(self._instance), b"1", px=self._ttl_ms)
        gone: list[Departure] = []
        channels: set[Any] = await self._client.smembers(self._index)
        for raw_channel in channels:
            channel = raw_channel.decode()
            entries = await self._all(channel)
            live = await self._live_instances(entries)
            dead = {conn: e for conn, e in entries.items() if e.i not in live}
            if dead:
                await self._client.hdel(self._hash(channel), *dead)
                gone += [Departure(channel, e.u, conn) for conn, e in dead.items() if e.u]
            if len(dead) == len(entries):
                await self._client.srem(self._index, channel)
        return gone

    async def clear(self) -> None:
        channels: set[Any] = await self._client.smembers(self._index)
        for raw_channel in channels:
            channel = raw_channel.decode()
            entries = await self._all(channel)
            own = [conn for conn, e in entries.items() if e.i == self._instance]
            if own:
                await self._client.hdel(self._hash(channel), *own)
        await self._client.delete(self._alive(self._instance))


# --- rooms kept in step over the broker ---------------------------------------------


class _Change(msgspec.Struct, frozen=True):
    """A presence change every instance applies: ``join`` (add/replace meta) or ``leave``."""

    op: Literal["join", "leave"]
    c: str
    u: str
    conn: str
    m: Meta | None = None


_CHANGE = msgspec.json.Decoder(_Change)
_ENCODER = msgspec.json.Encoder()


class _ChangeChannel(msgspec.Struct):
    c: str


_CHANGE_CHANNEL = msgspec.json.Decoder(_ChangeChannel)


def change_channel(data: bytes) -> str | None:
    """The channel a presence change message is about (what shards it in cluster mode)."""
    try:
        return _CHANGE_CHANNEL.decode(data).c
    except msgspec.DecodeError:
        return None


class _Room:
    __slots__ = ("loaded", "pending", "room")

    def __init__(self, room: PresenceRoom) -> None:
        self.room = room
        self.loaded = asyncio.Event()
        self.pending: list[_Change] = []


class Presence:
    """Rooms of the channels this instance has subscribers on; diffs batched per ``window_s``.

    ``publish(data)`` sends a change to every instance (the broker's presence topic);
    :meth:`on_message` applies one. A change is written to the store before it is
    published, so a room loaded from the store and then fed the changes received
    since it was created misses nothing (applying a change twice is harmless).
    """

    def __init__(
        self,
        store: PresenceStore,
        fanout: Fanout,
        publish: Callable[[bytes], Awaitable[None]],
        *,
        window_s: float,
        large_room_threshold: int,
        heartbeat_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._fanout = fanout
        self._publish = publish
        self._window_s = window_s
        self._large = large_room_threshold
        self._heartbeat_s = heartbeat_s
        self._clock = clock
        self._rooms: dict[str, _Room] = {}
        # This instance's own entries, written again on every heartbeat: after Redis lost its data
        # (restart) they come back within one heartbeat.
        self._local: dict[tuple[str, str], tuple[str, Meta]] = {}
        self._wake = asyncio.Event()

    async def _room(self, channel: str) -> PresenceRoom:
        entry = self._rooms.get(channel)
        if entry is not None:
            await entry.loaded.wait()
            return entry.room
        entry = self._rooms[channel] = _Room(PresenceRoom(self._window_s, self._large))
        try:
            state = await self.store.entries(channel)
        except BaseException:
            del self._rooms[channel]
            entry.loaded.set()  # waiters return a room that is no longer kept; they fail on the store next
            raise
        now = self._clock()
        for user_id, metas in state.items():
            for meta in metas:
                entry.room.join(user_id, meta, now)
        entry.room.due(now + self._window_s)  # the loaded state is the baseline, not a diff
        for change in entry.pending:
            self._apply(entry.room, change)
        entry.pending.clear()
        entry.loaded.set()
        return entry.room

    def drop(self, channel: str) -> None:
        """The channel lost its last local subscriber."""
        self._rooms.pop(channel, None)

    async def join(self, channel: str, user_id: str, meta: Meta, full_view: bool, viewer: Hashable) -> dict[str, Any]:
        """Enter the room; returns the state for the subscribe reply (as this viewer may see it).

        ``viewer`` is the subscriber that will be sent the room's diffs (the ``sub`` of ``_deliver``)."""
        room = await self._room(channel)
        self._local[(channel, meta.conn_id)] = (user_id, meta)
        await self.store.put(channel, user_id, meta)
        room.join(user_id, meta, self._clock())
        self._wake.set()
        await self._send(_Change("join", channel, user_id, meta.conn_id, meta))
        return presence_state(room.snapshot(viewer, user_id, full_view))

    async def leave(self, channel: str, user_id: str, conn_id: str) -> None:
        self._local.pop((channel, conn_id), None)
        entry = self._rooms.get(channel)
        if entry is not None and entry.loaded.is_set():
            entry.room.leave(user_id, conn_id, self._clock())
            self._wake.set()
        await self.store.remove(channel, conn_id)
        await self._send(_Change("leave", channel, user_id, conn_id))

    async def set_hand(self, channel: str, user_id: str, raised: bool) -> None:
        """Raise or lower the hand on every connection of ``user_id`` in the room."""
        state = await self.store.entries(channel)
        for meta in state.get(user_id, []):
            if meta.hand_raised != raised:
                changed = msgspec.structs.replace(meta, hand_raised=raised)
                if (channel, meta.conn_id) in self._local:
                    self._local[(channel, meta.conn_id)] = (user_id, changed)
                await self.store.put(channel, user_id, changed)
                await self._send(_Change("join", channel, user_id, meta.conn_id, changed))

    async def _send(self, change: _Change) -> None:
        await self._publish(_ENCODER.encode(change))

    def on_message(self, data: bytes) -> None:
        try:
            change = _CHANGE.decode(data)
        except msgspec.DecodeError:
            log.error("unreadable presence change")
            return
        entry = self._rooms.get(change.c)
        if entry is None:
            return
        if not entry.loaded.is_set():
            entry.pending.append(change)
            return
        self._apply(entry.room, change)

    def _apply(self, room: PresenceRoom, change: _Change) -> None:
        now = self._clock()
        if change.op == "join" and change.m is not None:
            room.join(change.u, change.m, now)
        else:
            room.leave(change.u, change.conn, now)
        self._wake.set()

    async def run(self) -> None:
        """Send batched diffs and run the heartbeat, until cancelled."""
        next_beat = self._clock()
        while True:
            now = self._clock()
            if now >= next_beat:
                next_beat = now + self._heartbeat_s
                try:
                    await self._heartbeat()
                except Exception as exc:
                    log.warning("presence heartbeat failed: %s", exc or type(exc).__name__)
            deadlines = [d for e in self._rooms.values() if (d := e.room.next_deadline()) is not None]
            for channel, entry in list(self._rooms.items()):
                batch = entry.room.due(now)
                if batch is not None:
                    self._deliver(channel, batch)
            wait = min([*deadlines, next_beat]) - self._clock()
            self._wake.clear()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()

    async def _heartbeat(self) -> None:
        """Refresh liveness, rewrite own entries, announce crashed instances' leaves, and bring every
        room in line with the store (changes published while the broker was down were lost)."""
        for gone in await self.store.heartbeat():
            await self._send(_Change("leave", gone.channel, gone.user_id, gone.conn_id))
        for (channel, _conn), (user_id, meta) in list(self._local.items()):
            await self.store.put(channel, user_id, meta)
        for channel, entry in list(self._rooms.items()):
            if entry.loaded.is_set():
                self._align(entry.room, await self.store.entries(channel))

    def _align(self, room: PresenceRoom, state: State) -> None:
        now = self._clock()
        present = {(user, meta.conn_id) for user, metas in state.items() for meta in metas}
        for user, metas in room.state().items():
            for meta in metas:
                if (user, meta.conn_id) not in present:
                    room.leave(user, meta.conn_id, now)
        for user, metas in state.items():
            for meta in metas:
                room.join(user, meta, now)
        self._wake.set()

    def _deliver(self, channel: str, batch: PresenceBatch) -> None:
        shared: OutFrame | None = None
        for sub in self._fanout.subscribers(channel):
            if not sub.ready:
                continue
            diff = batch.for_viewer(sub.user_id, sub.full_view, sub)
            if diff is not None:
                if diff is batch.diff:
                    shared = shared or OutFrame(encode_presence(channel, diff.joins, diff.leaves))
                    sub.outbox.push(shared)
                else:
                    sub.outbox.push(OutFrame(encode_presence(channel, diff.joins, diff.leaves)))
        if batch.count_changed:
            data = encode_json({"count": batch.count})
            self._fanout.broadcast(channel, EventFrame(channel, None, "participants.count", data, datetime.now(UTC)))
