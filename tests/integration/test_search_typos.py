"""Search's typo tolerance: with `pg_trgm` installed (by the deployment; simulated here in a database of
the test's own), a misspelt word finds titles close to it, within the same visibility; without it (the
run's shared database), the same query finds nothing and the hub reports the fallback off."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from litestar import Litestar

from hub.app import create_app
from hub.realtime.ws_protocol import UVICORN_WS
from hub.settings import Settings
from persistence.db import Database
from persistence.identity import Identity
from tests.conftest import HubStarter
from tests.helpers.api import signup
from tests.helpers.own_postgres import MISSING_CONTRIB
from tests.helpers.server import serve_in_thread
from tests.helpers.services import DatabaseUnderTest
from tests.integration.test_search import found, new_post, search
from tests.integration.test_sql_visibility import ANON, FUZZY_TITLES, refused, rows_as, user

MISSPELT = "tradng"


@asynccontextmanager
async def hub_client(app: Litestar, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    with serve_in_thread(app, ws_max_size=settings.ws_max_frame_bytes, ws=UVICORN_WS,
                         ws_per_message_deflate=settings.ws_compression) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield client


async def install_pg_trgm(owner_dsn: str) -> None:
    """The deployment's choice, simulated by the database owner: the hub itself never creates an extension."""
    conn = await asyncpg.connect(owner_dsn)
    try:
        if not await conn.fetchval("SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_trgm')"):
            pytest.fail(f"pg_trgm {MISSING_CONTRIB}")
        await conn.execute("CREATE EXTENSION pg_trgm")
    finally:
        await conn.close()


async def test_with_pg_trgm_a_misspelt_word_finds_visible_titles_only(
        lone_db: DatabaseUnderTest, base_settings: Settings) -> None:
    await install_pg_trgm(lone_db.owner_dsn)
    settings = replace(base_settings, namespace=f"{base_settings.namespace}:trgm:{secrets.token_hex(6)}")
    app = create_app(settings, lone_db.app_dsn)
    async with hub_client(app, settings) as client:
        author, reader = await signup(client), await signup(client)
        shown = await new_post(client, author, "Learn <trading> basics", "body")
        hidden = await new_post(client, author, "trading secrets", "body")
        deleted = await new_post(client, author, "trading diary", "body")
        assert (await client.delete(f"/api/posts/{deleted}", headers=author.headers)).status_code in (200, 204)
        conn = await asyncpg.connect(lone_db.owner_dsn)
        try:
            await conn.execute("UPDATE public.community_posts SET hidden_at = now() WHERE id = $1", hidden)
        finally:
            await conn.close()
        assert await found(client, reader, "trading") == {("post", shown)}  # full text, as typed
        page = await search(client, reader, MISSPELT)
        assert [(item["type"], item["id"]) for item in page["items"]] == [("post", shown)]
        [item] = page["items"]
        assert item["rank"] == 0 and item["snippet"] == "Learn &lt;trading&gt; basics" and page["next_cursor"] is None
        assert await found(client, author, MISSPELT) == {("post", shown), ("post", hidden)}  # their own
        assert await found(client, reader, MISSPELT, type="comment") == set()  # titles only
        assert await found(client, reader, "zzqxv") == set()  # not close to anything
        assert app.state.services.search_typos is True
    await plain_sql_visibility(lone_db, author.user_id, reader.user_id, shown, hidden)


async def plain_sql_visibility(lone_db: DatabaseUnderTest, author: UUID, reader: UUID, shown: str,
                               hidden: str) -> None:
    """The function as a SQL client calls it (0031): the same visibility without the REST layer."""
    conn = await asyncpg.connect(lone_db.owner_dsn)
    try:
        await conn.execute("INSERT INTO public.user_blocks (blocker_id, blocked_id) VALUES ($1, $2)",
                           reader, author)
    finally:
        await conn.close()
    db = Database(lone_db.app_dsn, min_size=0, max_size=1)
    await db.open()
    try:
        async def ids(identity: Identity) -> set[str]:
            return {str(r["id"]) for r in await rows_as(db, identity, FUZZY_TITLES, [MISSPELT])}

        assert await ids(user(author)) == {shown, hidden}
        assert await ids(user(reader)) == set()  # blocks the author
        assert await ids(user(uuid4())) == {shown}
        await refused(db, ANON, FUZZY_TITLES, [MISSPELT])
    finally:
        await db.close()


async def test_without_pg_trgm_a_misspelt_word_finds_nothing_and_the_fallback_is_off(
        start_hub: HubStarter, owner_conn: asyncpg.Connection) -> None:
    assert not await owner_conn.fetchval("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm')")
    app = start_hub.app()
    with start_hub.serve(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            author, reader = await signup(client), await signup(client)
            shown = await new_post(client, author, f"trading {secrets.token_hex(4)}")
            assert ("post", shown) in await found(client, reader, "trading")
            assert await found(client, reader, MISSPELT) == set()
    assert app.state.services.search_typos is False
