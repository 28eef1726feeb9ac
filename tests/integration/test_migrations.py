"""The migration runner: applies in order, is a no-op the second time, refuses edited files, and
two instances starting together apply each file once."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import asyncpg
import pytest

from persistence.migrate import MigrationChecksumError, apply_migrations
from tests.conftest import migrations_dir
from tests.helpers.services import DatabaseUnderTest, migrate_before


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
    await migrate_before(empty_db.owner_dsn, "0011", tmp_path)
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


async def test_comment_places_are_backfilled_deep_chains_capped_and_cross_post_replies_made_top_level(
        empty_db: DatabaseUnderTest, tmp_path: Path) -> None:
    await migrate_before(empty_db.owner_dsn, "0012", tmp_path)
    conn = await asyncpg.connect(empty_db.owner_dsn)
    try:
        author = await conn.fetchval("INSERT INTO auth.users (email) VALUES ('old@example.com') RETURNING id")
        posts = [await conn.fetchval("INSERT INTO public.community_posts (author_id, title) VALUES ($1, $2) "
                                     "RETURNING id", author, title) for title in ("a", "b")]
        chain: list[object] = []
        for _ in range(30):
            chain.append(await conn.fetchval(
                "INSERT INTO public.community_comments (post_id, author_id, parent_comment_id, content) "
                "VALUES ($1, $2, $3, 'x') RETURNING id", posts[0], author, chain[-1] if chain else None))
        stray = await conn.fetchval(
            "INSERT INTO public.community_comments (post_id, author_id, parent_comment_id, content) "
            "VALUES ($1, $2, $3, 'on b, under a comment of a') RETURNING id", posts[1], author, chain[0])
        await apply_migrations(empty_db.owner_dsn, log=lambda _: None)
        rows = {r["id"]: r for r in await conn.fetch(
            "SELECT id, parent_comment_id, depth, sort_path FROM public.community_comments")}
        assert [rows[c]["depth"] for c in chain] == [*range(20), *[20] * 10]
        assert all(rows[c]["parent_comment_id"] == chain[19] for c in chain[20:])
        assert all(rows[c]["sort_path"].startswith(rows[chain[0]]["sort_path"]) for c in chain)
        assert (rows[stray]["parent_comment_id"], rows[stray]["depth"]) == (None, 0)
        assert not rows[stray]["sort_path"].startswith(rows[chain[0]]["sort_path"])
    finally:
        await conn.close()


async def test_views_of_what_was_deleted_before_redaction_leave_the_log(empty_db: DatabaseUnderTest,
                                                                       tmp_path: Path) -> None:
    await migrate_before(empty_db.owner_dsn, "0020", tmp_path)
    conn = await asyncpg.connect(empty_db.owner_dsn)
    try:
        author = await conn.fetchval("INSERT INTO auth.users (email) VALUES ('said@example.com') RETURNING id")
        post = await conn.fetchval(
            "INSERT INTO public.community_posts (author_id, title) VALUES ($1, 'stays') RETURNING id::text", author)
        comments = [await conn.fetchval(
            "INSERT INTO public.community_comments (post_id, author_id, content) VALUES ($1::uuid, $2, $3) "
            "RETURNING id::text", post, author, text) for text in ("kept words", "deleted words")]
        await conn.execute("UPDATE public.community_comments SET is_deleted = true WHERE id = $1::uuid", comments[1])
        gone_post = "00000000-0000-4000-8000-000000000001"  # deleted outright before 0020: only its views remain
        logged = [("feed", "post.created", {"id": post, "title": "stays", "content": None, "tags": []}),
                  ("feed", "post.created", {"id": gone_post, "title": "gone title", "content": "gone body",
                                            "category": "gone", "tags": ["gone"]}),
                  ("feed", "post.deleted", {"id": gone_post}),
                  (f"thread:{post}", "comment.created", {"id": comments[0], "content": "kept words"}),
                  (f"thread:{post}", "comment.created", {"id": comments[1], "content": "deleted words"})]
        for channel, event, data in logged:
            await conn.execute("SELECT realtime.append_event($1, $2, $3::jsonb)", channel, event, json.dumps(data))
        await apply_migrations(empty_db.owner_dsn, log=lambda _: None)
        rows = [json.loads(r[0]) for r in
                await conn.fetch("SELECT data::text FROM realtime.events ORDER BY created_at")]
        assert rows == [
            {"id": post, "title": "stays", "content": None, "tags": []},
            {"id": gone_post, "title": None, "content": None, "category": None, "tags": None, "redacted": True},
            {"id": gone_post},
            {"id": comments[0], "content": "kept words"},
            {"id": comments[1], "content": None, "redacted": True},
        ]
    finally:
        await conn.close()
