"""The durable job queue (`private.jobs`, migration 0024): queueing, claiming with a lease, finishing.

`enqueue` runs inside the caller's transaction: the job exists, and its wake-up note is sent, if and only if
that transaction commits. The queue is server-owned, so the transaction switches to `service_role` here and
stays in it (as `append_event` does); writers queue after their own statements as the caller.

The runner's statements (hub/jobs/runner.py) take `attempts` as a fencing token: a claim increments it, and
finishing, retrying, extending or releasing only touch the row while it still carries the claim's number and
`locked_by`, so an instance whose lease another instance took over changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from persistence.db import set_identity
from persistence.identity import SERVICE

WAKE_CHANNEL = "hub_jobs"


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int  # this claim's number, 1 for the first run


async def enqueue(conn: asyncpg.Connection, kind: str, payload: dict[str, Any], *,
                  run_at: datetime | None = None, key: str | None = None) -> bool:
    """Queues a job in the caller's transaction; with `key`, at most one job ever has that key (kept until
    retention prunes the finished job): a second enqueue is a no-op. → whether a job was queued."""
    await set_identity(conn, SERVICE)
    queued: int | None = await conn.fetchval(
        """
        INSERT INTO private.jobs (kind, payload, run_at, key)
        VALUES ($1, $2::jsonb, coalesce($3, clock_timestamp()), $4)
        ON CONFLICT (key) DO NOTHING
        RETURNING id
        """,
        kind, payload, run_at, key,
    )
    if queued is None:
        return False
    # Delivered at commit; one note per transaction however many jobs it queues (identical notes fold).
    await conn.execute("SELECT pg_notify($1, '')", WAKE_CHANNEL)
    return True


async def claim(conn: asyncpg.Connection, worker: str, limit: int, lease_s: float) -> list[ClaimedJob]:
    """Up to `limit` due jobs, oldest due first: queued ones whose `run_at` passed and running ones whose
    lease expired (their instance died or stalled). Each gets a lease of `lease_s` held by `worker`."""
    rows = await conn.fetch(
        """
        UPDATE private.jobs j
        SET status = 'running', attempts = j.attempts + 1, locked_by = $1,
            locked_until = clock_timestamp() + make_interval(secs => $3),
            run_at = clock_timestamp() + make_interval(secs => $3)
        WHERE j.id IN (SELECT id FROM private.jobs
                       WHERE status IN ('queued', 'running') AND run_at <= clock_timestamp()
                       ORDER BY run_at LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING j.id, j.kind, j.payload, j.attempts
        """,
        worker, limit, lease_s,
    )
    return [ClaimedJob(r["id"], r["kind"], r["payload"], r["attempts"]) for r in rows]


async def extend(conn: asyncpg.Connection, worker: str, claims: list[tuple[int, int]], lease_s: float) -> None:
    """Renews the leases of the (id, attempts) claims `worker` still holds."""
    await conn.execute(
        """
        UPDATE private.jobs j
        SET locked_until = clock_timestamp() + make_interval(secs => $3),
            run_at = clock_timestamp() + make_interval(secs => $3)
        FROM unnest($2::bigint[], $4::int[]) AS c(id, attempts)
        WHERE j.id = c.id AND j.attempts = c.attempts AND j.locked_by = $1 AND j.status = 'running'
        """,
        worker, [c[0] for c in claims], lease_s, [c[1] for c in claims],
    )


async def mark_done(conn: asyncpg.Connection, job: ClaimedJob, worker: str) -> bool:
    """→ False when the claim was lost (the lease expired and another instance took the job over)."""
    status: str = await conn.execute(
        """
        UPDATE private.jobs
        SET status = 'done', finished_at = clock_timestamp(), locked_until = NULL, last_error = NULL
        WHERE id = $1 AND attempts = $2 AND locked_by = $3 AND status = 'running'
        """,
        job.id, job.attempts, worker,
    )
    return status.endswith(" 1")


async def mark_failed_attempt(conn: asyncpg.Connection, job: ClaimedJob, worker: str, error: str,
                              retry_in_s: float | None) -> None:
    """The attempt failed: queued again in `retry_in_s` seconds, or `failed` for good when that is None."""
    await conn.execute(
        """
        UPDATE private.jobs
        SET status = CASE WHEN $5::float8 IS NULL THEN 'failed' ELSE 'queued' END,
            run_at = clock_timestamp() + make_interval(secs => coalesce($5::float8, 0)),
            finished_at = CASE WHEN $5::float8 IS NULL THEN clock_timestamp() END,
            locked_until = NULL, last_error = left($4, 2000)
        WHERE id = $1 AND attempts = $2 AND locked_by = $3 AND status = 'running'
        """,
        job.id, job.attempts, worker, error, retry_in_s,
    )


async def release(conn: asyncpg.Connection, job: ClaimedJob, worker: str) -> None:
    """Hands a claimed job back unrun (the instance is stopping): due now, and the claim not counted."""
    await conn.execute(
        """
        UPDATE private.jobs
        SET status = 'queued', run_at = clock_timestamp(), attempts = attempts - 1, locked_until = NULL
        WHERE id = $1 AND attempts = $2 AND locked_by = $3 AND status = 'running'
        """,
        job.id, job.attempts, worker,
    )


async def next_due_in(conn: asyncpg.Connection) -> float | None:
    """Seconds until the soonest queued or leased job is due (≤ 0: due now); None when there is none."""
    value: float | None = await conn.fetchval(
        """
        SELECT extract(epoch FROM min(run_at) - clock_timestamp())::float8 FROM private.jobs
        WHERE status IN ('queued', 'running')
        """
    )
    return value


async def status_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Jobs waiting (`queued`, including scheduled ones), `running` and `failed`; done ones are not counted."""
    rows = await conn.fetch(
        """
        SELECT status, count(*) AS n FROM private.jobs WHERE status IN ('queued', 'running', 'failed')
        GROUP BY status
        """
    )
    counts = {"queued": 0, "running": 0, "failed": 0}
    counts.update({r["status"]: int(r["n"]) for r in rows})
    return counts
