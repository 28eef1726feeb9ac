"""Profiles: the caller's own in full, and anyone's public fields."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec


class PublicProfile(msgspec.Struct):
    id: UUID
    full_name: str | None
    avatar_url: str | None
    bio: str | None
    trading_experience: str | None
    current_level: int
    total_xp: int
    created_at: datetime


class OwnProfile(msgspec.Struct):
    id: UUID
    full_name: str | None
    avatar_url: str | None
    bio: str | None
    timezone: str
    preferred_language: str
    trading_experience: str | None
    trading_goals: list[str] | None
    current_level: int
    total_xp: int
    created_at: datetime
    updated_at: datetime


def own_profile(row: asyncpg.Record) -> OwnProfile:
    return OwnProfile(**dict(row))


def public_profile(row: asyncpg.Record) -> PublicProfile:
    return PublicProfile(**dict(row))
