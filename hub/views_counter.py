"""Post view counts, buffered in process so a read never writes.

`GET /api/posts/{id}` adds one to an in-memory counter; every `FLUSH_INTERVAL_S` the buffer is swapped
out and written with one `UPDATE … SET views_count = views_count + n` per post, in one transaction as
SERVICE. The stopper flushes once more, so a clean shutdown loses nothing.

Loss bound: an instance that dies without its stopper loses the views it buffered since its last
successful flush, i.e. at most one interval of its views (plus, while the database is unreachable,
the views of the failed rounds, which are kept and retried rather than dropped). Counts read through
REST lag the truth by up to one interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

from hub.services import Services
from persistence import community
from persistence.db import Database
from persistence.identity import SERVICE

log = logging.getLogger("hub.views")

FLUSH_INTERVAL_S = 1.0


class ViewsCounter:
    """Single event loop only: `count` and the buffer swap in `flush` never interleave."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending: dict[UUID, int] = {}

    def count(self, post_id: UUID, n: int = 1) -> None:
        self._pending[post_id] = self._pending.get(post_id, 0) + n

    async def flush(self) -> None:
        """Writes the buffered views; on failure they go back into the buffer and the error is raised."""
        batch, self._pending = self._pending, {}
        if not batch:
            return
        try:
            async with self._db.transaction(SERVICE) as conn:
                await community.add_views(conn, batch)
        except Exception:
            for post_id, n in batch.items():
                self.count(post_id, n)
            raise

    async def run(self, interval_s: float, stopping: asyncio.Event) -> None:
        """Flushes every `interval_s`, and once more when `stopping` is set, then returns. Never
        cancelled mid-flush, so a batch is never both committed and put back."""
        while not stopping.is_set():
            # asyncio.timeout, not wait_for: on 3.11 wait_for runs each wait as a task of its own, which comes
            # and goes every round (the idle-connection test counted it as a connection's when its baseline
            # was taken mid-flush) and can swallow a cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval_s):
                    await stopping.wait()
            try:
                await self.flush()
            except Exception:
                log.exception("flushing post views failed; kept for the next round")


def views_counter_of(services: Services) -> ViewsCounter:
    return services.started.get(ViewsCounter)


async def start_views_counter(services: Services) -> Callable[[], Awaitable[None]]:
    """Starter for `hub.app.STARTERS`: the flusher task, and a stopper that makes it flush a last time
    and waits for it."""
    counter = ViewsCounter(services.db)
    services.started.add(counter)
    stopping = asyncio.Event()
    task = asyncio.create_task(counter.run(FLUSH_INTERVAL_S, stopping), name="views-flusher")

    async def stop() -> None:
        stopping.set()
        await task

    return stop
