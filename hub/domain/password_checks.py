"""The signed-in user's current password, asked again before a sensitive change (password, email, deletion)."""

from __future__ import annotations

from functools import partial
from uuid import UUID

import asyncpg

from hub.errors import InvalidCredentials, RateLimited, Unauthorized
from hub.passwords import verify_password
from hub.rules.login_backoff import login_wait
from hub.services import Services
from persistence import accounts
from persistence.identity import SERVICE


async def check_current_password(services: Services, user_id: UUID, password: str) -> asyncpg.Record:
    """The account's row when `password` is its password. A wrong one is 401 `invalid_credentials` and counts
    against the account with the login backoff (one streak for every route that asks: a thief holding a
    token cannot guess through one route after another); 429 while the backoff lasts."""
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
        if not await verify_password(services.login_checks, row["encrypted_password"], password):
            wrong_password = True
            raise InvalidCredentials("The current password is wrong")
    except BaseException:
        if not wrong_password:
            await limiter.undo_attempt(key)
        raise
    await limiter.end_streak(key)
    return row
