"""The tokens of mailed links: email verification, password recovery, email change. Runs as `service_role`.

Each lives in the auth.users columns GoTrue uses for it (`confirmation_token`/`confirmation_sent_at`,
`recovery_token`/`recovery_sent_at`, `email_change_token_new`/`email_change`/`email_change_sent_at`), holding
the SHA-256 hex of the token, never the token. A new link replaces the account's previous one of its kind; a
token is spent by the one UPDATE that finds it unexpired and clears it, so it works once, even raced.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def set_confirmation(conn: asyncpg.Connection, user_id: UUID, token_hash: str) -> None:
    await conn.execute(
        """
        UPDATE auth.users SET confirmation_token = $2, confirmation_sent_at = now()
        WHERE id = $1 AND deleted_at IS NULL
        """,
        user_id, token_hash,
    )


async def confirm_email(conn: asyncpg.Connection, token_hash: str, ttl_s: int) -> UUID | None:
    """Spends a verification token sent within `ttl_s`: the id of the account, now verified; None for an
    unknown, spent or expired token."""
    user_id: UUID | None = await conn.fetchval(
        """
        UPDATE auth.users
        SET email_confirmed_at = coalesce(email_confirmed_at, now()), confirmation_token = NULL
        WHERE confirmation_token = $1 AND confirmation_sent_at > now() - make_interval(secs => $2)
          AND deleted_at IS NULL
        RETURNING id
        """,
        token_hash, ttl_s,
    )
    return user_id


async def set_recovery(conn: asyncpg.Connection, email: str, token_hash: str) -> UUID | None:
    """Stores a recovery token for the account of `email`: its id, or None when there is no such account."""
    user_id: UUID | None = await conn.fetchval(
        """
        UPDATE auth.users SET recovery_token = $2, recovery_sent_at = now()
        WHERE lower(email) = lower($1) AND deleted_at IS NULL
        RETURNING id
        """,
        email, token_hash,
    )
    return user_id


async def reset_password(conn: asyncpg.Connection, token_hash: str, ttl_s: int,
                         password_hash: str) -> UUID | None:
    """Spends a recovery token sent within `ttl_s` and sets the password: the account's id, or None for an
    unknown, spent or expired token. The link reached the mailbox, so the address counts as verified too."""
    user_id: UUID | None = await conn.fetchval(
        """
        UPDATE auth.users
        SET encrypted_password = $3, recovery_token = NULL,
            email_confirmed_at = coalesce(email_confirmed_at, now())
        WHERE recovery_token = $1 AND recovery_sent_at > now() - make_interval(secs => $2)
          AND deleted_at IS NULL
        RETURNING id
        """,
        token_hash, ttl_s, password_hash,
    )
    return user_id


async def email_in_use(conn: asyncpg.Connection, email: str) -> bool:
    """Whether an account (deleted ones keep a placeholder address, never a real one) has `email`."""
    taken: bool = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM auth.users WHERE lower(email) = lower($1))",
                                      email)
    return taken


async def set_email_change(conn: asyncpg.Connection, user_id: UUID, new_email: str,
                           token_hash: str) -> str | None:
    """Stores a pending change to `new_email`: the account's current address, or None when it is gone.
    `private.end_sessions` (migration 0033) voids it."""
    current: str | None = await conn.fetchval(
        """
        UPDATE auth.users
        SET email_change = lower($2), email_change_token_new = $3, email_change_sent_at = now()
        WHERE id = $1 AND deleted_at IS NULL
        RETURNING email
        """,
        user_id, new_email, token_hash,
    )
    return current


async def confirm_email_change(conn: asyncpg.Connection, token_hash: str, ttl_s: int) -> asyncpg.Record | None:
    """Spends an email-change token sent within `ttl_s` and switches the address: `{id, old_email, email}`,
    or None for an unknown, spent or expired token. Links still out to the old address (reset, verification)
    stop working. Raises `asyncpg.UniqueViolationError` when another
    account took the new address meanwhile."""
    return await conn.fetchrow(
        """
        UPDATE auth.users AS u
        SET email = u.email_change, email_change = NULL, email_change_token_new = NULL,
            email_confirmed_at = coalesce(u.email_confirmed_at, now()),
            recovery_token = NULL, confirmation_token = NULL
        FROM (SELECT id, email FROM auth.users
              WHERE email_change_token_new = $1 AND email_change_sent_at > now() - make_interval(secs => $2)
                AND email_change IS NOT NULL AND deleted_at IS NULL
              FOR UPDATE) AS old
        WHERE u.id = old.id
        RETURNING u.id, old.email AS old_email, u.email
        """,
        token_hash, ttl_s,
    )
