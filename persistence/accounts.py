"""Users, refresh-token families and roles. Runs on the privileged path (`service_role`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg


async def create_user(conn: asyncpg.Connection, email: str, password_hash: str,
                      full_name: str | None) -> asyncpg.Record | None:
    """The new user, or None when the email is taken (the profile row comes from a trigger). Its email is
    unverified until the mailed link comes back (`persistence.account_links.confirm_email`)."""
    return await conn.fetchrow(
        """
        INSERT INTO auth.users (email, encrypted_password, email_confirmed_at,
                                raw_app_meta_data, raw_user_meta_data)
        VALUES (lower($1), $2, NULL,
                '{"provider": "email", "providers": ["email"]}'::jsonb,
                jsonb_strip_nulls(jsonb_build_object('full_name', $3::text)))
        ON CONFLICT DO NOTHING
        RETURNING id, email, encrypted_password, raw_app_meta_data, raw_user_meta_data, created_at,
                  email_confirmed_at
        """,
        email, password_hash, full_name,
    )


async def user_by_email(conn: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT id, email, encrypted_password, raw_app_meta_data, raw_user_meta_data, created_at, banned_until,
               email_confirmed_at
        FROM auth.users WHERE lower(email) = lower($1) AND deleted_at IS NULL
        """,
        email,
    )


async def user_by_id(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT id, email, encrypted_password, raw_app_meta_data, raw_user_meta_data, created_at, banned_until,
               email_confirmed_at
        FROM auth.users WHERE id = $1 AND deleted_at IS NULL
        """,
        user_id,
    )


async def record_sign_in(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record | None:
    """Records a login of the undeleted user `user_id` and returns it as `account_state.lock_issuer` does:
    the UPDATE holds the row lock from here on, and `issued_at` is the clock read after it (RETURNING is
    computed on the row the UPDATE wrote, after any wait for a revocation's commit)."""
    return await conn.fetchrow(
        """
        UPDATE auth.users SET last_sign_in_at = now() WHERE id = $1 AND deleted_at IS NULL
        RETURNING id, email, encrypted_password, raw_app_meta_data, raw_user_meta_data, created_at, banned_until,
                  email_confirmed_at, clock_timestamp() AS issued_at
        """,
        user_id,
    )


async def insert_refresh_token(conn: asyncpg.Connection, *, user_id: UUID, family_id: UUID,
                               token_hash: str, parent_id: UUID | None, expires_at: datetime) -> UUID:
    token_id: UUID = await conn.fetchval(
        """
        INSERT INTO private.refresh_tokens (user_id, family_id, token_hash, parent_id, expires_at)
        VALUES ($1, $2, $3, $4, $5) RETURNING id
        """,
        user_id, family_id, token_hash, parent_id, expires_at,
    )
    return token_id


async def spend_refresh_token(conn: asyncpg.Connection, token_hash: str, used_at: datetime) -> asyncpg.Record | None:
    """Marks a live token used at `used_at` (the issue time of `account_state.lock_issuer`: it becomes the new
    access token's `iat`) and
    returns it; None when it is unknown, spent, revoked or expired. The conditional UPDATE makes two
    concurrent refreshes with one token see exactly one winner."""
    return await conn.fetchrow(
        """
        UPDATE private.refresh_tokens SET used_at = $2
        WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
        RETURNING id, user_id, family_id, used_at
        """,
        token_hash, used_at,
    )


async def live_child_hash(conn: asyncpg.Connection, family_id: UUID, parent_id: UUID) -> str | None:
    """The hash of the token that replaced `parent_id`, while that token is still the family's live one."""
    token_hash: str | None = await conn.fetchval(
        """
        SELECT token_hash FROM private.refresh_tokens
        WHERE family_id = $1 AND parent_id = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
        """,
        family_id, parent_id,
    )
    return token_hash


async def refresh_token_state(conn: asyncpg.Connection, token_hash: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, user_id, family_id, used_at, revoked_at FROM private.refresh_tokens WHERE token_hash = $1",
        token_hash,
    )


async def revoke_family(conn: asyncpg.Connection, family_id: UUID) -> None:
    await conn.execute(
        "UPDATE private.refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
        family_id,
    )


async def set_password(conn: asyncpg.Connection, user_id: UUID, password_hash: str) -> None:
    await conn.execute("UPDATE auth.users SET encrypted_password = $2 WHERE id = $1", user_id, password_hash)


def metadata(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
