"""Links a client stores for others to open are http(s) only: over REST (422 naming the field) and in SQL."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.helpers.api import signup
from tests.integration.test_sessions import create_session, host_account

NOT_HTTP = ["javascript:alert(document.cookie)", "JaVaScRiPt:alert(1)", "data:text/html,<script>x</script>",
            "vbscript:msgbox", "https://", "https://x.example/a b", "//evil.example/a.png",
            "https://" + "a" * 2048 + ".example"]


@pytest.mark.parametrize("url", NOT_HTTP, ids=range(len(NOT_HTTP)))
async def test_a_non_http_avatar_url_is_422_naming_the_field_and_not_stored(client: httpx.AsyncClient,
                                                                          url: str) -> None:
    account = await signup(client)
    response = await client.patch("/api/profiles/me", json={"avatar_url": url}, headers=account.headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_failed"
    assert "avatar_url" in response.json()["errors"]
    assert (await client.get("/api/profiles/me", headers=account.headers)).json()["avatar_url"] is None


async def test_http_and_https_avatar_urls_are_stored_and_null_clears(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    for url in ("https://cdn.example.com/a.png?size=64", "http://img.example/x", None):
        response = await client.patch("/api/profiles/me", json={"avatar_url": url}, headers=account.headers)
        assert response.status_code == 200 and response.json()["avatar_url"] == url


async def test_session_links_are_http_only_on_create_and_edit(client: httpx.AsyncClient,
                                                              owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    session = await create_session(client, host)
    for field in ("meeting_url", "recording_url"):
        edited = await client.patch(f"/api/sessions/{session['id']}", json={field: "data:text/html,x"},
                                    headers=host.headers)
        assert edited.status_code == 422 and field in edited.json()["errors"], edited.text


async def test_the_database_refuses_a_non_http_link_written_with_plain_sql(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    """PostgREST lets a signed-in user update their own profile through `my_profile`: the table holds the
    rule too."""
    account = await signup(client)
    async with owner_conn.transaction():
        await owner_conn.execute("SET LOCAL ROLE authenticated")
        await owner_conn.execute("SELECT set_config('request.jwt.claims', $1, true)",
                                 f'{{"sub": "{account.user_id}", "role": "authenticated"}}')
        with pytest.raises(asyncpg.CheckViolationError):
            await owner_conn.execute("UPDATE public.my_profile SET avatar_url = 'javascript:alert(1)' "
                                     "WHERE id = $1", account.user_id)
    host = await host_account(client, owner_conn)
    session = await create_session(client, host)
    with pytest.raises(asyncpg.CheckViolationError):
        await owner_conn.execute("UPDATE public.live_sessions SET meeting_url = 'javascript:x' WHERE id = $1",
                                 session["id"])
