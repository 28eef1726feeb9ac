"""Profiles: own edits limited to user fields; others see public fields only."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from persistence.db import Database
from persistence.identity import SERVICE
from tests.helpers.api import signup
from tests.integration.test_rls import as_user, make_user


async def test_patch_profile_changes_only_given_fields_and_validates_timezone(client: httpx.AsyncClient) -> None:
    account = await signup(client, full_name="Before")
    changed = await client.patch("/api/profiles/me", json={"bio": "hi", "timezone": "Europe/Paris"},
                                 headers=account.headers)
    assert changed.status_code == 200
    body = changed.json()
    assert (body["bio"], body["timezone"], body["full_name"]) == ("hi", "Europe/Paris", "Before")
    bad = await client.patch("/api/profiles/me", json={"timezone": "Mars/Olympus"}, headers=account.headers)
    assert bad.status_code == 422
    assert bad.json()["errors"] == {"timezone": "is not an IANA time zone name"}


async def test_server_owned_profile_fields_cannot_be_patched(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    for field in ("total_xp", "current_level", "id"):
        response = await client.patch("/api/profiles/me", json={field: 5000}, headers=account.headers)
        assert response.status_code == 422, field
    assert (await client.get("/api/profiles/me", headers=account.headers)).json()["total_xp"] == 0


async def test_other_profiles_show_public_fields_only(client: httpx.AsyncClient) -> None:
    me, other = await signup(client), await signup(client, full_name="Other Person")
    response = await client.get(f"/api/profiles/{other.user_id}", headers=me.headers)
    assert response.status_code == 200
    assert response.json()["full_name"] == "Other Person"
    assert "timezone" not in response.json()
    missing = await client.get("/api/profiles/00000000-0000-0000-0000-000000000000", headers=me.headers)
    assert missing.status_code == 404


WEEK_S = 7 * 24 * 3600


async def test_the_time_zone_changes_at_most_once_a_week_after_the_first_change(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    """A streak day is a day in the profile's zone: moving the zone at will would add streak days."""
    account = await signup(client)
    first = await client.patch("/api/profiles/me", json={"timezone": "Etc/GMT+12"}, headers=account.headers)
    assert first.status_code == 200, "the first change, from the signup default, is free"
    again = await client.patch("/api/profiles/me", json={"timezone": "Pacific/Kiritimati"}, headers=account.headers)
    assert (again.status_code, again.json()["code"]) == (429, "rate_limited")
    assert WEEK_S - 120 < int(again.headers["Retry-After"]) <= WEEK_S
    same = await client.patch("/api/profiles/me", json={"timezone": "Etc/GMT+12", "bio": "still editable"},
                              headers=account.headers)
    assert (same.status_code, same.json()["bio"]) == (200, "still editable"), "the same zone is no change"

    await owner_conn.execute("UPDATE public.user_profiles SET timezone_changed_at = now() - interval '7 days' "
                             "WHERE id = $1", account.user_id)
    later = await client.patch("/api/profiles/me", json={"timezone": "Pacific/Kiritimati"}, headers=account.headers)
    assert (later.status_code, later.json()["timezone"]) == (200, "Pacific/Kiritimati")
    assert (await client.patch("/api/profiles/me", json={"timezone": "UTC"},
                               headers=account.headers)).status_code == 429


async def test_the_weekly_time_zone_rule_binds_plain_sql_too(app_db: Database, owner_conn: asyncpg.Connection) -> None:
    me = as_user(await make_user(owner_conn))
    move = "UPDATE public.my_profile SET timezone = $1 WHERE id = auth.uid()"
    async with app_db.transaction(me) as conn:
        await conn.execute(move, "Etc/GMT+12")
    with pytest.raises(asyncpg.PostgresError) as refusal:
        async with app_db.transaction(me) as conn:
            await conn.execute(move, "Pacific/Kiritimati")
    assert refusal.value.sqlstate == "HB429"
    assert WEEK_S - 120 < int(refusal.value.detail or 0) <= WEEK_S
    # the hub's own writes as service_role are not held to it
    async with app_db.transaction(SERVICE) as conn:
        await conn.execute("UPDATE public.user_profiles SET timezone = 'UTC' WHERE id = $1", me.user_id)
    assert await owner_conn.fetchval("SELECT timezone FROM public.user_profiles WHERE id = $1", me.user_id) == "UTC"
