"""Profiles: the caller's own (read and edit), and anyone's public fields."""

from __future__ import annotations

import zoneinfo
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import get, patch
from litestar.params import FromPath, JSONBody

from hub.auth import AppServices, Caller
from hub.domain.profiles import OwnProfile, PublicProfile, own_profile, public_profile
from hub.errors import NotFound, ValidationFailed
from hub.fields import HttpUrl
from persistence import profiles

_TIMEZONES = frozenset(zoneinfo.available_timezones())

Short = Annotated[str, msgspec.Meta(max_length=200)]
Goals = Annotated[list[Short], msgspec.Meta(max_length=20)]


class ProfilePatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields present are changed; server-owned fields (XP, level) are not accepted at all."""

    full_name: Short | msgspec.UnsetType | None = msgspec.UNSET
    avatar_url: HttpUrl | msgspec.UnsetType | None = msgspec.UNSET
    bio: Annotated[str, msgspec.Meta(max_length=2000)] | msgspec.UnsetType | None = msgspec.UNSET
    timezone: Annotated[str, msgspec.Meta(max_length=64)] | msgspec.UnsetType = msgspec.UNSET
    preferred_language: Annotated[str, msgspec.Meta(min_length=2, max_length=16)] | msgspec.UnsetType = (
        msgspec.UNSET)
    trading_experience: Literal["beginner", "intermediate", "advanced", "professional"] | msgspec.UnsetType = (
        msgspec.UNSET)
    trading_goals: Goals | msgspec.UnsetType | None = msgspec.UNSET


@get("/api/profiles/me", tags=["profiles"])
async def my_profile(user: Caller, services: AppServices) -> OwnProfile:
    async with services.db.transaction(user) as conn:
        row = await profiles.own_profile(conn, user.require_user_id())
    if row is None:
        raise NotFound("Profile not found")
    return own_profile(row)


@patch("/api/profiles/me", tags=["profiles"])
async def edit_my_profile(data: JSONBody[ProfilePatch], user: Caller, services: AppServices) -> OwnProfile:
    if isinstance(data.timezone, str) and data.timezone not in _TIMEZONES:
        raise ValidationFailed({"timezone": "is not an IANA time zone name"})
    changes = msgspec.to_builtins(data)
    async with services.db.transaction(user) as conn:
        row = await profiles.patch_profile(conn, user.require_user_id(), changes)
    if row is None:
        raise NotFound("Profile not found")
    return own_profile(row)


@get("/api/profiles/{user_id:uuid}", tags=["profiles"])
async def profile(user_id: FromPath[UUID], user: Caller, services: AppServices) -> PublicProfile:
    async with services.db.transaction(user) as conn:
        row = await profiles.public_profile(conn, user_id)
    if row is None:
        raise NotFound("Profile not found")
    return public_profile(row)


ROUTES = [my_profile, edit_my_profile, profile]
