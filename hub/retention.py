"""How long each table that only grows keeps its rows, one pruning pass over all of them, and the hourly
`retention.prune` job that runs the passes.

The periods are settings (`# --- operations` in hub.settings; docs/security.md, "Retention"). The job is
keyed by its hour (`retention.prune:2026-12-04T15`), so however many instances start or run it, each hour's
prune is queued once: every instance queues the current hour's at start-up (`start_pruning`, a no-op when
it exists), and each run queues the next hour's. A run repeats `prune_pass` while some table deleted a full
batch, then trims the event log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from hub.jobs.registry import register
from hub.services import Services
from hub.settings import Settings
from persistence import events, retention
from persistence.db import Database
from persistence.identity import SERVICE
from persistence.jobs import enqueue

log = logging.getLogger("hub.retention")

KIND = "retention.prune"
# A backlog (a long outage, a lowered period) is worked off over the following hours, not in one run.
MAX_PASSES_PER_RUN = 100

Prune = Callable[[asyncpg.Connection, datetime, int], Awaitable[int]]


def cutoffs(settings: Settings, now: datetime) -> dict[str, tuple[datetime, Prune]]:
    """Per table: rows older than the cut-off are pruned, and the statement that does it."""
    return {
        "idempotency_keys": (now - timedelta(hours=settings.idempotency_retention_h),
                             retention.prune_idempotency_keys),
        "refresh_tokens": (now - timedelta(days=settings.refresh_family_retention_days),
                           retention.prune_refresh_tokens),
        "user_activity_log": (now - timedelta(days=settings.activity_log_retention_days),
                              retention.prune_activity_log),
        "stripe_events": (now - timedelta(days=settings.stripe_event_retention_days),
                          retention.prune_stripe_events),
        "deleted_content": (now - timedelta(days=settings.deleted_content_retention_days),
                            retention.prune_deleted_content),
        "read_notifications": (now - timedelta(days=settings.notification_retention_days),
                               retention.prune_read_notifications),
        "unread_notifications": (now - timedelta(days=settings.unread_notification_retention_days),
                                 retention.prune_unread_notifications),
        "jobs": (now - timedelta(days=settings.job_retention_days), retention.prune_jobs),
    }


async def prune_pass(db: Database, settings: Settings, now: datetime) -> dict[str, int]:
    """One batch per table, each its own short transaction → rows deleted per table. A table that
    deleted `settings.retention_batch` rows may have more past its period."""
    deleted: dict[str, int] = {}
    for table, (before, prune) in cutoffs(settings, now).items():
        async with db.transaction(SERVICE) as conn:
            deleted[table] = await prune(conn, before, settings.retention_batch)
    return deleted


def _hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


async def queue_prune(conn: asyncpg.Connection, hour: datetime) -> bool:
    """Queues the prune of `hour` (due at its start), once however often it is asked."""
    return await enqueue(conn, KIND, {}, run_at=hour, key=f"{KIND}:{hour:%Y-%m-%dT%H}")


@register(KIND)
async def prune(services: Services, payload: dict[str, Any]) -> None:
    settings = services.settings
    now = datetime.fromtimestamp(services.clock(), UTC)
    totals: dict[str, int] = {}
    for _ in range(MAX_PASSES_PER_RUN):
        deleted = await prune_pass(services.db, settings, now)
        for table, count in deleted.items():
            totals[table] = totals.get(table, 0) + count
        if all(count < settings.retention_batch for count in deleted.values()):
            break
    async with services.db.transaction(SERVICE) as conn:
        totals["events"] = await events.prune_events(conn, settings.event_retention_days,
                                                     settings.event_retention_count)
        await queue_prune(conn, _hour(now) + timedelta(hours=1))
    pruned = {table: count for table, count in totals.items() if count}
    if pruned:
        log.info("pruned %s", pruned)


async def start_pruning(services: Services) -> Callable[[], Awaitable[None]]:
    """The app's starter: queues this hour's prune (the runner of some instance runs it)."""
    async with services.db.transaction(SERVICE) as conn:
        await queue_prune(conn, _hour(datetime.fromtimestamp(services.clock(), UTC)))

    async def stop() -> None:
        return None

    return stop
