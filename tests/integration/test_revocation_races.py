"""Revocations racing token issuing, ordered deterministically with locks held from the owner's connection in
an open transaction: an issuer that waits on a ban is refused, a refresh that a logout-all waits on leaves no
live refresh token, tokens carry the database's clock, a ban ends refresh families (so an unban revives none),
every revoking route forgets its own cached cutoff at once, and the admin routes refuse non-admins before
reading their body."""

from __future__ import annotations

import asyncio
import time
import types
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import jwt
import pytest

from hub.services import Services
from hub.tokens import hash_refresh_token
from tests.conftest import HubStarter
from tests.helpers.api import Account, admin, login, signup
from tests.helpers.eventually import eventually
from tests.integration.test_reports import report, resolve


async def waiting_on_locks(owner_conn: asyncpg.Connection, count: int = 1) -> bool:
    """Whether `count` backends of this database wait on a lock (the owner's, or one another's)."""
    await owner_conn.execute("SELECT pg_stat_clear_snapshot()")  # read afresh inside the open transaction
    waiting: int = await owner_conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
    return waiting >= count


@asynccontextmanager
async def held(owner_conn: asyncpg.Connection, statement: str, *args: Any) -> AsyncIterator[None]:
    """Runs `statement` in a transaction that stays open (its locks held) until the block ends, then commits."""
    async with owner_conn.transaction():
        await owner_conn.execute(statement, *args)
        yield


async def me_status(client: httpx.AsyncClient, token: str) -> tuple[int, str | None]:
    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, None if response.status_code == 200 else response.json()["code"]


def login_body(account: Account) -> dict[str, str]:
    return {"email": account.email, "password": account.password}


async def issuer_waits_on_ban(client: httpx.AsyncClient, owner_conn: asyncpg.Connection, account: Account,
                              path: str, body: dict[str, str]) -> httpx.Response:
    """`path` requested while a ban of `account`, written in SQL, holds the user's row uncommitted; the ban
    commits once the request waits on it (or has answered without waiting)."""
    async with held(owner_conn, "UPDATE auth.users SET banned_until = now() + interval '1 day' WHERE id = $1",
                    account.user_id):
        issuing = asyncio.create_task(client.post(path, json=body))

        async def waits_or_answered() -> bool:
            return issuing.done() or await waiting_on_locks(owner_conn)

        await eventually(waits_or_answered, what=f"{path} waiting on the ban's lock")
    return await issuing


async def test_a_login_that_waits_on_a_ban_is_refused_as_banned(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    account = await signup(client)
    answer = await issuer_waits_on_ban(client, owner_conn, account, "/api/auth/login", login_body(account))
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "banned"


async def test_a_refresh_that_waits_on_a_ban_is_refused_as_banned(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    account = await signup(client)
    answer = await issuer_waits_on_ban(client, owner_conn, account, "/api/auth/refresh",
                                       {"refresh_token": account.refresh_token})
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "banned"


async def test_a_refresh_that_a_logout_all_waits_on_leaves_no_live_refresh_token(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    account = await signup(client)
    # The refresh stops at its answer's profile read, after it inserted its new token, uncommitted; the
    # logout-all then comes in and must wait for it, and end the new token too.
    async with held(owner_conn, "LOCK TABLE public.my_profile IN ACCESS EXCLUSIVE MODE"):
        refreshing = asyncio.create_task(
            client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token}))
        await eventually(lambda: waiting_on_locks(owner_conn), what="the refresh waiting on the profile lock")
        ending = asyncio.create_task(client.post("/api/auth/logout-all", headers=account.headers))
        await eventually(lambda: waiting_on_locks(owner_conn, 2), what="the logout-all waiting on the refresh")
    refreshed, ended = await refreshing, await ending
    assert (refreshed.status_code, ended.status_code) == (200, 204), (refreshed.text, ended.text)
    again = await client.post("/api/auth/refresh", json={"refresh_token": refreshed.json()["refresh_token"]})
    assert again.status_code == 401, "the refresh token issued just before the logout-all ended with it"
    assert await me_status(client, refreshed.json()["access_token"]) == (401, "token_revoked")


async def test_a_refresh_waiting_on_the_account_row_is_issued_after_the_lock_is_released(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    account = await signup(client)
    async with held(owner_conn, "SELECT 1 FROM auth.users WHERE id = $1 FOR UPDATE", account.user_id):
        refreshing = asyncio.create_task(
            client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token}))

        async def waits_or_answered() -> bool:
            return refreshing.done() or await waiting_on_locks(owner_conn)

        await eventually(waits_or_answered, what="the refresh waiting on the account's row")
        released_us: int = await owner_conn.fetchval(
            "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint")
    refreshed = await refreshing
    assert refreshed.status_code == 200, refreshed.text
    claims = jwt.decode(refreshed.json()["access_token"], options={"verify_signature": False})
    assert claims["iat_us"] > released_us, "the issue time is read from the database once the lock is held"


