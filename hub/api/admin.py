"""The admin API: accounts (search, ban, unban, role) and the audit log. Admins only (the `admin_only`
guard, checked before the request's body is read): 401 without a token, 403 `forbidden` for everyone else.
Each change is audited with its actor in its own transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from hub.auth import AppServices, Caller, admin_only
from hub.domain import account_actions, admin_users
from hub.domain.admin_users import AdminUser, AuditEntry, BanIn, RoleIn
from hub.pagination import Aware, CursorQuery, Page, check_limit, cursor_key, page_of
from hub.services import Services
from persistence import admin_users as user_search
from persistence.identity import SERVICE

AuditId = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]


def _now(services: Services) -> datetime:
    return datetime.fromtimestamp(services.clock(), UTC)


@get("/api/admin/users", tags=["admin"], guards=[admin_only])
async def list_users(
    user: Caller,
    services: AppServices,
    q: Annotated[str | None, QueryParameter(max_length=admin_users.MAX_QUERY)] = None,
    cursor: CursorQuery = None,
    limit: FromQuery[int | None] = None,
) -> Page[AdminUser]:
    """Accounts whose email or full name contains `q` (case-insensitive, `%` and `_` taken literally),
    deleted ones included, newest first."""
    query = admin_users.check_query(q)
    size = check_limit(limit)
    after = cursor_key(cursor, tuple[Aware, UUID])
    now = _now(services)
    async with services.db.transaction(SERVICE) as conn:
        rows = await user_search.search(conn, query=query, after=after, limit=size + 1)
    return page_of([admin_users.admin_user(row, now) for row in rows], size,
                   lambda item: [item.created_at.isoformat(), str(item.id)])


@post("/api/admin/users/{user_id:uuid}/ban", status_code=200, tags=["admin"], guards=[admin_only])
async def ban_user(user_id: FromPath[UUID], data: JSONBody[BanIn], user: Caller,
                   services: AppServices) -> AdminUser:
    """Bans until `until` (future, at most 100 years away): login and refresh answer 403 `banned`, the
    user's access tokens 401 `token_revoked`, their refresh tokens end, and their websockets close with 4003,
    on every instance."""
    async with account_actions.revoking(services) as conn:
        return await admin_users.ban(conn, admin_id=user.require_user_id(), user_id=user_id, data=data,
                                     now=_now(services))


@delete("/api/admin/users/{user_id:uuid}/ban", status_code=200, tags=["admin"], guards=[admin_only])
async def unban_user(user_id: FromPath[UUID], user: Caller, services: AppServices) -> AdminUser:
    """Lifts the ban; the sessions it ended stay ended: neither its access tokens nor its refresh tokens work
    again (the user signs in again)."""
    async with services.db.transaction(SERVICE) as conn:
        return await admin_users.unban(conn, admin_id=user.require_user_id(), user_id=user_id,
                                       now=_now(services))


@put("/api/admin/users/{user_id:uuid}/role", tags=["admin"], guards=[admin_only])
async def set_role(user_id: FromPath[UUID], data: JSONBody[RoleIn], user: Caller,
                   services: AppServices) -> AdminUser:
    """`admin`, `host` or null: the user's older tokens stop counting (the next refresh carries the new
    role); their websockets stay, losing the subscriptions the new role does not allow."""
    async with account_actions.revoking(services) as conn:
        return await admin_users.change_role(conn, admin_id=user.require_user_id(), user_id=user_id,
                                             data=data, now=_now(services))


@get("/api/admin/audit", tags=["admin"], guards=[admin_only])
async def audit_log(user: Caller, services: AppServices, cursor: CursorQuery = None,
                    limit: FromQuery[int | None] = None) -> Page[AuditEntry]:
    """Every admin action, newest first."""
    size = check_limit(limit)
    after = cursor_key(cursor, tuple[AuditId])
    async with services.db.transaction(SERVICE) as conn:
        entries = await admin_users.audit_page(conn, after[0] if after else None, size + 1)
    return page_of(entries, size, lambda entry: [entry.id])


ROUTES = [list_users, ban_user, unban_user, set_role, audit_log]
