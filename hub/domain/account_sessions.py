"""Account sessions: the token pairs signup, login, refresh, verification, a password change and a reset
answer with, signing out everywhere, and the backoff that guards a password check.

What makes a revocation final (docs/security.md, "Account state"): every route that issues a token pair
does it through `open_session`, `sign_in` or `refresh_session`, inside the transaction that issues. These
read the user's row FOR SHARE (`persistence.account_state.lock_issuer`), refuse a deleted or banned account
there, and issue at the database's clock read after that lock. Every revocation takes the same row first
(`private.revoke_tokens`, migration 0027) and sets its cutoff from the same clock, so a token is either issued
before the revocation's cutoff (and revoked by it) or by a transaction that waited for its commit.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

import asyncpg

from hub.budgets import ACCOUNT_REVOCATIONS, spend
from hub.domain import account_actions
from hub.domain.accounts import TokenPair, user_view
from hub.errors import Banned, InvalidCredentials, RateLimited, Unauthorized
from hub.passwords import hash_password, verify_password
from hub.rules.login_backoff import login_wait
from hub.services import Services
from hub.tokens import hash_refresh_token, new_refresh_token
from persistence import account_state, accounts
from persistence.identity import SERVICE

__all__ = ["change_password", "check_current_password", "logout_all", "open_session", "password_attempt",
           "refresh_session", "sign_in"]


def _issuer(user: asyncpg.Record | None) -> asyncpg.Record:
    """`user` as `lock_issuer` read it, unless no pair may be issued to it: deleted, or banned at the moment
    of issue (a ban whose `until` has passed is no ban)."""
    if user is None:
        raise Unauthorized("Account no longer exists")
    until: datetime | None = user["banned_until"]
    if until is not None and until > user["issued_at"]:
        raise Banned(until.isoformat())
    return user


async def open_session(services: Services, conn: asyncpg.Connection, user_id: UUID, *,
                       after: datetime | None = None) -> TokenPair:
    """A new refresh family's first pair for `user_id`, issued in the caller's transaction (signup, a
    verification, a password change, a reset). `after`: a cutoff this transaction set, which the access token
    must be issued strictly after."""
    user = _issuer(await account_state.lock_issuer(conn, user_id))
    issued_at: datetime = user["issued_at"]
    if after is not None:
        issued_at = max(issued_at, after + timedelta(microseconds=1))
    return await _first_pair(services, conn, user, issued_at)


async def sign_in(services: Services, conn: asyncpg.Connection, user_id: UUID) -> TokenPair:
    """`open_session` for a login, which also records the sign-in: the UPDATE takes the row lock (FOR NO
    KEY UPDATE, stronger than the issuers' FOR SHARE) before anything reads the row, so two logins of one
    account never hold FOR SHARE and then both wait to update it."""
    user = _issuer(await accounts.record_sign_in(conn, user_id))
    return await _first_pair(services, conn, user, user["issued_at"])


async def _first_pair(services: Services, conn: asyncpg.Connection, user: asyncpg.Record,
                      issued_at: datetime) -> TokenPair:
    family_id = uuid.uuid4()
    token, token_hash = new_refresh_token()
    await accounts.insert_refresh_token(
        conn, user_id=user["id"], family_id=family_id, token_hash=token_hash, parent_id=None,
        expires_at=issued_at + timedelta(seconds=services.settings.refresh_token_ttl_s),
    )
    return await _pair(services, conn, user, family_id, token, issued_at)


async def refresh_session(services: Services, conn: asyncpg.Connection, refresh_token: str) -> TokenPair | None:
    """The pair that replaces `refresh_token` (rotation), in the caller's transaction. The same pair again
    when the token was just replaced and comes back within the grace window (two tabs refreshing at once).
    None when a spent token comes back otherwise: it leaked, so its whole family is revoked, and the caller
    commits that before answering 401 `token_reused`."""
    token_hash = hash_refresh_token(refresh_token)
    successor = services.tokens.rotated_refresh_token(refresh_token)
    # The lock before the spend: a logout-all or password change holding the row has then committed, and the
    # spend sees the family it revoked (and theirs waits for this one's new token, and revokes it).
    locked = await account_state.lock_issuer(conn, refresh_token_hash=token_hash)
    if locked is None:
        raise Unauthorized("Refresh token is invalid, expired or revoked")
    user = _issuer(locked)
    issued_at: datetime = user["issued_at"]
    spent = await accounts.spend_refresh_token(conn, token_hash, issued_at)
    if spent is not None:
        await accounts.insert_refresh_token(
            conn, user_id=user["id"], family_id=spent["family_id"], token_hash=hash_refresh_token(successor),
            parent_id=spent["id"], expires_at=issued_at + timedelta(seconds=services.settings.refresh_token_ttl_s),
        )
        return await _pair(services, conn, user, spent["family_id"], successor, issued_at)
    state = await accounts.refresh_token_state(conn, token_hash)
    if state is None or state["used_at"] is None:
        raise Unauthorized("Refresh token is invalid, expired or revoked")
    grace = timedelta(seconds=services.settings.refresh_reuse_grace_s)
    if issued_at - state["used_at"] <= grace and \
            await accounts.live_child_hash(conn, state["family_id"], state["id"]) == hash_refresh_token(successor):
        # HS256 signing is deterministic: the same user, family and issue time give the first refresh's access
        # token again. Nothing is revoked.
        return await _pair(services, conn, user, state["family_id"], successor, state["used_at"])
    await accounts.revoke_family(conn, state["family_id"])
    return None


async def _pair(services: Services, conn: asyncpg.Connection, user: asyncpg.Record, family_id: UUID,
                refresh_token: str, issued_at: datetime) -> TokenPair:
    """The answer carrying `refresh_token` and an access token issued at `issued_at`. Its `email_verified`
    claim is the account's state as the row lock read it: a token issued before a verification keeps saying
    unverified until the next refresh."""
    settings = services.settings
    access, exp = services.tokens.issue_access(
        user_id=user["id"], email=user["email"], app_metadata=accounts.metadata(user["raw_app_meta_data"]),
        user_metadata=accounts.metadata(user["raw_user_meta_data"]), session_id=family_id,
        now=issued_at.timestamp(), email_verified=user["email_confirmed_at"] is not None,
    )
    return TokenPair(access_token=access, refresh_token=refresh_token, token_type="bearer",
                     expires_in=settings.access_token_ttl_s, expires_at=exp,
                     user=await user_view(conn, user, settings.free_tier_level))


@asynccontextmanager
async def password_attempt(services: Services, key: str) -> AsyncIterator[None]:
    """Guards one check of a password (a login, the current password of a change) with the account's backoff
    (`hub.rules.login_backoff`) under `key`: the attempt counts as a failure in advance, so parallel guesses
    cannot all slip past; an `InvalidCredentials` from the block leaves it counted, any other end of the
    block takes it back, and a block that completes ends the streak. 429 `rate_limited` while backing off.

    Not multiplied by RATE_LIMIT_SCALE: the scale lets one client do more, while this guards one account
    against guessing, which no load test or integration needs more of."""
    settings = services.settings
    rule = partial(login_wait, free=settings.login_backoff_after,
                   base_s=settings.login_backoff_base_s, max_s=settings.login_backoff_max_s)
    wait = await services.limiter.begin_attempt(key, services.clock(), rule, settings.login_failures_forget_s)
    if wait:
        raise RateLimited(wait)
    try:
        yield
    except InvalidCredentials:
        raise
    except BaseException:
        await services.limiter.undo_attempt(key)
        raise
    await services.limiter.end_streak(key)


async def check_current_password(services: Services, user_id: UUID, password: str) -> None:
    """Checks that `password` is the account's, asked again before a sensitive change (password, email,
    deletion). A wrong one is 401 `invalid_credentials` and counts against the account with the login
    backoff (`password_attempt`, one streak for every route that asks: a thief holding a token cannot guess
    through one route after another); 429 while the backoff lasts."""
    async with password_attempt(services, f"password:account:{user_id}"):
        # argon2 runs outside any transaction: no pool connection is held while it takes its milliseconds.
        async with services.db.transaction(SERVICE) as conn:
            row = await accounts.user_by_id(conn, user_id)
        if row is None:
            raise Unauthorized("Account no longer exists")
        if not await verify_password(services.login_checks, row["encrypted_password"], password):
            raise InvalidCredentials("The current password is wrong")


async def logout_all(services: Services, user_id: UUID) -> None:
    """Every refresh family of `user_id` ends, and every access token issued until now stops counting, on
    every instance (whose websockets of the user close with 4003)."""
    await spend(services, ACCOUNT_REVOCATIONS, str(user_id))
    async with account_actions.revoking(services) as conn:
        await account_actions.end_sessions(conn, user_id)


async def change_password(services: Services, user_id: UUID, current_password: str,
                          new_password: str) -> TokenPair:
    """Checks `current_password` (a wrong one counts against the account's backoff like a failed login), sets
    `new_password`, ends every session of the account as `logout_all` does, and returns a new pair issued
    after that, so the caller stays signed in."""
    await check_current_password(services, user_id, current_password)
    await spend(services, ACCOUNT_REVOCATIONS, str(user_id))
    password_hash = await hash_password(services.signup_hashes, new_password)
    async with account_actions.revoking(services) as conn:
        cutoff = await account_actions.end_sessions(conn, user_id)
        await accounts.set_password(conn, user_id, password_hash)
        return await open_session(services, conn, user_id, after=cutoff)
