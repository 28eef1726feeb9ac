"""Account state on one instance: banned and deleted accounts cannot sign in or refresh, revoked tokens answer
401 `token_revoked` on REST and at websocket `auth`, logout-all and password changes end every older
session, the cutoff is finer than a second, `hub grant` revokes too, and a socket whose instance missed the
note (listener connection lost) is still closed once it listens again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import jwt

from hub.realtime.instance import Realtime
from tests.conftest import HubStarter
from tests.helpers.api import Account, login, signup
from tests.helpers.eventually import eventually
from tests.helpers.services import DatabaseUnderTest
from tests.helpers.ws import ProtocolClient
from tests.integration.test_cli import hub_command
from tests.integration.test_sessions import TOKENS


async def revoke(owner_conn: asyncpg.Connection, user_id: UUID) -> datetime:
    cutoff: datetime = await owner_conn.fetchval("SELECT private.revoke_tokens($1, 'revoked')", user_id)
    return cutoff


async def me_status(client: httpx.AsyncClient, token: str) -> tuple[int, str | None]:
    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json().get("code") if response.status_code != 200 else None


def token_at(account: Account, moment: datetime) -> str:
    token, _ = TOKENS.issue_access(user_id=account.user_id, email=account.email, app_metadata={}, user_metadata={},
                                   session_id=uuid.uuid4(), now=moment.timestamp())
    return token


async def test_a_banned_account_cannot_log_in_or_refresh_and_signs_in_afresh_once_the_ban_ends(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    account = await signup(client)
    until = datetime.now(UTC) + timedelta(days=3)
    await owner_conn.execute("UPDATE auth.users SET banned_until = $2 WHERE id = $1", account.user_id, until)

    refused = await client.post("/api/auth/login", json={"email": account.email, "password": account.password})
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "banned"
    assert datetime.fromisoformat(refused.json()["until"]) == until
    wrong = await client.post("/api/auth/login", json={"email": account.email, "password": "not the password"})
    assert wrong.json()["code"] == "invalid_credentials", "only the password's owner learns of the ban"
    refresh = await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert (refresh.status_code, refresh.json()["code"]) == (403, "banned")

    await owner_conn.execute("UPDATE auth.users SET banned_until = now() - interval '1 second' WHERE id = $1",
                             account.user_id)
    # The ban, written in SQL, ended the sessions from before it (migration 0027): only a new login works.
    assert (await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})).status_code == 401
    await login(client, account)


async def test_a_write_the_database_refuses_for_a_ban_the_hub_has_not_revoked_answers_token_revoked(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    """A ban set in the database without a revocation (Supabase's dashboard) passes the hub's cutoff check,
    and the schema's guard (migration 0029) refuses the write: 401 `token_revoked`, nothing written, no 500."""
    account = await signup(client)
    await owner_conn.execute("UPDATE auth.users SET banned_until = now() + interval '1 hour' WHERE id = $1",
                             account.user_id)
    refused = await client.post("/api/posts", json={"title": "after the ban"}, headers=account.headers)
    assert (refused.status_code, refused.json()["code"]) == (401, "token_revoked")
    assert await owner_conn.fetchval("SELECT count(*) FROM public.community_posts WHERE author_id = $1",
                                     account.user_id) == 0
    edit = await client.patch("/api/profiles/me", json={"bio": "after the ban"}, headers=account.headers)
    assert (edit.status_code, edit.json()["code"]) == (401, "token_revoked")


async def test_a_deleted_account_is_unknown_to_login_and_refresh_and_its_tokens_are_revoked(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    account = await signup(client)
    assert await me_status(client, account.access_token) == (200, None)
    await owner_conn.execute("UPDATE auth.users SET deleted_at = now() WHERE id = $1", account.user_id)

    # Deleted outside the hub: the instance learns of it through the note only (its cached cutoff has no
    # expiry), so any deadline proves the note; the 2 s contract is not a busy test machine's to time.
    async def revoked() -> bool:
        return await me_status(client, account.access_token) == (401, "token_revoked")

    await eventually(revoked, what="the deleted account's token answering token_revoked")
    refused = await client.post("/api/auth/login", json={"email": account.email, "password": account.password})
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_credentials")
    refresh = await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert (refresh.status_code, refresh.json()["code"]) == (401, "unauthorized")


async def test_a_token_issued_just_before_a_revocation_fails_and_one_just_after_in_the_same_second_works(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    account = await signup(client)
    cutoff = await revoke(owner_conn, account.user_id)
    while cutoff.microsecond in (0, 999_999):  # one microsecond either side must stay in the cutoff's second
        cutoff = await revoke(owner_conn, account.user_id)
    before = token_at(account, cutoff - timedelta(microseconds=1))
    after = token_at(account, cutoff + timedelta(microseconds=1))
    assert jwt.decode(before, options={"verify_signature": False})["iat"] == \
        jwt.decode(after, options={"verify_signature": False})["iat"]

    assert await me_status(client, before) == (401, "token_revoked")
    assert await me_status(client, after) == (200, None)
    assert await me_status(client, token_at(account, cutoff)) == (401, "token_revoked")


async def test_logout_all_revokes_every_access_token_and_refresh_family_and_a_new_login_works(
        client: httpx.AsyncClient) -> None:
    account = await signup(client)
    first = (account.access_token, account.refresh_token)
    second = await login(client, account)
    response = await client.post("/api/auth/logout-all", headers=second.headers)
    assert response.status_code == 204, response.text

    for access, refresh in (first, (second.access_token, second.refresh_token)):
        assert await me_status(client, access) == (401, "token_revoked")
        refused = await client.post("/api/auth/refresh", json={"refresh_token": refresh})
        assert refused.status_code == 401, refused.text
    fresh = await login(client, account)
    assert await me_status(client, fresh.access_token) == (200, None)
    assert (await client.post("/api/auth/logout-all")).status_code == 401


async def test_a_token_the_hub_keeps_verified_is_refused_once_revoked_here_or_elsewhere(
        start_hub: HubStarter, owner_conn: asyncpg.Connection) -> None:
    """REST keeps verified tokens as their identities (`TokenService.identity`); the account's cutoff is still
    checked on every request, so a kept token is refused at once after a revocation this instance committed,
    and once the note arrives after one committed elsewhere."""
    app = start_hub.app()
    with start_hub.serve(app) as url:
        kept = app.state.services.tokens._verified
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            account = await signup(http)
            other = await login(http, account)
            assert await me_status(http, account.access_token) == (200, None)
            assert account.access_token in kept
            response = await http.post("/api/auth/logout-all", headers=other.headers)
            assert response.status_code == 204, response.text
            assert other.access_token in kept
            assert await me_status(http, account.access_token) == (401, "token_revoked")
            assert await me_status(http, other.access_token) == (401, "token_revoked")

            fresh = await login(http, account)
            assert await me_status(http, fresh.access_token) == (200, None)
            assert fresh.access_token in kept
            await revoke(owner_conn, account.user_id)  # committed outside this instance: it learns by note
            await eventually(lambda: me_is(http, fresh.access_token, 401), what="the kept token refused")
            assert await me_status(http, fresh.access_token) == (401, "token_revoked")


async def test_a_refresh_after_a_revocation_yields_a_working_token(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    account = await signup(client)
    await revoke(owner_conn, account.user_id)
    assert await me_status(client, account.access_token) == (401, "token_revoked")
    refreshed = await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert refreshed.status_code == 200, refreshed.text
    assert await me_status(client, refreshed.json()["access_token"]) == (200, None)


async def test_a_password_change_needs_the_current_password_then_ends_every_other_session(
        client: httpx.AsyncClient) -> None:
    account = await signup(client)
    other = await client.post("/api/auth/login", json={"email": account.email, "password": account.password})
    other_refresh = other.json()["refresh_token"]

    wrong = await client.post("/api/auth/password", headers=account.headers,
                              json={"current_password": "not it at all", "new_password": "a brand new one"})
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_credentials")
    short = await client.post("/api/auth/password", headers=account.headers,
                              json={"current_password": account.password, "new_password": "short"})
    assert short.status_code == 422

    changed = await client.post("/api/auth/password", headers=account.headers,
                                json={"current_password": account.password, "new_password": "a brand new one"})
    assert changed.status_code == 200, changed.text
    pair: dict[str, Any] = changed.json()
    assert await me_status(client, pair["access_token"]) == (200, None)
    assert await me_status(client, account.access_token) == (401, "token_revoked")
    assert await me_status(client, other.json()["access_token"]) == (401, "token_revoked")
    for refresh in (account.refresh_token, other_refresh):
        assert (await client.post("/api/auth/refresh", json={"refresh_token": refresh})).status_code == 401
    assert (await client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})).status_code == 200
    old = await client.post("/api/auth/login", json={"email": account.email, "password": account.password})
    assert old.status_code == 401
    account.password = "a brand new one"
    await login(client, account)


async def test_a_websocket_auth_with_a_revoked_token_is_refused_with_4003(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    account = await signup(client)
    await revoke(owner_conn, account.user_id)
    ws = await ProtocolClient.open(hub_url)
    reply = await ws.request({"op": "auth", "token": account.access_token})
    assert reply["error"]["code"] == "token_revoked"
    assert await ws.wait_closed() == 4003


async def test_a_re_auth_with_a_revoked_token_closes_the_socket_with_4003(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    account = await signup(client)
    old_token = account.access_token
    cutoff = await revoke(owner_conn, account.user_id)
    fresh = token_at(account, cutoff + timedelta(microseconds=1))
    ws = await ProtocolClient.open(hub_url, fresh)
    reply = await ws.request({"op": "auth", "token": old_token})
    assert reply["error"]["code"] == "token_revoked"
    assert await ws.wait_closed() == 4003


async def test_hub_grant_revokes_the_older_tokens_and_is_audited_without_an_actor(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, test_db: DatabaseUnderTest) -> None:
    account = await signup(client)
    granted = hub_command(test_db, "grant", account.email, "host")
    assert granted.returncode == 0, granted.stderr
    await eventually(lambda: me_is(client, account.access_token, 401), what="the old token answering 401 (a note)")
    refreshed = await client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert refreshed.json()["user"]["roles"] == ["host"]
    row = await owner_conn.fetchrow(
        "SELECT actor_id, action, details FROM private.admin_audit WHERE target_id = $1 ORDER BY id DESC LIMIT 1",
        str(account.user_id))
    assert (row["actor_id"], row["action"]) == (None, "user.role")


async def me_is(client: httpx.AsyncClient, token: str, status: int) -> bool:
    return (await me_status(client, token))[0] == status


async def test_a_socket_whose_instance_missed_the_note_is_closed_once_the_listener_listens_again(
        start_hub: HubStarter, client: httpx.AsyncClient, owner_conn: asyncpg.Connection,
        test_db: DatabaseUnderTest) -> None:
    account = await signup(client)
    app = start_hub.app()
    with start_hub.serve(app) as url:
        realtime = app.state.services.started.get(Realtime)
        ws = await ProtocolClient.open(url, account.access_token)
        assert (await ws.subscribe("feed"))["ok"]
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            assert await me_status(http, account.access_token) == (200, None)
            database = await owner_conn.fetchval("SELECT current_database()")
            # New connections of the app's role to this database are refused (superusers are exempt), so the
            # listener stays down: the revocation below commits while nobody on this instance listens.
            await owner_conn.execute(f'ALTER DATABASE "{database}" CONNECTION LIMIT 0')
            try:
                listener_pid = realtime.listener.backend_pid
                assert await owner_conn.fetchval("SELECT pg_terminate_backend($1)", listener_pid)
                await eventually(lambda: not realtime.listener.connected, what="the listener noticing")
                await eventually(lambda: gone(owner_conn, listener_pid), what="the listener's backend gone")
                await revoke(owner_conn, account.user_id)
                assert await me_status(http, account.access_token) == (401, "token_revoked"), \
                    "without a listener nothing is cached: the request reads the cutoff"
                await ws.settle()
                assert ws.close_code is None, "the note was missed"
            finally:
                await owner_conn.execute(f'ALTER DATABASE "{database}" CONNECTION LIMIT -1')
            assert await ws.wait_closed(within=30) == 4003
            assert any(e["error"]["code"] == "token_revoked" for e in ws.errors)


async def gone(owner_conn: asyncpg.Connection, pid: int | None) -> bool:
    return not await owner_conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid)



async def test_wrong_current_passwords_back_the_account_off_like_failed_logins(start_hub: HubStarter) -> None:
    with start_hub(login_backoff_after=2, login_backoff_base_s=60.0) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            account = await signup(http)
            for _ in range(2):
                wrong = await http.post("/api/auth/password", headers=account.headers,
                                        json={"current_password": "not it at all", "new_password": "new secret 9"})
                assert wrong.json()["code"] == "invalid_credentials"
            waited = await http.post("/api/auth/password", headers=account.headers,
                                     json={"current_password": account.password, "new_password": "new secret 9"})
            assert (waited.status_code, waited.json()["code"]) == (429, "rate_limited")
            assert int(waited.headers["retry-after"]) > 0
            assert await me_status(http, account.access_token) == (200, None), "nothing was changed"
