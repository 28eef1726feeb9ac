"""The token pair signup, login, refresh, verification, password changes and resets answer with, and the
revocation a password change or reset performs before it issues a new one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from hub.domain.accounts import TokenPair, user_view
from hub.errors import Banned
from hub.services import Services
from hub.tokens import new_refresh_token
from persistence import account_state, accounts
from persistence.account_state import RevocationKind


async def issue_pair(services: Services, conn: asyncpg.Connection, user: asyncpg.Record, *,
                     family_id: UUID, issued_at: datetime | None = None) -> TokenPair:
    """A new family's first pair (signup, login, verification, password change or reset)."""
    token, token_hash = new_refresh_token()
    await accounts.insert_refresh_token(
        conn, user_id=user["id"], family_id=family_id, token_hash=token_hash, parent_id=None,
        expires_at=datetime.now(UTC) + timedelta(seconds=services.settings.refresh_token_ttl_s),
    )
    return await pair(services, conn, user, family_id, token, issued_at=issued_at)


async def pair(services: Services, conn: asyncpg.Connection, user: asyncpg.Record, family_id: UUID,
               refresh_token: str, *, issued_at: datetime | None) -> TokenPair:
    """The answer carrying `refresh_token` and an access token issued at `issued_at` (default now): HS256
    signing is deterministic, so the same user, family and `issued_at` give the same access token again.
    Its `email_verified` claim is the account's state now: a token issued before a verification keeps
    saying unverified until the next refresh."""
    settings = services.settings
    access, exp = services.tokens.issue_access(
        user_id=user["id"], email=user["email"], app_metadata=accounts.metadata(user["raw_app_meta_data"]),
        user_metadata=accounts.metadata(user["raw_user_meta_data"]), session_id=family_id,
        now=None if issued_at is None else issued_at.timestamp(),
        email_verified=user["email_confirmed_at"] is not None,
    )
    return TokenPair(access_token=access, refresh_token=refresh_token, token_type="bearer",
                     expires_in=settings.access_token_ttl_s, expires_at=exp,
                     user=await user_view(conn, user, settings.free_tier_level))


async def revoke_and_reissue(services: Services, conn: asyncpg.Connection, user: asyncpg.Record) -> TokenPair:
    """Ends every refresh family of `user` and every access token issued until now (its sockets close with
    4003 once this commits), then issues a new family's pair strictly after that cutoff. The caller forgets
    the cached cutoff (`services.cutoffs.forget`) after the commit."""
    await accounts.revoke_user_families(conn, user["id"])
    cutoff = await account_state.revoke_tokens(conn, user["id"], RevocationKind.REVOKED)
    # Strictly after the cutoff even if this process's clock lags the database's.
    issued_at = max(datetime.now(UTC), cutoff + timedelta(microseconds=1))
    return await issue_pair(services, conn, user, family_id=uuid.uuid4(), issued_at=issued_at)


def refuse_banned(user: asyncpg.Record) -> None:
    """`Banned` while the account's ban lasts; a ban whose `until` has passed is no ban."""
    until: datetime | None = user["banned_until"]
    if until is not None and until > datetime.now(UTC):
        raise Banned(until.isoformat())
