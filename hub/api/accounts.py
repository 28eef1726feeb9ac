"""Accounts: signup, login, refresh with rotation and reuse detection, logout, logout-all, password change, me."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import Request, get, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from hub.auth import AppServices, Caller
from hub.budgets import FAILED_LOGINS_PER_IP, SIGNUPS, SIGNUPS_PER_IP, give_back, spend
from hub.domain.accounts import TokenPair, UserView, user_view
from hub.errors import (
    Banned,
    EmailTaken,
    InvalidCredentials,
    RateLimited,
    TokenReused,
    Unauthorized,
    ValidationFailed,
)
from hub.passwords import hash_password, verify_password
from hub.rules.addresses import budget_subject
from hub.rules.login_backoff import login_wait
from hub.services import Services
from hub.tokens import hash_refresh_token, new_refresh_token
from persistence import account_state, accounts, progress
from persistence.account_state import RevocationKind
from persistence.identity import SERVICE

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SignupIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    full_name: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Annotated[str, msgspec.Meta(max_length=256)]


class RefreshIn(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class PasswordIn(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Annotated[str, msgspec.Meta(max_length=256)]
    new_password: Password


async def _issue_pair(services: Services, conn: asyncpg.Connection, user: asyncpg.Record, *,
                      family_id: UUID, issued_at: datetime | None = None) -> TokenPair:
    """A new family's first pair (signup, login, password change)."""
    token, token_hash = new_refresh_token()
    await accounts.insert_refresh_token(
        conn, user_id=user["id"], family_id=family_id, token_hash=token_hash, parent_id=None,
        expires_at=datetime.now(UTC) + timedelta(seconds=services.settings.refresh_token_ttl_s),
    )
    return await _pair(services, conn, user, family_id, token, issued_at=issued_at)


async def _pair(services: Services, conn: asyncpg.Connection, user: asyncpg.Record, family_id: UUID,
                refresh_token: str, *, issued_at: datetime | None) -> TokenPair:
    """The answer carrying `refresh_token` and an access token issued at `issued_at` (default now): HS256
    signing is deterministic, so the same user, family and `issued_at` give the same access token again."""
    settings = services.settings
    access, exp = services.tokens.issue_access(
        user_id=user["id"], email=user["email"], app_metadata=accounts.metadata(user["raw_app_meta_data"]),
        user_metadata=accounts.metadata(user["raw_user_meta_data"]), session_id=family_id,
        now=None if issued_at is None else issued_at.timestamp(),
    )
    return TokenPair(access_token=access, refresh_token=refresh_token, token_type="bearer",
                     expires_in=settings.access_token_ttl_s, expires_at=exp,
                     user=await user_view(conn, user, settings.free_tier_level))


@post("/api/auth/signup", status_code=201, tags=["accounts"], security=[])
async def signup(data: JSONBody[SignupIn], services: AppServices, request: Request[Any, Any, Any]) -> TokenPair:
    email = data.email.strip().lower()
    if not _EMAIL.match(email):
        raise ValidationFailed({"email": "is not an email address"})
    address = client_address(request)
    # The address's budget first, so one address over it does not also use up everyone's.
    await spend(services, SIGNUPS_PER_IP, address)
    await spend(services, SIGNUPS)
    try:
        password_hash = await hash_password(services.signup_hashes, data.password)
        async with services.db.transaction(SERVICE) as conn:
            user = await accounts.create_user(conn, email, password_hash, data.full_name)
            if user is None:
                raise EmailTaken()
            pair = await _issue_pair(services, conn, user, family_id=uuid.uuid4())
    except BaseException:
        # Everyone's budget counts accounts made: a refused signup (a taken email, a full hashing queue)
        # must not let one client close signup for everybody. The address's own use stays spent.
        await give_back(services, SIGNUPS)
        raise
    await _remember_address(services, email, address)
    return pair


def client_address(request: Request[Any, Any, Any]) -> str:
    """The subject of the per-address budgets: the client's address as uvicorn resolved it (X-Forwarded-For
    when the peer is a trusted proxy, `FORWARDED_ALLOW_IPS`, else the peer itself), an IPv6 one as its /64."""
    return budget_subject(request.client.host if request.client else "unknown")


def _known_key(email: str, address: str) -> str:
    return f"login:known:{email}|{address}"


async def _remember_address(services: Services, email: str, address: str) -> None:
    """Holds when the address last signed up or logged into the account, for `LOGIN_KNOWN_ADDRESS_TTL`."""
    if services.settings.login_known_address_s:
        await services.limiter.hold_until(_known_key(email, address), services.clock(),
                                          services.settings.login_known_address_s)


