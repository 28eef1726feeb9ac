"""Accounts: signup, login, refresh with rotation and reuse detection, logout, logout-all, password change, me."""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from hub.auth import AppServices, Caller, client_address
from hub.budgets import FAILED_LOGINS_PER_IP, SIGNUPS, SIGNUPS_PER_IP, give_back, spend
from hub.domain import account_sessions
from hub.domain.account_links import start_verification
from hub.domain.accounts import TokenPair, UserView, user_view
from hub.errors import EmailTaken, InvalidCredentials, TokenReused, Unauthorized, ValidationFailed
from hub.passwords import hash_password, verify_password
from hub.services import Services
from hub.tokens import hash_refresh_token
from persistence import accounts, progress
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
            await start_verification(services, conn, user["id"], email)
            pair = await account_sessions.open_session(services, conn, user["id"])
    except BaseException:
        # Everyone's budget counts accounts made: a refused signup (a taken email, a full hashing queue)
        # must not let one client close signup for everybody. The address's own use stays spent.
        await give_back(services, SIGNUPS)
        raise
    await _remember_address(services, email, address)
    return pair


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
    address = client_address(request)
    await spend(services, FAILED_LOGINS_PER_IP, address)
    # Only after the address passed: a blocked address cannot create or extend an account's streak.
    known = await services.limiter.held_until(_known_key(email, address)) is not None
    account_key = f"login:account:{email}|{address}" if known else f"login:account:{email}"
    try:
        async with account_sessions.password_attempt(services, account_key):
            async with services.db.transaction(SERVICE) as conn:
                user = await accounts.user_by_email(conn, email)
            # argon2 takes tens of milliseconds: no pool connection is held while it runs, so a burst of logins
            # cannot starve the other routes of connections.
            if not await verify_password(services.login_checks, user["encrypted_password"] if user else None,
                                         data.password):
                raise InvalidCredentials()
            assert user is not None
            async with services.db.transaction(SERVICE) as conn:
                # After the password: only the account's owner learns that it is banned, and until when.
                pair = await account_sessions.sign_in(services, conn, user["id"])
                await progress.log_activity(conn, user["id"], "login", "user", user["id"], {})
    except InvalidCredentials:
        raise
    except BaseException:
        # Refused unheard (backing off, banned, a full hashing queue): no password was guessed wrong.
        await give_back(services, FAILED_LOGINS_PER_IP, address)
        raise
    await give_back(services, FAILED_LOGINS_PER_IP, address)
    await _remember_address(services, email, address)
    return pair


@post("/api/auth/refresh", status_code=HTTP_200_OK, tags=["accounts"], security=[])
async def refresh(data: JSONBody[RefreshIn], services: AppServices) -> TokenPair:
    async with services.db.transaction(SERVICE) as conn:
        pair = await account_sessions.refresh_session(services, conn, data.refresh_token)
    if pair is None:
        # Raised after the block so the family's revocation commits before the 401 goes out.
        raise TokenReused()
    return pair


@post("/api/auth/logout", status_code=HTTP_204_NO_CONTENT, tags=["accounts"])
async def logout(data: JSONBody[RefreshIn], user: Caller, services: AppServices) -> None:
    async with services.db.transaction(SERVICE) as conn:
        state = await accounts.refresh_token_state(conn, hash_refresh_token(data.refresh_token))
        if state is not None and state["user_id"] == user.user_id:
            await accounts.revoke_family(conn, state["family_id"])


@post("/api/auth/logout-all", status_code=HTTP_204_NO_CONTENT, tags=["accounts"])
async def logout_all(user: Caller, services: AppServices) -> None:
    """Signs the caller out everywhere: every refresh family ends, and every access token issued until now
    answers 401 `token_revoked` within 2 s on every instance, whose websockets of the user close with 4003.
    Behind the `ACCOUNT_REVOCATIONS` budget."""
    await account_sessions.logout_all(services, user.require_user_id())


@post("/api/auth/password", status_code=HTTP_200_OK, tags=["accounts"])
async def change_password(data: JSONBody[PasswordIn], user: Caller, services: AppServices) -> TokenPair:
    """Checks the current password (a wrong one counts against the account like a failed login, with the
    same backoff), sets the new one, revokes every refresh family and every access token issued until now
    (sockets close with 4003), and answers with a new pair so the caller stays signed in. Behind the
    `ACCOUNT_REVOCATIONS` budget."""
    return await account_sessions.change_password(services, user.require_user_id(), data.current_password,
                                                  data.new_password)


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
