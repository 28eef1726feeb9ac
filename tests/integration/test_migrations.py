"""The migration runner: applies in order, is a no-op the second time, refuses edited files, and
two instances starting together apply each file once."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from persistence.migrate import MigrationChecksumError, apply_migrations
from tests.conftest import migrations_dir
from tests.helpers.services import DatabaseUnderTest, create_database, drop_database, run_tag


@pytest.fixture
async def empty_db(pg_server_dsn: str) -> AsyncIterator[DatabaseUnderTest]:
    name = f"hub_mig_{run_tag()}"
    database = await create_database(pg_server_dsn, name)
    yield database
    await drop_database(pg_server_dsn, name)


async def test_applies_every_file_on_an_empty_database_then_nothing(empty_db: DatabaseUnderTest) -> None:
    lines: list[str] = []
    first = await apply_migrations(empty_db.owner_dsn, log=lines.append)
    assert first == sorted(p.name for p in migrations_dir().glob("*.sql"))
    assert any("applying" in line for line in lines), "progress is printed"
    assert await apply_migrations(empty_db.owner_dsn, log=lambda _: None) == []


async def test_an_edited_applied_migration_is_refused(empty_db: DatabaseUnderTest, tmp_path: Path) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), copy)
    await apply_migrations(empty_db.owner_dsn, log=lambda _: None, directory=copy)
    first = sorted(copy.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after it was applied\n")
    with pytest.raises(MigrationChecksumError, match=first.name):
        await apply_migrations(empty_db.owner_dsn, log=lambda _: None, directory=copy)


async def test_two_instances_migrating_at_once_apply_each_file_once(empty_db: DatabaseUnderTest) -> None:
    results = await asyncio.gather(*(apply_migrations(empty_db.owner_dsn, log=lambda _: None) for _ in range(3)))
    applied = [name for result in results for name in result]
    assert sorted(applied) == sorted(p.name for p in migrations_dir().glob("*.sql"))
    conn = await asyncpg.connect(empty_db.owner_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM private.schema_migrations") == len(applied)
    finally:
        await conn.close()


async def test_refresh_tokens_move_to_the_hubs_own_table_with_their_families(empty_db: DatabaseUnderTest,
                                                                            tmp_path: Path) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for path in sorted(migrations_dir().glob("*.sql")):
        if path.name < "0011":
            shutil.copy(path, before / path.name)
    await apply_migrations(empty_db.owner_dsn, log=lambda _: None, directory=before)
    conn = await asyncpg.connect(empty_db.owner_dsn)
    try:
        user = await conn.fetchval("INSERT INTO auth.users (email) VALUES ('moved@example.com') RETURNING id")
        await conn.execute(
            """INSERT INTO auth.refresh_tokens (user_id, family_id, token_hash, expires_at)
               VALUES ($1, gen_random_uuid(), 'hash-1', now() + interval '1 day')""", user)
        await apply_migrations(empty_db.owner_dsn, log=lambda _: None)
        assert await conn.fetchval("SELECT user_id FROM private.refresh_tokens WHERE token_hash = 'hash-1'") == user
        assert await conn.fetchval("SELECT to_regclass('auth.refresh_tokens')") is None
    finally:
        await conn.close()
