"""How long each table that only grows keeps its rows, and one pruning pass over all of them.

The periods are settings (`# --- operations` in hub.settings; docs/security.md, "Retention"). A durable
job runner (a later issue) calls `prune_pass` until it reports no full batch; nothing here schedules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg

from hub.settings import Settings
from persistence import retention
from persistence.db import Database
from persistence.identity import SERVICE

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
    }


async def prune_pass(db: Database, settings: Settings, now: datetime) -> dict[str, int]:
    """One batch per table, each its own short transaction → rows deleted per table. A table that
    deleted `settings.retention_batch` rows may have more past its period."""
    deleted: dict[str, int] = {}
    for table, (before, prune) in cutoffs(settings, now).items():
        async with db.transaction(SERVICE) as conn:
            deleted[table] = await prune(conn, before, settings.retention_batch)
    return deleted
