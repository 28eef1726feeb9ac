"""The open websocket connections of one instance, and their drain.

Drain (SIGTERM): uvicorn's own shutdown closes websockets with 1012 *before* the
app's lifespan shutdown runs, so the lifespan is too late for 1001. Instead, when
running in the main thread (uvicorn's server process or worker), `hook_sigterm`
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType

from channels.access import Viewer
from channels.connection import Connection
from channels.errors import CloseCode
from hub.realtime.facts import viewer_of
from hub.realtime.fanout import Outbox, Subscriber
from persistence.identity import Identity

__all__ = ["Peer", "Peers"]

log = logging.getLogger("hub.realtime")


@dataclass(eq=False, slots=True)
class Peer:
    """One websocket connection as the realtime layer sees it (the I/O lives in `hub.realtime.websocket`)."""

    # The protocol state, which holds the connection's one record of its subscriptions (channel → Subscriber).
    connection: Connection[Subscriber]
    outbox: Outbox
    close: Callable[[CloseCode, str], None]  # server-side close: the connection flushes nothing more
    revoke: Callable[[], None]  # the account's tokens were revoked: `token_revoked`, then close 4003
    identity: Identity | None = None

    @property
    def conn_id(self) -> str:
        return self.connection.conn_id

    def caller(self) -> Identity:
        if self.identity is None:
            raise LookupError("peer is not authenticated")  # hub.realtime.websocket only passes on frames after auth
        return self.identity

    @property
    def viewer(self) -> Viewer:
        return viewer_of(self.caller())


class Peers:
    """The instance's open connections; draining closes them all with 1001 and refuses new ones."""

    def __init__(self, drain_timeout_s: float) -> None:
        self._drain_timeout_s = drain_timeout_s
        self._peers: set[Peer] = set()
        self._gone = asyncio.Event()
        self.draining = False
        self._drain_task: asyncio.Task[None] | None = None
        self._restore_signal: Callable[[], None] | None = None

    def __iter__(self) -> Iterator[Peer]:
        return iter(self._peers)

    def add(self, peer: Peer) -> None:
        self._peers.add(peer)
        self._gone.clear()

    def remove(self, peer: Peer) -> None:
        self._peers.discard(peer)
        if not self._peers:
            self._gone.set()

    async def ready(self) -> str | None:
        """The "draining" readiness check."""
        return "draining" if self.draining else None

    def begin_drain(self) -> None:
        """Refuse new websockets and close every open one with 1001 (clients reconnect elsewhere and resume)."""
        self.draining = True
        for peer in list(self._peers):
            peer.close(CloseCode.GOING_AWAY, "server draining")

    async def drain(self) -> None:
        self.begin_drain()
        await self._wait(self._drain_timeout_s)

    async def stop(self) -> None:
        """At shutdown: drain briefly (a SIGTERM drain already waited), then stop any drain under way."""
        if self._restore_signal is not None:
            self._restore_signal()
        self.begin_drain()
        await self._wait(min(self._drain_timeout_s, 2.0))
        if self._drain_task is not None and self._drain_task is not asyncio.current_task():
            self._drain_task.cancel()

    async def _wait(self, budget_s: float) -> None:
        if self._peers:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(budget_s):
                    await self._gone.wait()

    def hook_sigterm(self) -> None:
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
