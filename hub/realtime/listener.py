"""The instance's one PostgreSQL LISTEN connection: durable events in, in order, without loss.

One dedicated asyncpg connection (outside the pool, ``application_name`` =
``hub-listener``) listens on ``hub_events``, ``hub_state`` and ``hub_accounts``. Notifications are
handled one at a time, in arrival order (= commit order), by one task.

For every channel with local subscribers the listener remembers the last
sequence it passed on. A notification further ahead means some were missed: the
gap is read from the log and delivered first. A key-only notification (payload
over PostgreSQL's limit) is read from the log. After the connection drops the
listener reconnects with jitter and a backoff that stays short while the outage is
young (:class:`~channels.backoff.ReconnectBackoff`), LISTENs again, and only
then reads every tracked channel's log from its last sequence, so nothing falls
between the old and the new connection. ``connected`` is false from the drop
until that catch-up is done (``/readyz`` reports it).

Each notification is decoded once, where it arrives, into its typed value
(:mod:`channels.events`); an unreadable one is logged and skipped. An event becomes
one :class:`~channels.frames.EventFrame` with its data spliced in as committed.
State notifications (``hub_state``) are not logged; they go to ``on_state`` as
received, typed. Account notes (``hub_accounts``, revocations) go to ``on_account`` as received;
``on_listening`` hears when the connection starts and stops receiving them, since a note sent meanwhile is
lost (the revocation cache must not be trusted then). Log reads use the :class:`~hub.realtime.fanout.EventLog`
(service-role transactions from the pool).

Other parts' wake-up channels (:meth:`wake_on`: the job runner's ``hub_jobs``) are listened on this same
connection rather than one of their own: PostgreSQL signals every listening backend of the database on every
NOTIFY, whatever its channel, and each signalled backend reads the queue in a transaction of its own, so each
more listening connection costs the database one more transaction per vote, comment or event.

In relay mode (``FANOUT=relay``) the connection does not LISTEN on ``hub_events``: the same payloads arrive
from the channels' Redis shards through :meth:`feed`, and :meth:`catch_up` reads a channel's log from its last
sequence where the shard may have missed some (see :mod:`hub.realtime.shards`). The ordering is the same.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime

import asyncpg

from channels.backoff import ReconnectBackoff
from channels.events import DurableNote, StateNote, decode_durable, decode_state
from channels.frames import EventFrame
from hub.realtime.fanout import EventLog, Fanout
from persistence.account_state import ACCOUNTS_CHANNEL
from persistence.events import NOTIFY_CHANNEL, STATE_CHANNEL

__all__ = ["APPLICATION_NAME", "EVENTS_CHANNEL", "STATE_CHANNEL", "Listener"]

log = logging.getLogger("hub.listener")
# Jitter from a generator of its own: the `random` module's shared state is not this module's to move.
_JITTER = random.Random()

EVENTS_CHANNEL = NOTIFY_CHANNEL  # the channel `realtime.append_event` notifies at commit
APPLICATION_NAME = "hub-listener"
_READ_CHUNK = 1000
_NO_LIMIT = 2**62
_YIELD_EVERY = 32
_DEFAULT_BACKOFF = ReconnectBackoff()


class Listener:
    def __init__(
        self,
        dsn: str,
        fanout: Fanout,
        log_reader: EventLog,
        on_state: Callable[[StateNote], None],
        *,
        on_reconnect: Callable[[], None] | None = None,
        on_account: Callable[[str], None] | None = None,
        on_listening: Callable[[bool], None] | None = None,
        on_latency: Callable[[float], None] | None = None,
        wall_clock: Callable[[], float] | None = None,
        backoff: ReconnectBackoff = _DEFAULT_BACKOFF,
        health_interval_s: float = 5.0,
        max_pending: int = 10_000,
        listen_events: bool = True,
        on_received: Callable[[], None] | None = None,
    ) -> None:
        self._dsn = dsn
        self._fanout = fanout
        self._log = log_reader
        self._on_state = on_state
        self._on_reconnect = on_reconnect
        self._on_account = on_account
        self._on_listening = on_listening
        self._on_latency = on_latency
        self._wall_clock = wall_clock
        self._backoff = backoff
        self._health_interval_s = health_interval_s
        self._max_pending = max_pending
        self._listen_events = listen_events
        self._on_received = on_received
        # Channels whose log must be read from their last sequence before going on (relay mode: just subscribed
        # on their shard, or their head is past what arrived).
        self._behind: set[str] = set()
        self._heads_seen: dict[str, int] = {}  # heads past the last sequence at the previous check_heads
        self._wakes: dict[str, Callable[[], None]] = {}
        self._unlistened: set[str] = set()  # wake channels registered since the connection LISTENed
        # Last sequence passed on, per tracked channel; None until the first one is known.
        self._last: dict[str, int | None] = {}
        self._pending: deque[DurableNote] = deque()
        self._wake = asyncio.Event()
        self._lost = False
        self._resync = False
        self._ever_connected = False
        self.connected = False
        self.backend_pid: int | None = None

    # --- which channels matter ------------------------------------------------------

    def track(self, channel: str) -> None:
        """A channel got its first local subscriber."""
        self._last.setdefault(channel, None)

    def untrack(self, channel: str) -> None:
        self._last.pop(channel, None)

    def head(self, channel: str) -> int | None:
        """The last sequence passed on for tracked ``channel``; None when not known (or not connected).

        Every later event of the channel reaches the fan-out, gap filled, so a subscriber
        registered before asking may start live from here without reading the log's head.
        """
        return self._last.get(channel) if self.connected else None

    # --- the connection ------------------------------------------------------------

    async def run(self) -> None:
        """Listen until cancelled, reconnecting forever. Cancelling closes the connection."""
        attempt = 0
        lost_at: float | None = None  # monotonic time the connection was lost (or first failed to open)
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    self._dsn, timeout=5, server_settings={"application_name": APPLICATION_NAME}
                )
                self._lost = False
                self._pending.clear()
                conn.add_termination_listener(self._on_terminated)
                if self._listen_events:
                    await conn.add_listener(EVENTS_CHANNEL, self._on_event)
                await conn.add_listener(STATE_CHANNEL, self._on_state_note)
                await conn.add_listener(ACCOUNTS_CHANNEL, self._on_account_note)
                self._unlistened.clear()
                for channel in list(self._wakes):
                    await self._listen_wake(conn, channel)
                self._listening(True)
                self.backend_pid = conn.get_server_pid()
                if self._ever_connected and self._on_reconnect is not None:
                    self._on_reconnect()
                self._ever_connected = True
                await self._resync_all()
                self.connected = True
                attempt, lost_at = 0, None
                log.info("listening (backend pid %s)", self.backend_pid)
                await self._process(conn)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # Retries come up to 4 a second during an outage: one warning per outage, the rest at debug.
                log.log(logging.WARNING if attempt == 0 else logging.DEBUG,
                        "listener connection failed: %s", exc or type(exc).__name__)
            except Exception:
                # A log read may fail in other ways (pool closed, DatabaseUnavailable); reconnect all the same.
                log.exception("listener failed")
            finally:
                self.connected = False
                self._listening(False)
                if conn is not None:
                    conn.terminate()
            now = time.monotonic()
            lost_at = now if lost_at is None else lost_at
            await asyncio.sleep(self._backoff.delay(attempt, now - lost_at, _JITTER.random()))
            attempt += 1

    def wake_on(self, channel: str, wake: Callable[[], None]) -> None:
        """Call ``wake`` on every notification on ``channel`` (its payload unread), and on every (re)connect,
        since a note sent while the connection was down is lost."""
        self._wakes[channel] = wake
        self._unlistened.add(channel)  # LISTENed by the processing task: the connection runs one thing at a time
        self._wake.set()

    async def _listen_wake(self, conn: asyncpg.Connection, channel: str) -> None:
        self._unlistened.discard(channel)
        wake = self._wakes[channel]
        await conn.add_listener(channel, lambda *_: wake())
        wake()

    def _on_terminated(self, _conn: asyncpg.Connection) -> None:
        self._lost = True
        self._listening(False)
        self._wake.set()

    def _listening(self, live: bool) -> None:
        if self._on_listening is not None:
            self._on_listening(live)

    def _on_account_note(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if self._on_account is None:
            return
        try:
            self._on_account(payload)
        except Exception:
            log.exception("account notification handler failed")

    def feed(self, payload: str) -> None:
        """A ``hub_events`` payload that came another way (relay mode: the channel's Redis shard)."""
        self._on_event(None, 0, EVENTS_CHANNEL, payload)

    def catch_up(self, channel: str) -> None:
        """Read ``channel``'s log from its last sequence: events may have been sent where this instance did
        not hear them (before its shard subscription was confirmed, or during a Redis failover)."""
        if channel in self._last:
            self._behind.add(channel)
            self._wake.set()

    def tracked(self) -> list[str]:
        return list(self._last)

    def check_heads(self, heads: dict[str, int]) -> None:
        """Given every tracked channel's log head: catch up those still short of the head the previous check
        saw. An event on its way through the relay arrives within one interval and costs no log read; one
        lost on the way is read within two."""
        earlier, self._heads_seen = self._heads_seen, {}
        for channel, head in heads.items():
            # Not known yet when the shard subscription was confirmed before any subscriber was positioned: an
            # event relayed between a subscriber's head read and that confirmation reached neither, so the
            # subscribers' own positions count.
            last = self._last.get(channel)
            if last is None:
                last = self._fanout.position(channel)
            if last is None or head <= last:
                continue
            seen = earlier.get(channel)
            if seen is not None and last < seen:
                self.catch_up(channel)
            else:
                self._heads_seen[channel] = head

    def _on_event(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if self._on_received is not None:
            self._on_received()
        note = decode_durable(payload)
        if note is None:
            return
        if len(self._pending) >= self._max_pending:
            # Fell too far behind: drop the backlog and re-read every tracked channel's log instead.
            self._pending.clear()
            self._resync = True
        else:
            self._pending.append(note)
        self._wake.set()

    def _on_state_note(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        note = decode_state(payload)
        if note is None:
            return
        try:
            self._on_state(note)
        except Exception:
            log.exception("state notification handler failed")

    async def _process(self, conn: asyncpg.Connection) -> None:
        while not self._lost:
            while self._unlistened and not self._lost:
                await self._listen_wake(conn, next(iter(self._unlistened)))
            if self._resync:
                self._resync = False
                self._behind.clear()
                await self._resync_all()
            while self._behind and not self._lost:
                await self._resync_one(self._behind.pop())
            handled = 0
            while self._pending and not self._lost:
                note = self._pending.popleft()
                self._fanout.direct = not self._pending  # a lone event is written at once, a backlog batched
                await self._handle(note)
                handled += 1
                if handled % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let the connections' writers drain between bursts
            if self._lost or self._pending or self._resync or self._behind or self._unlistened:
                continue
            self._wake.clear()
            try:
                async with asyncio.timeout(self._health_interval_s):
                    await self._wake.wait()
            except TimeoutError:
                # Quiet for a while: make sure the connection is really there (a silent network drop).
                async with asyncio.timeout(self._health_interval_s):
                    await conn.fetchval("SELECT 1")

    # --- ordering ------------------------------------------------------------------

    async def _handle(self, note: DurableNote) -> None:
        channel, seq = note.channel, note.seq
        if channel not in self._last:
            return
        last = self._last[channel]
        if last is not None:
            if seq <= last:
                return
            if seq > last + 1:
                await self._read_log(channel, last, seq - 1)
        frame = note.frame()
        if frame is None:
            await self._read_log(channel, seq - 1, seq)
        else:
            self._pass_on(seq, frame)
            self._observe(note.created_at)
        if channel in self._last:
            self._last[channel] = max(seq, self._last[channel] or 0)

    async def _read_log(self, channel: str, after: int, through: int) -> None:
        """Pass on the retained events ``after < seq <= through`` of ``channel`` from the log."""
        while after < through and channel in self._last:
            rows = await self._log.read(channel, after, through, _READ_CHUNK)
            for seq, frame in rows:
                self._pass_on(seq, frame)
            if len(rows) < _READ_CHUNK:
                break
            after = rows[-1][0]

    def _pass_on(self, seq: int, frame: EventFrame) -> None:
        if frame.channel in self._last:
            self._last[frame.channel] = seq
            self._fanout.deliver(seq, frame)

    async def _resync_all(self) -> None:
        """After (re)connecting: everything each tracked channel missed, from the log."""
        for channel in list(self._last):
            await self._resync_one(channel)

    async def _resync_one(self, channel: str) -> None:
        if channel not in self._last:
            return
        last = self._last[channel]
        if last is None:
            last = self._fanout.position(channel)
            if last is None:
                return  # no subscriber is positioned yet; each positions itself from the log
            self._last[channel] = last
        await self._read_log(channel, last, _NO_LIMIT)

    def _observe(self, ts: str | None) -> None:
        if self._on_latency is None or self._wall_clock is None or ts is None:
            return
        try:
            committed = datetime.fromisoformat(ts).timestamp()
        except ValueError:
            return
        self._on_latency(max(0.0, self._wall_clock() - committed))
