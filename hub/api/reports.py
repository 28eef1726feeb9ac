"""Reports: users report posts, comments, chat lines and users; admins work through the queue.

`POST /api/reports` files one (201, 409 `already_reported`, 404 for what the reporter cannot see, 422 for
their own account or content), behind the `REPORTS` budget; an `Idempotency-Key` retry gets its 201 back.
`GET /api/admin/reports` is the queue grouped by target, newest report first;
`POST /api/admin/reports/{id}/resolve` decides for every open report of that report's target
(`hub.domain.reports`).
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Annotated, Literal
from uuid import UUID

import asyncpg
import msgspec
from litestar import Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from hub.auth import AppServices, Caller, admin_only, require_verified
from hub.budgets import REPORTS, spend
from hub.domain.account_actions import revoking
from hub.domain.community import NO_NUL
from hub.domain.reports import (
    Action,
    Reason,
    ReportGroup,
    ReportView,
    Resolution,
    TargetType,
    file_report,
    queue,
    resolve,
)
from hub.idempotency import IdempotencyKey, create_once
from hub.pagination import Aware, CursorQuery, Page, check_limit, cursor_key
from hub.rules.periods import utc_datetime
from persistence.identity import SERVICE

Text = Annotated[str, msgspec.Meta(max_length=1000, pattern=NO_NUL)]


class ReportIn(msgspec.Struct, forbid_unknown_fields=True):
    target_type: TargetType
    target_id: UUID
    reason: Reason
    details: Text | None = None


class ResolveIn(msgspec.Struct, forbid_unknown_fields=True):
    action: Action
    note: Text | None = None


@post("/api/reports", status_code=201, tags=["moderation"])
async def create_report(data: JSONBody[ReportIn], user: Caller, services: AppServices,
                        idempotency_key: IdempotencyKey = None) -> Response[ReportView]:
    require_verified(services, user)
    async def create(conn: asyncpg.Connection) -> ReportView:
        return await file_report(conn, user, data.target_type, data.target_id, data.reason, data.details,
                                 hide_threshold=services.settings.report_hide_threshold,
                                 hide_min_account_age=timedelta(
                                     hours=services.settings.report_hide_min_account_age_hours))

    return await create_once(services.db, user, idempotency_key, "POST /api/reports", data, create,
                             charge=partial(spend, services, REPORTS, str(user.require_user_id())))


@get("/api/admin/reports", tags=["moderation"], guards=[admin_only])
async def report_queue(
    user: Caller,
    services: AppServices,
    status: Annotated[Literal["open", "resolved"], QueryParameter()] = "open",
    limit: Annotated[int | None, QueryParameter()] = None,
    cursor: CursorQuery = None,
) -> Page[ReportGroup]:
    """Grouped by target, the target with the newest report first; the cursor is (newest report, target)."""
    size = check_limit(limit)
    after = cursor_key(cursor, tuple[Aware, UUID])
    async with services.db.transaction(SERVICE) as conn:
        return await queue(conn, status, after, size)


@post("/api/admin/reports/{report_id:uuid}/resolve", status_code=200, tags=["moderation"], guards=[admin_only])
async def resolve_report(report_id: FromPath[UUID], data: JSONBody[ResolveIn], user: Caller,
                         services: AppServices) -> Resolution:
    async with revoking(services) as conn:  # ban_author revokes the author's tokens
        return await resolve(conn, user, report_id, data.action, data.note, now=utc_datetime(services.clock()),
                             ban_days=services.settings.report_ban_days)


ROUTES = [create_report, report_queue, resolve_report]
