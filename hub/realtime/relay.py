"""The relay (``FANOUT=relay``): committed events from PostgreSQL to their channels' Redis Cluster shards.

Every instance runs one :class:`Relay`; one of them relays, the others stand by. The relay is whoever holds
the database's relay advisory lock (:data:`persistence.events.RELAY_LOCK`) on its own dedicated connection
(``application_name`` = ``hub-relay``): when that process or connection dies PostgreSQL releases the lock and
a standby, trying every ``RELAY_STANDBY_POLL`` seconds, takes it.

The holder LISTENs on ``hub_events`` on that same connection and publishes each notification, in arrival
(= commit) order, to its channel's shard (:meth:`~hub.realtime.shards.ShardBus.publish_durable`), then
records per channel the last sequence published (``realtime.relay_positions``, batched). Publishes are
started for up to ``_BATCH`` notifications before the first is awaited, in order: the shard bus sends what
was started together in one pipeline, which keeps each channel's order (see there); a publisher that is a
plain coroutine function still runs one publish at a time, at its await. Only an awaited publish counts as
published. Taking over, a relay first LISTENs, then republishes from the log everything past the recorded
positions (:func:`persistence.events.relay_backlog`), then goes on with the notifications, skipping those it already
published from the log. So no committed event is left unpublished by a failover; an event may be published
twice (published, not yet recorded, relay died), and instances drop the repeat by its sequence.

A relay publishes nothing once it hears its connection (and with it the lock) is gone, not even the rest of
a backlog: a standby may be relaying by then. Publishes started but not sent are withdrawn then (a future
cancelled, a coroutine closed); only what is already on its way to Redis goes, as one publish did before.
A publish that fails (Redis unreachable) ends the term: the connection closes, which hands the lock on, and
publishing resumes from the recorded positions. Instances never depend on the relay for correctness beyond
liveness: each fills gaps from the log (:class:`~hub.realtime.listener.Listener`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine

import asyncpg
import msgspec

from channels.events import DurableNote
from hub.realtime.event_log import DbEventLog
from persistence import events
from persistence.db import Database
from persistence.identity import SERVICE

__all__ = ["APPLICATION_NAME", "Relay"]

log = logging.getLogger("hub.relay")
# Jitter from a generator of its own: the `random` module's shared state is not this module's to move.
_JITTER = random.Random()

APPLICATION_NAME = "hub-relay"
_READ_CHUNK = 1000
_BATCH = 500  # notifications whose publishes are started before the first is awaited
_NO_LIMIT = 2**62
_RECORD_EVERY_S = 0.2
# A relay may publish an event and die before recording it; a channel with no recorded position is
# republished from its events logged this long before the last recorded publish.
_UNRECORDED_MARGIN_S = 30.0
# Positions remembered to skip notifications already published from the log; beyond, they are forgotten
# (a repeat then reaches instances, which drop it by sequence).
_MAX_REMEMBERED = 100_000


class _Key(msgspec.Struct, frozen=True):
    channel: str = msgspec.field(name="c")
    seq: int = msgspec.field(name="s")


_KEY = msgspec.json.Decoder(_Key)
_NOTE = msgspec.json.Encoder()


# The lock lives as long as this session's backend. A relay host that vanishes without closing the socket
# would hold it until the server's TCP gives up (≈ 15 min retransmitting notifications, two hours of OS keepalive
# when quiet); these make the server drop such a session within ≈ 25 s and free the lock for a standby.
_LOCK_SESSION = {
    "application_name": APPLICATION_NAME,
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "20000",  # ms of unacknowledged data (a notification sent to a vanished host)
}


class Relay:
    def __init__(
        self,
        dsn: str,
        db: Database,
        publish: Callable[[str, bytes], Awaitable[None]],
        *,
        standby_poll_s: float = 0.5,
        on_holding: Callable[[bool], None] | None = None,
        on_published: Callable[[], None] | None = None,
    ) -> None:
        self._dsn = dsn
        self._db = db
        self._log = DbEventLog(db)
        self._publish = publish
        self._standby_poll_s = standby_poll_s
        self._on_holding = on_holding
        self._on_published = on_published
        self._pending: deque[str] = deque()
        # Publishes started and not awaited yet, in order, with what each one publishes (channel, seq).
        self._started: deque[tuple[Awaitable[None], str, int]] = deque()
        self._awaiting: Awaitable[None] | None = None
        self._wake = asyncio.Event()
        self._lost = False
        self._last: dict[str, int] = {}
        self._unrecorded: dict[str, int] = {}
        self.holding = False

    @property
    def state(self) -> str:
        """``relaying`` (this instance holds the lock) or ``standby``."""
        return "relaying" if self.holding else "standby"

    async def run(self) -> None:
        """Stand by, relay while holding the lock, and start over whenever the connection is lost."""
        attempt = 0
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=5, server_settings=_LOCK_SESSION)
                while True:  # standing by: the lock comes free when the holder's connection ends
                    if await events.try_relay_lock(conn):
                        break
                    await asyncio.sleep(self._standby_poll_s)
                attempt = 0
                await self._term(conn)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.log(logging.WARNING if attempt == 0 else logging.DEBUG, "relay connection failed: %s",
                        exc or type(exc).__name__)
            except Exception:
                # A publish or a log read failed (Redis or the pool); the next term starts from the positions.
                log.exception("relay failed")
            finally:
                self._set_holding(False)
                if conn is not None:
                    conn.terminate()
            await asyncio.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + _JITTER.random()))
            attempt = min(attempt + 1, 6)

    def _set_holding(self, holding: bool) -> None:
        if holding != self.holding:
            self.holding = holding
            if self._on_holding is not None:
                self._on_holding(holding)

    async def _term(self, conn: asyncpg.Connection) -> None:
        self._lost = False
        self._pending.clear()
        self._last.clear()
        self._unrecorded.clear()
        conn.add_termination_listener(self._on_terminated)
        await conn.add_listener(events.NOTIFY_CHANNEL, self._on_note)
        self._set_holding(True)
        started = time.monotonic()
        async with self._db.transaction(SERVICE) as tx:
            backlog = await events.relay_backlog(tx, _UNRECORDED_MARGIN_S)
        try:
            await self._relay_all(conn, backlog, started)
        finally:
            self._withdraw()

    async def _relay_all(self, conn: asyncpg.Connection, backlog: list[tuple[str, int]], started: float) -> None:
        for channel, after in backlog:
            await self._from_log(channel, after)
        await self._record()
        log.info("relaying (backend pid %s; %d channels caught up in %.3f s)", conn.get_server_pid(),
                 len(backlog), time.monotonic() - started)
        recorded_at = time.monotonic()
        while not self._lost:
            while self._pending and not self._lost:
                for _ in range(min(_BATCH, len(self._pending))):
                    await self._relay(self._pending.popleft())
                await self._settle()
                if time.monotonic() - recorded_at >= _RECORD_EVERY_S:
                    await self._record()
                    recorded_at = time.monotonic()
            if self._lost:
                break
            if self._unrecorded:
                await self._record()
                recorded_at = time.monotonic()
            self._wake.clear()
            try:
                async with asyncio.timeout(5.0):
                    await self._wake.wait()
            except TimeoutError:
                # Quiet for a while: make sure the connection (and with it the lock) is really there.
                async with asyncio.timeout(5.0):
                    await conn.fetchval("SELECT 1")

    def _on_terminated(self, _conn: asyncpg.Connection) -> None:
        self._lost = True
        self._set_holding(False)
        self._withdraw()
        if isinstance(self._awaiting, asyncio.Future):
            self._awaiting.cancel()  # still queued on the bus: not sent at all
        self._wake.set()

    def _on_note(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._pending.append(payload)
        self._wake.set()

    async def _relay(self, payload: str) -> None:
        try:
            key = _KEY.decode(payload)
        except msgspec.DecodeError:
            log.error("unreadable event notification: %.200r", payload)
            return
        last = self._last.get(key.channel)
        if last is not None:
            if key.seq <= last:
                return  # published already, from the log while taking over
            if key.seq > last + 1:
                await self._from_log(key.channel, last, key.seq - 1)
        self._sent(key.channel, key.seq, payload.encode())

    async def _from_log(self, channel: str, after: int, through: int = _NO_LIMIT) -> None:
        while after < through:
            rows = await self._log.read(channel, after, through, _READ_CHUNK)
            for seq, frame in rows:
                note = DurableNote(channel, seq, frame.event, frame.data, str(frame.created_at))
                self._sent(channel, seq, _NOTE.encode(note))
            await self._settle()
            if len(rows) < _READ_CHUNK:
                return
            after = rows[-1][0]

    def _sent(self, channel: str, seq: int, note: bytes) -> None:
        """Start publishing one event; `_settle` awaits it."""
        self._check_lock()
        self._started.append((self._publish(channel, note), channel, seq))
        if len(self._last) >= _MAX_REMEMBERED:
            self._last.clear()
        self._last[channel] = seq  # the next notification of the channel follows this one

    async def _settle(self) -> None:
        """Await the started publishes in order; each one done counts as published (and gets recorded)."""
        while self._started:
            self._check_lock()
            sending, channel, seq = self._started.popleft()
            self._awaiting = sending
            try:
                await sending
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and not task.cancelling():
                    # Withdrawn, not this task cancelled: when the lock was heard gone, or by the bus stopping;
                    # either ends the term (a bare CancelledError would end `run` for good).
                    raise ConnectionError("relay publish withdrawn") from None
                raise
            finally:
                self._awaiting = None
            if self._on_published is not None:
                self._on_published()
            self._unrecorded[channel] = seq

    def _check_lock(self) -> None:
        if self._lost:
            # The lock ended with its connection: a standby may be relaying already (a backlog or a gap fill
            # would otherwise go on being published, twice, beside it).
            raise ConnectionError("relay lock connection lost")

    def _withdraw(self) -> None:
        """Publishes started and not awaited: not sent, when they have not gone yet."""
        while self._started:
            sending = self._started.popleft()[0]
            if isinstance(sending, asyncio.Future):
                if sending.done() and not sending.cancelled():
                    sending.exception()  # a failure behind the one that ended the term: seen, not raised
                sending.cancel()
            elif isinstance(sending, Coroutine):
                sending.close()

    async def _record(self) -> None:
        if not self._unrecorded:
            return
        positions = list(self._unrecorded.items())
        self._unrecorded.clear()
        async with self._db.transaction(SERVICE) as tx:
            await events.record_relayed(tx, positions)
