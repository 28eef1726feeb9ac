"""The embedded PostgreSQL (pgserver) the hub starts without DATABASE_URL: the schema applies, the app
connects as a non-superuser role, and RLS and LISTEN/NOTIFY really work there."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from hub.embedded import APP_ROLE, start_postgres, with_user
from persistence.db import init_connection, set_identity
from persistence.events import append_event
from persistence.identity import user_identity
from persistence.migrate import apply_migrations


@pytest.mark.slow
async def test_embedded_server_enforces_rls_for_the_app_role_and_delivers_notifications(
        embedded_data_dir: Path) -> None:
    owner_dsn, server = await asyncio.to_thread(start_postgres, embedded_data_dir)
    try:
        await apply_migrations(owner_dsn, log=lambda _: None)
        owner = await asyncpg.connect(owner_dsn)
        app = await asyncpg.connect(with_user(owner_dsn, APP_ROLE))
        listener = await asyncpg.connect(with_user(owner_dsn, APP_ROLE))
        try:
            await init_connection(app)
            mine, theirs = uuid.uuid4(), uuid.uuid4()
            for user in (mine, theirs):
                await owner.execute("INSERT INTO auth.users (id, email) VALUES ($1, $2)", user, f"{user}@example.com")
            assert await app.fetchval("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user") \
                is False

            received: asyncio.Queue[str] = asyncio.Queue()
            await listener.add_listener("hub_events", lambda *args: received.put_nowait(args[3]))
            async with app.transaction():
                await set_identity(app, user_identity({"sub": str(mine), "role": "authenticated"}))
                visible = await app.fetch("SELECT id FROM public.user_streaks WHERE user_id = ANY($1::uuid[])",
                                          [mine, theirs])
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    async with app.transaction():
                        await app.execute("UPDATE public.user_profiles SET total_xp = 10 WHERE id = $1", mine)
                await append_event(app, "feed", "post.created", {})  # as service_role, in this transaction
            assert len(visible) == 1
            assert '"s":1' in (await asyncio.wait_for(received.get(), 5)).replace(" ", "")
        finally:
            for conn in (owner, app, listener):
                await conn.close()
    finally:
        await asyncio.to_thread(server.cleanup)
