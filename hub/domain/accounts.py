"""Accounts as the API shows them: the signed-in user (account, profile, level, XP, roles, subscription)
and the token pair that signup, login and refresh answer with."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from hub.domain.profiles import OwnProfile, own_profile
from persistence import accounts, notifications, profiles


class SubscriptionSummary(msgspec.Struct):
    """The user's active or trialing subscription with its plan's name and level limit."""

    id: UUID
    status: str
    current_period_end: datetime | None
    trial_end: datetime | None
    cancel_at_period_end: bool
    plan_id: UUID
    plan_name: str
    level_access_limit: int


class UserView(msgspec.Struct):
    id: UUID
    email: str
    created_at: datetime
    email_confirmed_at: datetime | None  # null until the mailed verification link comes back
    app_metadata: dict[str, Any]
    user_metadata: dict[str, Any]
    roles: list[str]
    profile: OwnProfile | None
    level: int
    total_xp: int
    subscription: SubscriptionSummary | None
    level_access_limit: int
    unread_notifications: int


class TokenPair(msgspec.Struct):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    expires_at: int
    user: UserView


def roles_of(app_metadata: dict[str, Any]) -> list[str]:
    role = app_metadata.get("role")
    return [role] if role in ("admin", "host") else []


async def user_view(conn: asyncpg.Connection, user: asyncpg.Record, free_tier_level: int) -> UserView:
    """The user as `GET /api/auth/me` shows it."""
    app_metadata = accounts.metadata(user["raw_app_meta_data"])
    profile = await profiles.own_profile(conn, user["id"])
    subscription = await profiles.subscription_summary(conn, user["id"])
    return UserView(
        id=user["id"],
        email=user["email"],
        created_at=user["created_at"],
        email_confirmed_at=user["email_confirmed_at"],
        app_metadata=app_metadata,
        user_metadata=accounts.metadata(user["raw_user_meta_data"]),
        roles=roles_of(app_metadata),
        profile=own_profile(profile) if profile else None,
        level=profile["current_level"] if profile else 1,
        total_xp=profile["total_xp"] if profile else 0,
        subscription=SubscriptionSummary(**dict(subscription)) if subscription else None,
        level_access_limit=subscription["level_access_limit"] if subscription else free_tier_level,
        unread_notifications=await notifications.unread_count(conn, user["id"]),
    )
