"""Real PostgreSQL and Redis for tests: the machine's (TEST_DATABASE_URL / TEST_REDIS_URL), or else a
throwaway PostgreSQL cluster of the run's own (tests/helpers/own_postgres.py) and an embedded Redis.

Each test run gets a database of its own (and a Redis namespace of its own), so runs never collide.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from hub.embedded import APP_ROLE, start_redis, with_database, with_user
from persistence.migrate import apply_migrations, migration_files
from tests.helpers.own_postgres import OwnPostgres


@dataclass(frozen=True)
class DatabaseUnderTest:
    owner_dsn: str  # the migrating owner (superuser on test servers)
    app_dsn: str  # hub_app: NOINHERIT, owns nothing, what the app's pool uses


def run_tag() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{worker}_{os.getpid()}_{secrets.token_hex(3)}"


@contextmanager
def postgres_server() -> Iterator[str]:
    """A superuser DSN to some database on a real server."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    # Room for the run's hubs: each keeps a pool and a listener, and some tests start several at once.
    server = OwnPostgres(max_connections=200)
    try:
        server.initdb()
        asyncio.run(server.start())
        yield server.dsn
    finally:
        server.stop_blocking()


async def create_database(server_dsn: str, name: str) -> DatabaseUnderTest:
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')  # name is generated here, never input
    finally:
        await conn.close()
    owner = with_database(server_dsn, name)
    return DatabaseUnderTest(owner_dsn=owner, app_dsn=with_user(owner, APP_ROLE))


async def drop_database(server_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextmanager
def redis_server() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    folder = Path(tempfile.mkdtemp(prefix="hub-test-redis-"))
    redis_url, server = start_redis(folder)
    try:
        yield redis_url
    finally:
        server.stop()


async def migrate_before(owner_dsn: str, first_left_out: str, scratch: Path) -> None:
    """Applies the project's migrations whose names sort before `first_left_out`: the schema a populated
    database had before that migration, for tests of how it upgrades."""
    before = scratch / f"before-{first_left_out}"
    before.mkdir()
    for name, _, sql in migration_files():
        if name < first_left_out:
            (before / name).write_text(sql)
    await apply_migrations(owner_dsn, log=lambda _: None, directory=before)