async def test_tokens_carry_the_databases_clock_not_the_instances(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    account = await signup(client)
    await owner_conn.fetchval("SELECT private.revoke_tokens($1, 'revoked')", account.user_id)
    # This instance's clock lags the database's by a minute: a token stamped with it would be older than the
    # cutoff just set, and revoked at birth.
    lagging = types.SimpleNamespace(time=time.time, time_ns=lambda: time.time_ns() - 60 * 10**9)
    monkeypatch.setattr("hub.tokens.time", lagging)
    fresh = await login(client, account)
    assert await me_status(client, fresh.access_token) == (200, None)
    refreshed = await client.post("/api/auth/refresh", json={"refresh_token": fresh.refresh_token})
    assert await me_status(client, refreshed.json()["access_token"]) == (200, None)


async def test_refresh_tokens_from_before_a_ban_are_dead_after_the_unban(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss, victim = await admin(client, owner_conn), await signup(client)
    banned = await client.post(f"/api/admin/users/{victim.user_id}/ban", headers=boss.headers,
                               json={"until": "2099-01-01T00:00:00Z"})
    assert banned.status_code == 200, banned.text
    assert (await client.delete(f"/api/admin/users/{victim.user_id}/ban", headers=boss.headers)).status_code == 200
    old = await client.post("/api/auth/refresh", json={"refresh_token": victim.refresh_token})
    assert old.status_code == 401, old.text
    await login(client, victim)


async def test_an_admin_cannot_ban_themselves_through_the_report_queue(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss, reporter = await admin(client, owner_conn), await signup(client)
    filed = await report(client, reporter.headers, "user", boss.user_id)
    assert filed.status_code == 201, filed.text
    refused = await resolve(client, boss, filed.json()["id"], "ban_author")
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "conflict"
    assert await owner_conn.fetchval("SELECT banned_until FROM auth.users WHERE id = $1", boss.user_id) is None


async def test_every_revoking_route_forgets_its_own_cached_cutoff_at_once(
        start_hub: HubStarter, owner_conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    app = start_hub.app()
    services: Services = app.state.services
    # Notes are dropped on this instance: only a route forgetting what it revoked keeps its cache right.
    monkeypatch.setattr(services.cutoffs, "noted", lambda note: None)
    with start_hub.serve(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            boss = await admin(http, owner_conn)
            author, reporter, renamed, leaving, resetting, deleting = [await signup(http) for _ in range(6)]
            revoked = (author, renamed, leaving, resetting, deleting)
            for account in revoked:
                assert await me_status(http, account.access_token) == (200, None)  # cached: no cutoff
            filed = await report(http, reporter.headers, "user", author.user_id)
            assert (await resolve(http, boss, filed.json()["id"], "ban_author")).status_code == 200
            role = await http.put(f"/api/admin/users/{renamed.user_id}/role", headers=boss.headers,
                                  json={"role": "host"})
            assert role.status_code == 200, role.text
            assert (await http.post("/api/auth/logout-all", headers=leaving.headers)).status_code == 204
            # A mailed reset link's token, stored as the recovery route stores it.
            await owner_conn.execute(
                "UPDATE auth.users SET recovery_token = $2, recovery_sent_at = now() WHERE id = $1",
                resetting.user_id, hash_refresh_token("a reset link's token"))
            reset = await http.post("/api/auth/reset", json={"token": "a reset link's token",
                                                             "password": "a new password 2"})
            assert reset.status_code == 200, reset.text
            deleted = await http.request("DELETE", "/api/me", json={"password": deleting.password},
                                         headers=deleting.headers)
            assert deleted.status_code == 204, deleted.text
            for account in revoked:
                assert await me_status(http, account.access_token) == (401, "token_revoked")


_ADMIN_ROUTES = [
    ("GET", "/api/admin/users?limit=nope"),
    ("POST", "/api/admin/users/{user}/ban"),
    ("DELETE", "/api/admin/users/{user}/ban"),
    ("PUT", "/api/admin/users/{user}/role"),
    ("GET", "/api/admin/audit?limit=nope"),
    ("GET", "/api/admin/reports?status=nope"),
    ("POST", "/api/admin/reports/{user}/resolve"),
]


@pytest.mark.parametrize(("method", "path"), _ADMIN_ROUTES)
async def test_a_non_admin_with_a_malformed_request_is_forbidden_on_every_admin_route(
        client: httpx.AsyncClient, method: str, path: str) -> None:
    user = await signup(client)
    url = path.format(user=user.user_id)
    answer = await client.request(method, url, headers={**user.headers, "Content-Type": "application/json"},
                                  content=b'{"role": 7, "until": "yesterday"')
    assert (answer.status_code, answer.json()["code"]) == (403, "forbidden"), answer.text
    assert (await client.request(method, url, content=b"{")).status_code == 401


async def test_logout_all_and_password_changes_share_a_per_user_budget(start_hub: HubStarter) -> None:
    namespace = start_hub.new_namespace("revocations")
    with start_hub(rate_limit_scale=1, namespace=namespace, account_revocations_per_hour=2) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            account = await signup(http)
            assert (await http.post("/api/auth/logout-all", headers=account.headers)).status_code == 204
            account = await login(http, account)
            changed = await http.post("/api/auth/password", headers=account.headers,
                                      json={"current_password": account.password, "new_password": "another horse 2"})
            assert changed.status_code == 200, changed.text
            headers = {"Authorization": f"Bearer {changed.json()['access_token']}"}
            refused = await http.post("/api/auth/logout-all", headers=headers)
            assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
            other = await signup(http)
            assert (await http.post("/api/auth/logout-all", headers=other.headers)).status_code == 204


async def test_blocks_and_unblocks_share_a_per_user_budget(start_hub: HubStarter) -> None:
    namespace = start_hub.new_namespace("blocks")
    with start_hub(rate_limit_scale=1, namespace=namespace, blocks_per_hour=2) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            blocker, target = await signup(http), await signup(http)
            path = f"/api/users/{target.user_id}/block"
            assert (await http.post(path, headers=blocker.headers)).status_code == 204
            assert (await http.delete(path, headers=blocker.headers)).status_code in (200, 204)
            refused = await http.post(path, headers=blocker.headers)
            assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")

