"""Profiles: own edits limited to user fields; others see public fields only."""

from __future__ import annotations

import httpx

from tests.helpers.api import signup


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
