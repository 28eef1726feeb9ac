"""Bans and token revocation: the account state every instance enforces. Runs as `service_role`.

One lock orders them against token issuing (migration 0027): an issuer reads the user's row with
`lock_issuer` (FOR SHARE) and issues at the database clock read after that lock; every revocation first
takes the row FOR NO KEY UPDATE (inside `private.revoke_tokens`, or the UPDATE of a ban or role change).

`revoke_tokens` moves the user's cutoff to the transaction's current moment and notifies `hub_accounts`
(delivered at commit, so never for a rolled-back change), through `private.revoke_tokens` (migration 0019),
which a deletion of the account (`auth.users.deleted_at` set) also runs. The note is `{"u": user_id, "k": kind,
"a": cutoff in microseconds since the epoch}`; `kind` tells the instances whether to close the user's
sockets (`revoked`) or only re-check what they may subscribe to (`role`).
"""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

import asyncpg

ACCOUNTS_CHANNEL = "hub_accounts"


class RevocationKind(enum.Enum):
    REVOKED = "revoked"  # ban, deletion, password change, logout-all: live sockets close with 4003
    ROLE = "role"  # the role changed: sockets stay, subscriptions the new role loses are revoked


async def revoke_tokens(conn: asyncpg.Connection, user_id: UUID, kind: RevocationKind) -> datetime:
    """Access tokens of `user_id` issued before now stop counting. Returns the new cutoff.

    `clock_timestamp()`, not `now()`: a token issued by a request that started before this transaction but
    finished after this point must stay valid, and one issued before it must not."""
    cutoff: datetime = await conn.fetchval("SELECT private.revoke_tokens($1, $2)", user_id, kind.value)
    return cutoff


async def cutoffs_us(conn: asyncpg.Connection, user_ids: list[UUID]) -> dict[UUID, int]:
    """The cutoffs of those of `user_ids` that have one, in microseconds since the epoch (as in the note)."""
    rows = await conn.fetch(
        """
        SELECT user_id, (extract(epoch FROM valid_after) * 1000000)::bigint AS cutoff_us
        FROM private.token_cutoffs WHERE user_id = ANY($1::uuid[])
        """,
        user_ids,
    )
    return {row["user_id"]: row["cutoff_us"] for row in rows}


async def end_sessions(conn: asyncpg.Connection, user_id: UUID) -> datetime:
    """`revoke_tokens` (kind `revoked`) and every refresh-token family of `user_id` ended, after the row lock
    (`private.end_sessions`). Returns the new cutoff."""
    cutoff: datetime = await conn.fetchval("SELECT private.end_sessions($1)", user_id)
    return cutoff


async def lock_issuer(conn: asyncpg.Connection, user_id: UUID | None = None, *,
                      refresh_token_hash: str | None = None) -> asyncpg.Record | None:
    """The undeleted user `user_id` (or the owner of the refresh token whose hash is `refresh_token_hash`),
    its row locked FOR SHARE until the transaction ends, with `issued_at`: the database's clock read once
    the lock is held, the issue time of the tokens the transaction issues. None: no such user or token.

    The clock is read in the outer query: a subquery with a row lock is not flattened into it, so the clock
    is read on the row the lock returned, after any wait for a revocation's commit."""
    return await conn.fetchrow(
        """
        SELECT locked.*, clock_timestamp() AS issued_at FROM (
            SELECT id, email, encrypted_password, raw_app_meta_data, raw_user_meta_data, created_at, banned_until,
                   email_confirmed_at
            FROM auth.users
            WHERE id = coalesce($1, (SELECT user_id FROM private.refresh_tokens WHERE token_hash = $2))
              AND deleted_at IS NULL
            FOR SHARE
        ) AS locked
        """,
        user_id, refresh_token_hash,
    )


async def set_ban(conn: asyncpg.Connection, user_id: UUID, until: datetime | None) -> bool:
    """Bans `user_id` until `until` (None lifts the ban). False when no such (undeleted) user."""
    status: str = await conn.execute(
        "UPDATE auth.users SET banned_until = $2 WHERE id = $1 AND deleted_at IS NULL", user_id, until)
    return status.endswith(" 1")


async def set_role(conn: asyncpg.Connection, user_id: UUID, role: str | None) -> bool:
    """Sets (or with None removes) `app_metadata.role` of `user_id`; False when no such (undeleted) user."""
    status: str = await conn.execute(
        """
        UPDATE auth.users
        SET raw_app_meta_data = CASE WHEN $2::text IS NULL
                                     THEN coalesce(raw_app_meta_data, '{}'::jsonb) - 'role'
                                     ELSE coalesce(raw_app_meta_data, '{}'::jsonb)
                                          || jsonb_build_object('role', $2::text) END
        WHERE id = $1 AND deleted_at IS NULL
        """,
        user_id, role,
    )
    return status.endswith(" 1")
