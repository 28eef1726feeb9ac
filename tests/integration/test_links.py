"""Links a client stores for others to open are http(s) only: over REST (422 naming the field) and in SQL."""

from __future__ import annotations

import asyncpg
import httpx
import msgspec
import pytest

from hub.fields import HttpUrl
from tests.helpers.api import signup
from tests.integration.test_sessions import create_session, host_account

NOT_HTTP = ["javascript:alert(document.cookie)", "JaVaScRiPt:alert(1)", "data:text/html,<script>x</script>",
            "vbscript:msgbox", "https://", "https://x.example/a b", "//evil.example/a.png",
            "https://" + "a" * 2048 + ".example",
            # once 422 by REST's rule but 409 from the table's CHECK: `$` matched before a final newline, and
            # C1 controls and bidirectional overrides were not refused
            "https://a.com\n", "https://a\u0080b.com/", "https://a.com/\u202egnp.exe", "https://a\u2066b.com/"]
# Both rules accept the first and refuse the second.
ACCEPTED = ["https://a.com", "HTTP://A.example/p?q=1#f", "https://b\u00e9b.example/\u00fc", "https://x.example/\u2010"]
REFUSED = [*NOT_HTTP, "https://a.com\r", "https://a\u00a0b.com", "https://a.com/\u200b", "https://a.com/\u2028",
           "https://a.com/\u3000", "https://a.com/\ufeff", "https://a.com/\u061c", "https://a.com/\x9f"]


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


async def test_rest_and_the_database_accept_exactly_the_same_links(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    """The REST rule (hub/fields.py) and the columns' CHECK (migration 0017) must agree, or a link REST
    accepts answers 409 from the database instead of 422."""
    account = await signup(client)
    for url in ACCEPTED + REFUSED:
        try:
            msgspec.convert(url, HttpUrl)
            rest_accepts = True
        except msgspec.ValidationError:
            rest_accepts = False
        try:
            async with owner_conn.transaction():
                await owner_conn.execute("UPDATE public.user_profiles SET avatar_url = $1 WHERE id = $2",
                                         url, account.user_id)
                raise LookupError("roll back")
        except LookupError:
            database_accepts = True
        except asyncpg.CheckViolationError:
            database_accepts = False
        assert (rest_accepts, database_accepts) == ((url in ACCEPTED),) * 2, url
