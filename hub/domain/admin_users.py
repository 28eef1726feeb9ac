"""The admin API's accounts and audit log: search, ban, unban, role changes (each audited with its actor, in
the transaction of the change: `hub.domain.account_actions`), and the log itself, newest first.

An admin may not ban themselves (`hub.domain.account_actions.ban`) nor take away their own admin role (409
`conflict`): either would lock the one acting out of the admin API mid-action, and could leave the hub without
an admin. Another admin, or the command line (`hub grant`), does it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
import msgspec

from hub.domain import account_actions
from hub.errors import Conflict, NotFound, ValidationFailed
from persistence import admin_users, audit

# A ban lasts until a moment in the future, at most this far away (a "permanent" ban is a long one).
MAX_BAN = timedelta(days=36_525)
MAX_QUERY = 100

Reason = Annotated[str, msgspec.Meta(max_length=2000, pattern=r"^[^\x00]*$")]
AdminRole = Literal["admin", "host"]


class BanIn(msgspec.Struct, forbid_unknown_fields=True):
    until: Annotated[datetime, msgspec.Meta(tz=True)]
    reason: Reason | None = None


class RoleIn(msgspec.Struct, forbid_unknown_fields=True):
    role: AdminRole | None
    reason: Reason | None = None


class AdminUser(msgspec.Struct):
    id: UUID
    email: str
    full_name: str | None
    role: str | None
    banned: bool  # a ban in force now (`banned_until` in the future)
    banned_until: datetime | None
    created_at: datetime
    last_sign_in_at: datetime | None
    deleted: bool


class AuditEntry(msgspec.Struct):
    id: int
    actor_id: UUID | None  # None: the command line, or the service key (`channel.event`)
    actor_email: str | None
    action: str
    target_type: str
    target_id: str
    reason: str | None
    details: dict[str, Any]
    created_at: datetime


def admin_user(row: asyncpg.Record, now: datetime) -> AdminUser:
    until: datetime | None = row["banned_until"]
    return AdminUser(id=row["id"], email=row["email"], full_name=row["full_name"], role=row["role"],
                     banned=until is not None and until > now, banned_until=until, created_at=row["created_at"],
                     last_sign_in_at=row["last_sign_in_at"], deleted=row["deleted"])


def audit_entry(row: asyncpg.Record) -> AuditEntry:
    return AuditEntry(**dict(row))


def check_query(query: str | None) -> str | None:
    if query is None or not query.strip():
        return None
    if len(query) > MAX_QUERY or "\x00" in query:
        raise ValidationFailed({"q": f"must be at most {MAX_QUERY} characters, without NUL"})
    return query.strip()


async def user_item(conn: asyncpg.Connection, user_id: UUID, now: datetime) -> AdminUser:
    rows = await admin_users.search(conn, user_id=user_id)
    if not rows:
        raise NotFound("No such user")
    return admin_user(rows[0], now)


async def ban(conn: asyncpg.Connection, *, admin_id: UUID, user_id: UUID, data: BanIn, now: datetime) -> AdminUser:
    if not now < data.until <= now + MAX_BAN:
        raise ValidationFailed({"until": "must be in the future, at most 100 years away"})
    await account_actions.ban(conn, actor_id=admin_id, user_id=user_id, until=data.until, reason=data.reason)
    return await user_item(conn, user_id, now)


async def unban(conn: asyncpg.Connection, *, admin_id: UUID, user_id: UUID, now: datetime) -> AdminUser:
    await account_actions.unban(conn, actor_id=admin_id, user_id=user_id, reason=None)
    return await user_item(conn, user_id, now)


async def change_role(conn: asyncpg.Connection, *, admin_id: UUID, user_id: UUID, data: RoleIn,
                      now: datetime) -> AdminUser:
    if user_id == admin_id and data.role != "admin":
        raise Conflict("Admins cannot take away their own admin role")
    await account_actions.change_role(conn, actor_id=admin_id, user_id=user_id, role=data.role,
                                      reason=data.reason)
    return await user_item(conn, user_id, now)


async def audit_page(conn: asyncpg.Connection, before_id: int | None, limit: int) -> list[AuditEntry]:
    return [audit_entry(row) for row in await audit.newest(conn, before_id=before_id, limit=limit)]