@post("/api/auth/login", status_code=HTTP_200_OK, tags=["accounts"], security=[])
async def login(data: JSONBody[LoginIn], services: AppServices, request: Request[Any, Any, Any]) -> TokenPair:
    """Only wrong passwords count, against the address (`LOGIN_RATE_PER_MINUTE`) and the account (the backoff
    of `hub.rules.login_backoff`). Both are reserved before the password is checked, so parallel guesses
    cannot all slip past, and given back when the attempt ends any other way.

    The account's streak is account-wide for addresses it does not know; an address that signed up or
    logged in before has a streak of its own, so failures elsewhere cannot lock the owner out."""
    email = data.email.strip().lower()
    settings = services.settings
    limiter = services.limiter
    address = client_address(request)
    await spend(services, FAILED_LOGINS_PER_IP, address)
    # Only after the address passed: a blocked address cannot create or extend an account's streak.
    known = await limiter.held_until(_known_key(email, address)) is not None
    account_key = f"login:account:{email}|{address}" if known else f"login:account:{email}"
    # Not multiplied by RATE_LIMIT_SCALE: the scale lets one address do more, while this guards one account
    # against guessing, which no load test or integration needs more of.
    rule = partial(login_wait, free=settings.login_backoff_after,
                   base_s=settings.login_backoff_base_s, max_s=settings.login_backoff_max_s)
    wait = await limiter.begin_attempt(account_key, services.clock(), rule, settings.login_failures_forget_s)
    if wait:
        await give_back(services, FAILED_LOGINS_PER_IP, address)  # refused unheard: no password was tried
        raise RateLimited(wait)
    wrong_password = False
    try:
        async with services.db.transaction(SERVICE) as conn:
            user = await accounts.user_by_email(conn, email)
        # argon2 takes tens of milliseconds: no pool connection is held while it runs, so a burst of logins
        # cannot starve the other routes of connections.
        if not await verify_password(services.login_checks, user["encrypted_password"] if user else None,
                                     data.password):
            wrong_password = True
            raise InvalidCredentials()
        assert user is not None
        # After the password: only the account's owner learns that it is banned, and until when.
        _refuse_banned(user)
        async with services.db.transaction(SERVICE) as conn:
            await accounts.record_sign_in(conn, user["id"])
            await progress.log_activity(conn, user["id"], "login", "user", user["id"], {})
            pair = await _issue_pair(services, conn, user, family_id=uuid.uuid4())
    except BaseException:
        if not wrong_password:
            await limiter.undo_attempt(account_key)
            await give_back(services, FAILED_LOGINS_PER_IP, address)
        raise
    await limiter.end_streak(account_key)
    await give_back(services, FAILED_LOGINS_PER_IP, address)
    await _remember_address(services, email, address)
    return pair


@post("/api/auth/refresh", status_code=HTTP_200_OK, tags=["accounts"], security=[])
async def refresh(data: JSONBody[RefreshIn], services: AppServices) -> TokenPair:
    token_hash = hash_refresh_token(data.refresh_token)
    successor = services.tokens.rotated_refresh_token(data.refresh_token)
    async with services.db.transaction(SERVICE) as conn:
        spent = await accounts.spend_refresh_token(conn, token_hash, datetime.now(UTC))
        if spent is not None:
            user = await _refreshed_user(conn, spent["user_id"])
            await accounts.insert_refresh_token(
                conn, user_id=user["id"], family_id=spent["family_id"], token_hash=hash_refresh_token(successor),
                parent_id=spent["id"],
                expires_at=datetime.now(UTC) + timedelta(seconds=services.settings.refresh_token_ttl_s),
            )
            return await _pair(services, conn, user, spent["family_id"], successor, issued_at=spent["used_at"])
        state = await accounts.refresh_token_state(conn, token_hash)
        if state is None or state["used_at"] is None:
            raise Unauthorized("Refresh token is invalid, expired or revoked")
        grace = timedelta(seconds=services.settings.refresh_reuse_grace_s)
        if datetime.now(UTC) - state["used_at"] <= grace and \
                await accounts.live_child_hash(conn, state["family_id"], state["id"]) == hash_refresh_token(successor):
            # The token just replaced, again within the grace window: two tabs refreshing at once, not a
            # leak. The same pair as the first refresh's, and nothing revoked.
            user = await _refreshed_user(conn, state["user_id"])
            return await _pair(services, conn, user, state["family_id"], successor, issued_at=state["used_at"])
        # An older spent token, or one presented after the window: it leaked, so end the whole family.
        await accounts.revoke_family(conn, state["family_id"])
    # Raised after the block so the family's revocation commits before the 401 goes out.
    raise TokenReused()


