"""The admin API: admins only, account search and paging, bans and roles with their effects, and the audit
log recording every action newest first."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from hub.pagination import encode_cursor
from tests.helpers.api import Account, admin, login, signup
from tests.integration.test_sessions import host_account

NOBODY = uuid.uuid4()
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/admin/users", None),
    ("POST", f"/api/admin/users/{NOBODY}/ban", {"until": "2099-01-01T00:00:00Z"}),
    ("DELETE", f"/api/admin/users/{NOBODY}/ban", None),
    ("PUT", f"/api/admin/users/{NOBODY}/role", {"role": "host"}),
    ("GET", "/api/admin/audit", None),
]


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_admin_routes_answer_401_without_a_token_and_403_to_non_admins(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, method: str, path: str,
        body: dict[str, Any] | None) -> None:
    anonymous = await client.request(method, path, json=body)
    assert anonymous.status_code == 401, anonymous.text
    for account in (await signup(client), await host_account(client, owner_conn)):
        refused = await client.request(method, path, json=body, headers=account.headers)
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden"), refused.text


async def test_search_finds_by_email_or_full_name_with_wildcards_taken_literally_and_pages_newest_first(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    tag = secrets.token_hex(4)
    named = [await signup(client, email=f"search-{tag}-{n}@example.com", full_name=f"Person {n}")
             for n in range(3)]
    odd = await signup(client, email=f"odd_{tag}%@example.com", full_name=f"Zed {tag.upper()} Smith")

    def emails(page: dict[str, Any]) -> list[str]:
        return [item["email"] for item in page["items"]]

    found = (await client.get("/api/admin/users", params={"q": f"SEARCH-{tag}", "limit": 2},
                              headers=boss.headers)).json()
    assert emails(found) == [named[2].email, named[1].email]
    rest = (await client.get("/api/admin/users", params={"q": f"search-{tag}", "limit": 2,
                                                         "cursor": found["next_cursor"]}, headers=boss.headers)).json()
    assert emails(rest) == [named[0].email] and rest["next_cursor"] is None
    by_name = (await client.get("/api/admin/users", params={"q": f"zed {tag}"}, headers=boss.headers)).json()
    assert emails(by_name) == [odd.email]
    item = by_name["items"][0]
    assert set(item) == {"id", "email", "full_name", "role", "banned", "banned_until", "created_at",
                         "last_sign_in_at", "deleted"}
    assert (item["full_name"], item["role"], item["banned"], item["deleted"]) == (
        f"Zed {tag.upper()} Smith", None, False, False)
    literal = (await client.get("/api/admin/users", params={"q": f"_{tag}%"}, headers=boss.headers)).json()
    assert emails(literal) == [odd.email]
    wildcard = (await client.get("/api/admin/users", params={"q": "%"}, headers=boss.headers)).json()
    assert odd.email in emails(wildcard) and named[0].email not in emails(wildcard)
    too_long = await client.get("/api/admin/users", params={"q": "x" * 101}, headers=boss.headers)
    assert too_long.status_code == 422, too_long.text


async def test_a_ban_refuses_login_until_lifted_and_both_are_audited_newest_first(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    target = await signup(client)
    until = later(days=7)
    banned = await client.post(f"/api/admin/users/{target.user_id}/ban", headers=boss.headers,
                               json={"until": until, "reason": "spam links"})
    assert banned.status_code == 200, banned.text
    assert banned.json()["banned"] is True
    assert datetime.fromisoformat(banned.json()["banned_until"]) == datetime.fromisoformat(until)
    refused = await client.post("/api/auth/login", json={"email": target.email, "password": target.password})
    assert (refused.status_code, refused.json()["code"]) == (403, "banned")
    assert (await client.get("/api/auth/me", headers=target.headers)).json()["code"] == "token_revoked"

    lifted = await client.delete(f"/api/admin/users/{target.user_id}/ban", headers=boss.headers)
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["banned"], lifted.json()["banned_until"]) == (False, None)
    await login(client, target)

    newest = (await client.get("/api/admin/audit", params={"limit": 1}, headers=boss.headers)).json()
    older = (await client.get("/api/admin/audit", params={"limit": 1, "cursor": newest["next_cursor"]},
                              headers=boss.headers)).json()
    entries = newest["items"] + older["items"]
    assert [(e["action"], e["actor_id"], e["actor_email"], e["target_type"], e["target_id"]) for e in entries] \
        == [("user.unban", str(boss.user_id), boss.email, "user", str(target.user_id)),
            ("user.ban", str(boss.user_id), boss.email, "user", str(target.user_id))]
    assert entries[0]["id"] > entries[1]["id"]
    assert entries[1]["reason"] == "spam links"
    assert datetime.fromisoformat(entries[1]["details"]["until"]) == datetime.fromisoformat(until)


@pytest.mark.parametrize(("until", "reason"), [
    (later(seconds=-5), None), (later(days=36_600), None), ("2030-01-01T00:00:00", None),
    (later(days=1), "x" * 2001),
])
async def test_a_ban_needs_a_future_aware_until_within_100_years_and_a_short_reason(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, until: str, reason: str | None) -> None:
    boss = await admin(client, owner_conn)
    target = await signup(client)
    response = await client.post(f"/api/admin/users/{target.user_id}/ban", headers=boss.headers,
                                 json={"until": until, "reason": reason})
    assert response.status_code in (400, 422), response.text
    assert await owner_conn.fetchval("SELECT banned_until FROM auth.users WHERE id = $1", target.user_id) is None


@pytest.mark.parametrize("path", ["/api/admin/users", "/api/admin/audit"])
@pytest.mark.parametrize("cursor", [encode_cursor([[1]]), "x" * 600, encode_cursor(["not", "a", "key"])])
async def test_a_cursor_the_route_did_not_issue_is_422(client: httpx.AsyncClient, owner_conn: asyncpg.Connection,
                                                       path: str, cursor: str) -> None:
    boss = await admin(client, owner_conn)
    response = await client.get(path, params={"cursor": cursor}, headers=boss.headers)
    assert (response.status_code, response.json()["code"]) == (422, "validation_failed"), response.text


async def test_an_admin_can_neither_ban_nor_demote_themselves_and_unknown_users_are_404(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    own_ban = await client.post(f"/api/admin/users/{boss.user_id}/ban", headers=boss.headers,
                                json={"until": later(days=1)})
    assert (own_ban.status_code, own_ban.json()["code"]) == (409, "conflict")
    own_role = await client.put(f"/api/admin/users/{boss.user_id}/role", headers=boss.headers, json={"role": "host"})
    assert (own_role.status_code, own_role.json()["code"]) == (409, "conflict")
    for method, path, body in ROUTES[1:4]:
        missing = await client.request(method, path, json=body, headers=boss.headers)
        assert missing.status_code == 404, (path, missing.text)


async def test_a_role_change_revokes_the_old_token_and_the_refreshed_one_carries_the_new_role(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    target: Account = await signup(client)
    changed = await client.put(f"/api/admin/users/{target.user_id}/role", headers=boss.headers,
                               json={"role": "host", "reason": "runs workshops"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "host"
    old = await client.get("/api/auth/me", headers=target.headers)
    assert (old.status_code, old.json()["code"]) == (401, "token_revoked")
    refreshed = await client.post("/api/auth/refresh", json={"refresh_token": target.refresh_token})
    assert refreshed.json()["user"]["roles"] == ["host"]
    removed = await client.put(f"/api/admin/users/{target.user_id}/role", headers=boss.headers, json={"role": None})
    assert removed.json()["role"] is None
    bad = await client.put(f"/api/admin/users/{target.user_id}/role", headers=boss.headers, json={"role": "owner"})
    assert bad.status_code in (400, 422)
    log = (await client.get("/api/admin/audit", params={"limit": 2}, headers=boss.headers)).json()["items"]
    assert [(e["action"], e["details"]) for e in log] == [("user.role", {"role": None}),
                                                          ("user.role", {"role": "host"})]
