"""The caller's own data: `GET /api/me/export` and `DELETE /api/me` (`hub.domain.account_data`)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import delete, get
from litestar.params import JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from hub.auth import AppServices, Caller
from hub.budgets import EXPORTS, spend
from hub.domain import account_data
from hub.domain.account_data import AccountExport


class DeleteIn(msgspec.Struct, forbid_unknown_fields=True):
    password: Annotated[str, msgspec.Meta(max_length=256)]


@get("/api/me/export", tags=["accounts"])
async def export_account(user: Caller, services: AppServices) -> AccountExport:
    """Everything stored about the caller as one document: account, profile, streak, and sections of rows
    (progress, achievements, leaderboard entries, activity log, posts, comments, votes, registrations, session
    messages, subscriptions, reports filed, blocks), each at most `EXPORT_SECTION_ROWS` newest rows with a
    `truncated` flag. At most `EXPORT_RATE_PER_HOUR` per user (429 `rate_limited`)."""
    user_id = user.require_user_id()
    await spend(services, EXPORTS, str(user_id))
    return await account_data.export(services, user_id)


@delete("/api/me", status_code=HTTP_204_NO_CONTENT, tags=["accounts"])
async def delete_me(data: JSONBody[DeleteIn], user: Caller, services: AppServices) -> None:
    """Deletes the caller's account for good after checking the password (401 `invalid_credentials`):
    Stripe subscriptions are cancelled, personal data removed, content kept as "deleted user", every token
    revoked and every live socket closed (4003)."""
    await account_data.delete_account(services, user.require_user_id(), data.password)


ROUTES = [export_account, delete_me]