async def _refreshed_user(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record:
    user = await accounts.user_by_id(conn, user_id)
    if user is None:
        raise Unauthorized("Account no longer exists")
    _refuse_banned(user)
    return user


def _refuse_banned(user: asyncpg.Record) -> None:
    """`Banned` while the account's ban lasts; a ban whose `until` has passed is no ban."""
    until: datetime | None = user["banned_until"]
    if until is not None and until > datetime.now(UTC):
        raise Banned(until.isoformat())


@post("/api/auth/logout", status_code=HTTP_204_NO_CONTENT, tags=["accounts"])
async def logout(data: JSONBody[RefreshIn], user: Caller, services: AppServices) -> None:
    async with services.db.transaction(SERVICE) as conn:
        state = await accounts.refresh_token_state(conn, hash_refresh_token(data.refresh_token))
        if state is not None and state["user_id"] == user.user_id:
            await accounts.revoke_family(conn, state["family_id"])


@post("/api/auth/logout-all", status_code=HTTP_204_NO_CONTENT, tags=["accounts"])
async def logout_all(user: Caller, services: AppServices) -> None:
    """Signs the caller out everywhere: every refresh family ends, and every access token issued until now
    answers 401 `token_revoked` within 2 s on every instance, whose websockets of the user close with 4003."""
    user_id = user.require_user_id()
    async with services.db.transaction(SERVICE) as conn:
        await accounts.revoke_user_families(conn, user_id)
        await account_state.revoke_tokens(conn, user_id, RevocationKind.REVOKED)
    services.cutoffs.forget(user_id)


@post("/api/auth/password", status_code=HTTP_200_OK, tags=["accounts"])
async def change_password(data: JSONBody[PasswordIn], user: Caller, services: AppServices) -> TokenPair:
    """Checks the current password (a wrong one counts against the account like a failed login, with the
    same backoff), sets the new one, revokes every refresh family and every access token issued until now
    (sockets close with 4003), and answers with a new pair so the caller stays signed in."""
    user_id = user.require_user_id()
    settings = services.settings
    limiter = services.limiter
    key = f"password:account:{user_id}"
    rule = partial(login_wait, free=settings.login_backoff_after,
                   base_s=settings.login_backoff_base_s, max_s=settings.login_backoff_max_s)
    wait = await limiter.begin_attempt(key, services.clock(), rule, settings.login_failures_forget_s)
    if wait:
        raise RateLimited(wait)
    wrong_password = False
    try:
        async with services.db.transaction(SERVICE) as conn:
            row = await accounts.user_by_id(conn, user_id)
        if row is None:
            raise Unauthorized("Account no longer exists")
        if not await verify_password(services.login_checks, row["encrypted_password"], data.current_password):
            wrong_password = True
            raise InvalidCredentials("The current password is wrong")
        password_hash = await hash_password(services.signup_hashes, data.new_password)
        async with services.db.transaction(SERVICE) as conn:
            await accounts.set_password(conn, user_id, password_hash)
            await accounts.revoke_user_families(conn, user_id)
            cutoff = await account_state.revoke_tokens(conn, user_id, RevocationKind.REVOKED)
            # Strictly after the cutoff even if this process's clock lags the database's.
            issued_at = max(datetime.now(UTC), cutoff + timedelta(microseconds=1))
            pair = await _issue_pair(services, conn, row, family_id=uuid.uuid4(), issued_at=issued_at)
        services.cutoffs.forget(user_id)
    except BaseException:
        if not wrong_password:
            await limiter.undo_attempt(key)
        raise
    await limiter.end_streak(key)
    return pair


@get("/api/auth/me", tags=["accounts"])
async def me(user: Caller, services: AppServices) -> UserView:
    # auth.users is closed to the user's role: read the account on the privileged path, the rest as the user.
    async with services.db.transaction(SERVICE) as conn:
        row = await accounts.user_by_id(conn, user.require_user_id())
    if row is None:
        raise Unauthorized("Account no longer exists")
    async with services.db.transaction(user) as conn:
        return await user_view(conn, row, services.settings.free_tier_level)


ROUTES = [signup, login, refresh, logout, logout_all, change_password, me]
