"""Retention: each table that only grows loses exactly the rows past its period (docs/security.md), in
batches, through the app's own privileged role."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx

from hub.retention import prune_pass
from hub.settings import Settings
from persistence.db import Database
from tests.helpers.api import signup

NOW = datetime.now(UTC)
SECOND = timedelta(seconds=1)
SETTINGS = Settings(idempotency_retention_h=24, refresh_family_retention_days=7, activity_log_retention_days=365,
                    stripe_event_retention_days=33, deleted_content_retention_days=90, notification_retention_days=90,
                    unread_notification_retention_days=365, job_retention_days=14, retention_batch=1000)


async def remaining(owner_conn: asyncpg.Connection, sql: str, *args: object) -> set[str]:
    return {str(row[0]) for row in await owner_conn.fetch(sql, *args)}


async def test_each_table_prunes_exactly_what_is_past_its_period(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    user = (await signup(client)).user_id
    day = timedelta(days=1)

    # Idempotency keys: 24 h after the request.
    keys = {"old": NOW - 24 * timedelta(hours=1) - SECOND, "kept": NOW - 24 * timedelta(hours=1) + SECOND}
    for key, at in keys.items():
        await owner_conn.execute(
            """INSERT INTO private.idempotency_keys (user_id, key, route, status_code, body, created_at)
               VALUES ($1, $2, 'POST /api/posts', 201, '\\x7b7d', $3)""", user, key, at)

    # Refresh families: pruned only when every token expired more than 7 days ago.
    dead, half_dead, recent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    tokens = [(dead, NOW - 40 * day), (dead, NOW - 7 * day - SECOND),
              (half_dead, NOW - 40 * day), (half_dead, NOW + 20 * day),  # rotated long ago, still in use
              (recent, NOW - 7 * day + SECOND)]
    await owner_conn.executemany(
        """INSERT INTO private.refresh_tokens (user_id, family_id, token_hash, expires_at)
           VALUES ($1, $2, $3, $4)""", [(user, family, secrets.token_hex(16), at) for family, at in tokens])

    # Activity log: a year.
    activity = {"old": NOW - 365 * day - SECOND, "kept": NOW - 365 * day + SECOND}
    for kind, at in activity.items():
        await owner_conn.execute(
            """INSERT INTO public.user_activity_log (user_id, activity_type, created_at)
               VALUES ($1, $2, $3)""", user, f"retention_{kind}", at)

    # Stripe events: 33 days after receipt.
    events = {f"evt_old_{secrets.token_hex(4)}": NOW - 33 * day - SECOND,
              f"evt_kept_{secrets.token_hex(4)}": NOW - 33 * day + SECOND}
    for event_id, at in events.items():
        await owner_conn.execute("INSERT INTO billing.stripe_events (id, type, received_at) VALUES ($1, 'x', $2)",
                                 event_id, at)

    # Deleted text kept for moderation: 90 days after the deletion.
    texts = {uuid.uuid4(): NOW - 90 * day - SECOND, uuid.uuid4(): NOW - 90 * day + SECOND}
    for target, at in texts.items():
        await owner_conn.execute("""INSERT INTO private.deleted_content (target_type, target_id, content, deleted_at)
                                    VALUES ('comment', $1, 'evidence', $2)""", target, at)

    # Notifications: read ones 90 days after creation, unread ones after 365.
    notes = {("read", "old"): (NOW - 90 * day - SECOND, NOW), ("read", "kept"): (NOW - 90 * day + SECOND, NOW),
             ("unread", "old"): (NOW - 365 * day - SECOND, None), ("unread", "kept"): (NOW - 365 * day + SECOND, None)}
    for (state, fate), (at, read_at) in notes.items():
        await owner_conn.execute("""INSERT INTO public.notifications (user_id, kind, data, created_at, read_at)
                                    VALUES ($1, 'post.reply', $2, $3, $4)""",
                                 user, {"case": f"{state}-{fate}"}, at, read_at)

    # Jobs: 14 days after they finished, done or failed; queued and running ones never, however old.
    jobs = {"done_old": ("done", NOW - 14 * day - SECOND), "failed_old": ("failed", NOW - 14 * day - SECOND),
            "done_kept": ("done", NOW - 14 * day + SECOND)}
    tag = secrets.token_hex(4)
    for name, (status, at) in jobs.items():
        await owner_conn.execute("""INSERT INTO private.jobs (kind, key, status, created_at, finished_at)
                                    VALUES ('x', $1, $2, $3, $3)""", f"{tag}:{name}", status, at)
    await owner_conn.execute("""INSERT INTO private.jobs (kind, key, created_at, run_at)
                                VALUES ('x', $1, $2, now() + interval '10 years')""",
                             f"{tag}:queued_kept", NOW - 400 * day)

    # At least this test's rows (the database is shared with the rest of the suite); which rows went, and
    # that the kept ones stayed, is checked row by row below.
    pruned = await prune_pass(app_db, SETTINGS, NOW)
    assert pruned.keys() == {"idempotency_keys", "refresh_tokens", "user_activity_log", "stripe_events",
                             "deleted_content", "read_notifications", "unread_notifications", "jobs"}
    assert pruned["jobs"] >= 2
    assert await remaining(owner_conn, "SELECT key FROM private.jobs WHERE key LIKE $1",
                           f"{tag}:%") == {f"{tag}:done_kept", f"{tag}:queued_kept"}
    assert pruned["idempotency_keys"] >= 1 and pruned["refresh_tokens"] >= 2
    assert pruned["user_activity_log"] >= 1 and pruned["stripe_events"] >= 1 and pruned["deleted_content"] >= 1
    assert await remaining(owner_conn, "SELECT key FROM private.idempotency_keys WHERE user_id = $1",
                           user) == {"kept"}
    assert await remaining(owner_conn, "SELECT family_id FROM private.refresh_tokens WHERE family_id = ANY($1)",
                           [dead, half_dead, recent]) == {str(half_dead), str(recent)}
    assert await owner_conn.fetchval("SELECT count(*) FROM private.refresh_tokens WHERE family_id = $1",
                                     half_dead) == 2
    assert await remaining(owner_conn, "SELECT activity_type FROM public.user_activity_log WHERE user_id = $1 "
                           "AND activity_type LIKE 'retention_%'", user) == {"retention_kept"}
    assert await remaining(owner_conn, "SELECT id FROM billing.stripe_events WHERE id = ANY($1::text[])",
                           list(events)) == {event_id for event_id in events if "kept" in event_id}
    assert await remaining(owner_conn, "SELECT target_id FROM private.deleted_content WHERE target_id = ANY($1)",
                           list(texts)) == {str(target) for target, at in texts.items() if at > NOW - 90 * day}
    assert await remaining(owner_conn, "SELECT data->>'case' FROM public.notifications WHERE user_id = $1",
                           user) == {"read-kept", "unread-kept"}
    assert set((await prune_pass(app_db, SETTINGS, NOW)).values()) == {0}


async def test_a_pass_deletes_at_most_one_batch_per_table(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    user: UUID = (await signup(client)).user_id
    await owner_conn.executemany(
        """INSERT INTO public.user_activity_log (user_id, activity_type, created_at)
           VALUES ($1, 'retention_batch', $2)""", [(user, NOW - timedelta(days=400 + n)) for n in range(5)])
    small = replace(SETTINGS, retention_batch=2)
    passes = [(await prune_pass(app_db, small, NOW))["user_activity_log"]]
    while passes[-1] and len(passes) < 100:  # other tests' old rows, if any, go in the same batches
        passes.append((await prune_pass(app_db, small, NOW))["user_activity_log"])
    assert passes[-1] == 0 and max(passes) == 2 and sum(passes) >= 5
    assert await owner_conn.fetchval("SELECT count(*) FROM public.user_activity_log WHERE user_id = $1", user) == 0
