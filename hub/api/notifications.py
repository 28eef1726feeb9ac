"""The notification inbox and its email preferences (`hub.domain.notifications`): `GET /api/notifications`,
`POST /api/notifications/read`, `GET`/`PATCH /api/me/notification-settings`."""

from __future__ import annotations

from typing import Annotated

from litestar import get, patch, post
from litestar.params import JSONBody, QueryParameter

from hub.auth import AppServices, Caller
from hub.domain.notifications import (
    MarkedRead,
    MarkRead,
    NotificationSettings,
    NotificationSettingsPatch,
    NotificationView,
    change_settings,
    inbox,
    mark_read,
    settings_of,
)
from hub.pagination import CursorQuery, Page, check_limit


@get("/api/notifications", tags=["notifications"])
async def list_notifications(user: Caller, services: AppServices,
                             unread: Annotated[bool, QueryParameter()] = False,
                             limit: Annotated[int | None, QueryParameter()] = None,
                             cursor: CursorQuery = None) -> Page[NotificationView]:
    """The caller's notifications, newest first (`unread=true`: the unread ones only); keyset-paginated,
    at most 100 a page."""
    size = check_limit(limit)
    async with services.db.transaction(user) as conn:
        return await inbox(conn, user, unread_only=unread, cursor=cursor, limit=size)


@post("/api/notifications/read", status_code=200, tags=["notifications"])
async def read_notifications(data: JSONBody[MarkRead], user: Caller, services: AppServices) -> MarkedRead:
    """Marks `ids` (at most 100) or, with `all: true`, every unread notification of the caller read."""
    async with services.db.transaction(user) as conn:
        return await mark_read(conn, user, data)


@get("/api/me/notification-settings", tags=["notifications"])
async def notification_settings(user: Caller, services: AppServices) -> NotificationSettings:
    async with services.db.transaction(user) as conn:
        return await settings_of(conn, user.require_user_id())


@patch("/api/me/notification-settings", tags=["notifications"])
async def edit_notification_settings(data: JSONBody[NotificationSettingsPatch], user: Caller,
                                     services: AppServices) -> NotificationSettings:
    """Switches email on or off per kind; kinds left out keep their setting, an unknown kind is a 422."""
    async with services.db.transaction(user) as conn:
        return await change_settings(conn, user.require_user_id(), data)


ROUTES = [list_notifications, read_notifications, notification_settings, edit_notification_settings]
