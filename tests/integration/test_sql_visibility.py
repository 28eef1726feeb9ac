"""The REST visibility matrix, run as raw SQL under `anon` and `authenticated`.

On Supabase, PostgREST exposes `public` to the anon key and to every user's JWT, so what these roles
can read or write with plain SQL must be exactly what the REST API allows (docs/security.md, "SQL
visibility"). Every statement runs through the app's own transaction helper on its real non-owner
role (SET LOCAL ROLE + request.jwt.claims), in a transaction that is always rolled back.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from persistence.db import Database
from persistence.identity import ANON, SERVICE, Identity, user_identity
from tests.helpers.api import admin, signup
from tests.helpers.lessons import api_gate, unique_levels
from tests.integration.test_rls import as_user, make_user

SECRET_URL = "https://meet.example/secret-room"
ASSESSMENT = {
    "pass_score": 1,
    "questions": [{"q": "2 + 2?", "choices": ["3", "4"], "answer": 1, "explanation": "arithmetic"}],
}
LEARNER_ASSESSMENT = {"pass_score": 1, "questions": [{"q": "2 + 2?", "choices": ["3", "4"], "kind": "single"}]}
CONTENT = {"sections": [{"kind": "text", "body": "the paid part"}]}


class _RolledBack(Exception):
    pass


async def rows_as(db: Database, identity: Identity, sql: str, *args: Any) -> list[asyncpg.Record]:
    """The statement's rows as `identity`; the transaction is rolled back, so cases never see each other."""
    rows: list[asyncpg.Record] = []
    with contextlib.suppress(_RolledBack):
        async with db.transaction(identity) as conn:
            rows = await conn.fetch(sql, *args)
            raise _RolledBack
    return rows


async def refused(db: Database, identity: Identity, sql: str, *args: Any,
                  error: type[asyncpg.PostgresError] = asyncpg.InsufficientPrivilegeError) -> None:
    with pytest.raises(error):
        await rows_as(db, identity, sql, *args)


@dataclass(frozen=True)
class World:
    author: uuid.UUID
    other: uuid.UUID
    host: uuid.UUID
    seat_holder: uuid.UUID
    waitlisted: uuid.UUID
    admin: uuid.UUID
    subscriber: uuid.UUID
    free_lesson: uuid.UUID
    paid_lesson: uuid.UUID
    hidden_lesson: uuid.UUID
    post: uuid.UUID
    comment: uuid.UUID
    deleted_comment: uuid.UUID
    session: uuid.UUID


@pytest.fixture
async def world(owner_conn: asyncpg.Connection) -> World:
    users = [await make_user(owner_conn) for _ in range(7)]
    author, other, host, seat_holder, waitlisted, boss, subscriber = users
    await owner_conn.execute(
        "UPDATE public.user_profiles SET full_name = 'Ann', bio = 'hi', timezone = 'Asia/Tokyo', "
        "trading_goals = ARRAY['retire early'] WHERE id = $1", author)

    paid_level, hidden_level = unique_levels(2)
    gate = api_gate()
    lesson_sql = """INSERT INTO public.lessons (level_id, gate_id, title, content_data, assessment_data, is_active)
                    VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6) RETURNING id"""
    free = await owner_conn.fetchval(lesson_sql, 1, gate, "free", CONTENT, ASSESSMENT, True)
    paid = await owner_conn.fetchval(lesson_sql, paid_level, gate, "paid", CONTENT, ASSESSMENT, True)
    hidden = await owner_conn.fetchval(lesson_sql, hidden_level, gate, "hidden", CONTENT, ASSESSMENT, False)
    plan = await owner_conn.fetchval(
        "INSERT INTO public.subscription_plans (name, price, features, level_access_limit) "
        "VALUES ('pro', 10, '{}', $1) RETURNING id", paid_level)
    await owner_conn.execute(
        "INSERT INTO public.user_subscriptions (user_id, plan_id, status) VALUES ($1, $2, 'active')", subscriber, plan)

    post = await owner_conn.fetchval(
        "INSERT INTO public.community_posts (author_id, title) VALUES ($1, 'a post') RETURNING id", author)
    comment_sql = """INSERT INTO public.community_comments (post_id, author_id, content, is_deleted)
                     VALUES ($1, $2, $3, $4) RETURNING id"""
    comment = await owner_conn.fetchval(comment_sql, post, author, "kept", False)
    deleted = await owner_conn.fetchval(comment_sql, post, author, "removed by a moderator", True)

    session = await owner_conn.fetchval(
        """INSERT INTO public.live_sessions (title, host_id, scheduled_at, duration, meeting_url)
           VALUES ('a session', $1, now() + interval '1 day', interval '1 hour', $2) RETURNING id""", host, SECRET_URL)
    await owner_conn.execute(
        """INSERT INTO public.session_participants (session_id, user_id, attendance_status)
           VALUES ($1, $2, 'registered'), ($1, $3, 'waitlisted')""", session, seat_holder, waitlisted)
    return World(author, other, host, seat_holder, waitlisted, boss, subscriber, free, paid, hidden, post, comment,
                 deleted, session)


def user(user_id: uuid.UUID, role: str | None = None) -> Identity:
    identity: Identity = as_user(user_id, role)
    return identity


# ---------------------------------------------------------------- lessons

LESSON_CONTENT = "SELECT content_data, assessment_data, content_allowed FROM public.lesson_with_content($1)"


async def test_anon_and_users_cannot_read_lesson_content_or_answers_from_the_table(app_db: Database,
                                                                                   world: World) -> None:
    for identity in (ANON, user(world.other), user(world.subscriber)):
        for lesson in (world.free_lesson, world.paid_lesson, world.hidden_lesson):
            for column_sql in ("SELECT content_data FROM public.lessons WHERE id = $1",
                               "SELECT assessment_data FROM public.lessons WHERE id = $1",
                               "SELECT assessment_data -> 'questions' FROM public.lessons WHERE id = $1",
                               "SELECT created_by FROM public.lessons WHERE id = $1",
                               "SELECT * FROM public.lessons WHERE id = $1",
                               "SELECT to_jsonb(l) FROM public.lessons l WHERE id = $1"):
                await refused(app_db, identity, column_sql, lesson)
    # the answer-stripping function and the table's other readers are not the caller's to call
    for identity in (ANON, user(world.subscriber)):
        await refused(app_db, identity, "SELECT private.assessment_for_learners('{}'::jsonb)")
    catalogue = await rows_as(app_db, ANON, "SELECT title FROM public.lessons WHERE id = $1", world.paid_lesson)
    assert [r["title"] for r in catalogue] == ["paid"]


async def test_lesson_content_comes_only_with_a_plan_reaching_its_level_and_never_with_answers(
        app_db: Database, world: World) -> None:
    free_for_anon = await rows_as(app_db, ANON, LESSON_CONTENT, world.free_lesson)
    assert [tuple(r) for r in free_for_anon] == [(CONTENT, LEARNER_ASSESSMENT, True)]
    for identity in (ANON, user(world.other)):
        assert [tuple(r) for r in await rows_as(app_db, identity, LESSON_CONTENT, world.paid_lesson)] == [
            (None, None, False)]
    subscribed = await rows_as(app_db, user(world.subscriber), LESSON_CONTENT, world.paid_lesson)
    assert [tuple(r) for r in subscribed] == [(CONTENT, LEARNER_ASSESSMENT, True)]
    as_admin = await rows_as(app_db, user(world.admin, "admin"), LESSON_CONTENT, world.paid_lesson)
    assert [tuple(r) for r in as_admin] == [(CONTENT, ASSESSMENT, True)]
    # inactive lessons: admins only, as in the catalogue
    assert await rows_as(app_db, user(world.subscriber), LESSON_CONTENT, world.hidden_lesson) == []
    assert len(await rows_as(app_db, user(world.admin, "admin"), LESSON_CONTENT, world.hidden_lesson)) == 1


@pytest.mark.parametrize(("stored", "shown"), [
    (ASSESSMENT, LEARNER_ASSESSMENT),
    ({"quiz": [1], "answers": [0], "explanations": ["x"]}, {}),
    # an allowlist: keys an author's SQL adds anywhere never reach learners
    ({"pass_score": 50, "answer_key": [1], "solution": "s",
      "questions": [{"q": "?", "choices": ["a", "b"], "answer": 1, "correct_answer": 1, "solution": "b",
                     "hint": "it is b"}]},
     {"pass_score": 50, "questions": [{"q": "?", "choices": ["a", "b"], "kind": "single"}]}),
    ({"questions": "not a list", "pass_score": 2}, {"pass_score": 2}),
    ({"questions": [{"q": "?", "correct": 0, "answers": [0]}, "stray"]}, {"questions": [{"q": "?"}]}),
    ([{"answer": 1}], None),
    ({"questions": [{"q": "?", "choices": ["a", "b", "c"], "answer": [0, 2], "explanation": "x"},
                    {"q": "n", "answer": 2.5, "tolerance": 0.1, "explanation": "y"}]},
     {"questions": [{"q": "?", "choices": ["a", "b", "c"], "kind": "multiple"},
                    {"q": "n", "tolerance": 0.1, "kind": "numeric"}]}),
])
async def test_learners_get_assessments_without_answers_or_explanations(
        owner_conn: asyncpg.Connection, stored: Any, shown: Any) -> None:
    assert await owner_conn.fetchval("SELECT private.assessment_for_learners($1::jsonb)", stored) == shown


async def test_rest_lesson_content_hides_answers_from_subscribers_and_shows_them_to_admins(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    body = {"level_id": 1, "gate_id": api_gate(), "title": "quiz", "content_data": CONTENT,
            "assessment_data": ASSESSMENT}
    created = await client.post("/api/lessons", json=body, headers=boss.headers)
    assert created.status_code == 201, created.text
    assert created.json()["assessment_data"] == ASSESSMENT
    lesson_id = created.json()["id"]
    seen = await client.get(f"/api/lessons/{lesson_id}", headers=learner.headers)
    assert seen.status_code == 200
    assert (seen.json()["content_data"], seen.json()["assessment_data"]) == (CONTENT, LEARNER_ASSESSMENT)
    assert "content_allowed" not in seen.json()
    for_admin = await client.get(f"/api/lessons/{lesson_id}", headers=boss.headers)
    assert for_admin.json()["assessment_data"] == ASSESSMENT


# ---------------------------------------------------------------- profiles

async def test_others_see_only_public_profile_fields_and_the_owner_sees_all(app_db: Database, world: World) -> None:
    reader = user(world.other)
    for private_sql in ("SELECT timezone FROM public.user_profiles WHERE id = $1",
                        "SELECT trading_goals FROM public.user_profiles WHERE id = $1",
                        "SELECT preferred_language FROM public.user_profiles WHERE id = $1",
                        "SELECT * FROM public.user_profiles WHERE id = $1"):
        await refused(app_db, reader, private_sql, world.author)
    public = await rows_as(app_db, reader, "SELECT full_name, bio FROM public.user_profiles WHERE id = $1",
                           world.author)
    assert [tuple(r) for r in public] == [("Ann", "hi")]
    await refused(app_db, ANON, "SELECT full_name FROM public.user_profiles WHERE id = $1", world.author)

    own = await rows_as(app_db, user(world.author), "SELECT id, timezone, trading_goals FROM public.my_profile")
    assert [tuple(r) for r in own] == [(world.author, "Asia/Tokyo", ["retire early"])]
    assert [r["id"] for r in await rows_as(app_db, reader, "SELECT id FROM public.my_profile")] == [world.other]
    await refused(app_db, ANON, "SELECT id FROM public.my_profile")


async def test_rest_shows_the_own_profile_in_full_and_others_public_fields(client: httpx.AsyncClient) -> None:
    me, other = await signup(client), await signup(client)
    account = await client.get("/api/auth/me", headers=me.headers)
    assert account.status_code == 200
    assert account.json()["profile"]["timezone"] == "UTC"
    # login answers with the same view, read as service_role
    logged_in = await client.post("/api/auth/login", json={"email": me.email, "password": me.password})
    assert logged_in.status_code == 200
    assert logged_in.json()["user"]["profile"]["timezone"] == "UTC"
    own = await client.get("/api/profiles/me", headers=me.headers)
    assert (own.status_code, own.json()["timezone"]) == (200, "UTC")
    theirs = await client.get(f"/api/profiles/{other.user_id}", headers=me.headers)
    assert theirs.status_code == 200
    assert set(theirs.json()) == PROFILE_PUBLIC


async def test_users_edit_only_their_own_profiles_editable_fields(app_db: Database, world: World) -> None:
    mine = "UPDATE public.my_profile SET timezone = 'Europe/Paris' RETURNING id, timezone"
    assert [tuple(r) for r in await rows_as(app_db, user(world.author), mine)] == [(world.author, "Europe/Paris")]
    await refused(app_db, user(world.author), "UPDATE public.my_profile SET total_xp = 1 RETURNING id")
    await refused(app_db, user(world.other), "UPDATE public.user_profiles SET bio = 'x' WHERE id = $1 RETURNING id",
                  world.author)


# ---------------------------------------------------------------- comments and posts

async def test_an_author_cannot_undelete_edit_or_hard_delete_a_deleted_comment(app_db: Database,
                                                                                world: World) -> None:
    author = user(world.author)
    await refused(app_db, author,
                  "UPDATE public.community_comments SET is_deleted = false WHERE id = $1 RETURNING id",
                  world.deleted_comment)
    assert await rows_as(app_db, author,
                         "UPDATE public.community_comments SET content = 'back' WHERE id = $1 RETURNING id",
                         world.deleted_comment) == []
    await refused(app_db, author, "DELETE FROM public.community_comments WHERE id = $1 RETURNING id",
                  world.deleted_comment)
    await refused(app_db, author, "DELETE FROM public.community_comments WHERE id = $1 RETURNING id", world.comment)
    # the admin cannot un-delete either: REST has no way to
    await refused(app_db, user(world.admin, "admin"),
                  "UPDATE public.community_comments SET is_deleted = false WHERE id = $1 RETURNING id",
                  world.deleted_comment)


async def test_comments_are_deleted_only_by_their_author_or_an_admin_through_the_function(
        app_db: Database, world: World) -> None:
    delete = "SELECT public.delete_comment($1) AS deleted"
    assert (await rows_as(app_db, user(world.other), delete, world.comment))[0]["deleted"] is False
    assert (await rows_as(app_db, user(world.author), delete, world.comment))[0]["deleted"] is True
    assert (await rows_as(app_db, user(world.admin, "admin"), delete, world.comment))[0]["deleted"] is True
    assert (await rows_as(app_db, user(world.author), delete, world.deleted_comment))[0]["deleted"] is False
    await refused(app_db, ANON, delete, world.comment)
    edited = await rows_as(app_db, user(world.author),
                           "UPDATE public.community_comments SET content = 'edited' WHERE id = $1 RETURNING content",
                           world.comment)
    assert [r["content"] for r in edited] == ["edited"]


async def test_no_client_reads_the_text_of_a_deleted_comment_or_chat_line_which_is_kept_server_only(
        app_db: Database, owner_conn: asyncpg.Connection, world: World) -> None:
    """REST shows a deleted comment or chat line with `content: null`; plain SQL shows exactly that, to
    every reader, the author and admins included. The text is moderation evidence for service_role."""
    async with app_db.transaction(user(world.author)) as conn:
        assert await conn.fetchval("SELECT public.delete_comment($1)", world.comment) is True
    line = await owner_conn.fetchval(
        "INSERT INTO public.session_messages (session_id, author_id, kind, content) "
        "VALUES ($1, $2, 'chat', 'a regretted line') RETURNING id", world.session, world.seat_holder)
    await owner_conn.execute("UPDATE public.session_messages SET is_deleted = true WHERE id = $1", line)

    for reader in (user(world.other), user(world.author), user(world.admin, "admin")):
        comments = await rows_as(app_db, reader, "SELECT content, is_deleted FROM public.community_comments "
                                 "WHERE id = ANY($1)", [world.comment, world.deleted_comment])
        assert [(r["content"], r["is_deleted"]) for r in comments] == [(None, True), (None, True)]
    for reader in (user(world.seat_holder), user(world.host), user(world.admin, "admin")):
        lines = await rows_as(app_db, reader, "SELECT content FROM public.session_messages WHERE id = $1", line)
        assert [r["content"] for r in lines] == [None]
    for reader in (ANON, user(world.other), user(world.admin, "admin")):
        await refused(app_db, reader, "SELECT content FROM private.deleted_content")

    kept = await rows_as(app_db, SERVICE, "SELECT target_type, target_id, content, deleted_by "
                         "FROM private.deleted_content WHERE target_id = ANY($1)",
                         [world.comment, world.deleted_comment, line])
    assert {tuple(r) for r in kept} == {("comment", world.comment, "kept", world.author),
                                        ("comment", world.deleted_comment, "removed by a moderator", None),
                                        ("session_message", line, "a regretted line", None)}


async def test_replies_stay_on_their_parents_post_and_deleted_comments_take_no_votes(
        app_db: Database, owner_conn: asyncpg.Connection, world: World) -> None:
    elsewhere = await owner_conn.fetchval(
        "INSERT INTO public.community_posts (author_id, title) VALUES ($1, 'elsewhere') RETURNING id", world.other)
    reply = """INSERT INTO public.community_comments (post_id, author_id, parent_comment_id, content)
               VALUES ($1, $2, $3, 'a reply') RETURNING id"""
    # Migration 0012's placement trigger refuses it for every writer, owners included.
    await refused(app_db, user(world.other), reply, elsewhere, world.other, world.comment,
                  error=asyncpg.CheckViolationError)
    assert len(await rows_as(app_db, user(world.other), reply, world.post, world.other, world.comment)) == 1
    vote = """INSERT INTO public.community_votes (user_id, target_type, target_id, vote_type)
              VALUES ($1, 'comment', $2, 'upvote') RETURNING id"""
    await refused(app_db, user(world.other), vote, world.other, world.deleted_comment)
    assert len(await rows_as(app_db, user(world.other), vote, world.other, world.comment)) == 1


async def test_post_metadata_is_not_writable(app_db: Database, world: World) -> None:
    await refused(app_db, user(world.author),
                  "UPDATE public.community_posts SET metadata = '{}' WHERE id = $1 RETURNING id", world.post)
    await refused(app_db, user(world.author),
                  "INSERT INTO public.community_posts (author_id, title, metadata) VALUES ($1, 't', '{}') RETURNING id",
                  world.author)


# ---------------------------------------------------------------- reports and blocks (migration 0022)

async def test_content_hidden_pending_review_is_gone_for_all_but_its_author_and_admins(
        app_db: Database, owner_conn: asyncpg.Connection, world: World) -> None:
    """REST leaves hidden posts, comments and chat lines out for other readers; plain SQL does the same."""
    line = await owner_conn.fetchval(
        "INSERT INTO public.session_messages (session_id, author_id, kind, content) "
        "VALUES ($1, $2, 'chat', 'reported line') RETURNING id", world.session, world.author)
    await owner_conn.execute(
        "INSERT INTO public.session_participants (session_id, user_id, attendance_status) "
        "VALUES ($1, $2, 'registered')", world.session, world.author)
    await owner_conn.execute("UPDATE public.community_posts SET hidden_at = now() WHERE id = $1", world.post)
    await owner_conn.execute("UPDATE public.community_comments SET hidden_at = now() WHERE id = $1", world.comment)
    await owner_conn.execute("UPDATE public.session_messages SET hidden_at = now() WHERE id = $1", line)
    reads = {"SELECT id FROM public.community_posts WHERE id = $1": world.post,
             "SELECT id FROM public.community_comments WHERE id = $1": world.comment,
             "SELECT id FROM public.session_messages WHERE id = $1": line}
    for sql, row_id in reads.items():
        for reader in (user(world.author), user(world.admin, "admin")):
            assert len(await rows_as(app_db, reader, sql, row_id)) == 1, (sql, reader)
        others = (user(world.other), user(world.host, "host"), user(world.seat_holder))
        for reader in others:
            assert await rows_as(app_db, reader, sql, row_id) == [], (sql, reader)
    # a hidden post takes its other comments out of sight with it, as REST's 404 for its thread and its
    # comments by id does; its author and admins still read them
    comment_of_hidden_post = "SELECT id FROM public.community_comments WHERE id = $1"
    for reader in (user(world.other), user(world.host, "host"), user(world.seat_holder)):
        assert await rows_as(app_db, reader, comment_of_hidden_post, world.deleted_comment) == [], reader
    for reader in (user(world.author), user(world.admin, "admin")):
        assert len(await rows_as(app_db, reader, comment_of_hidden_post, world.deleted_comment)) == 1, reader
    await refused(app_db, user(world.other), "SELECT count(*) FROM private.reports")
    await refused(app_db, ANON, "SELECT count(*) FROM private.reports")


SEARCH_CONTENT = "SELECT type, id FROM public.search_content($1, NULL, NULL, NULL, 100, NULL, '[', ']')"


async def test_search_content_finds_only_what_the_caller_may_read(app_db: Database, owner_conn: asyncpg.Connection,
                                                                  world: World) -> None:
    """`public.search_content` (0030) reads as its definer, and applies the policies' visibility itself."""
    # One word of this test's own, so the run's other rows (the search tests add thousands) cannot crowd
    # the world's out of the first 100 results.
    tag = f"vis{secrets.token_hex(4)}"
    await owner_conn.execute("UPDATE public.community_comments SET content = content || ' ' || $2 "
                             "WHERE id = ANY($1)", [world.comment, world.deleted_comment], tag)
    await owner_conn.execute("UPDATE public.lessons SET description = $2 WHERE id = ANY($1)",
                             [world.paid_lesson, world.hidden_lesson], tag)
    await owner_conn.execute("UPDATE public.live_sessions SET description = $2 WHERE id = $1", world.session, tag)
    await owner_conn.execute("UPDATE public.community_comments SET hidden_at = now() WHERE id = $1", world.comment)

    async def found(identity: Identity, query: str) -> set[tuple[str, uuid.UUID]]:
        return {(r["type"], r["id"]) for r in await rows_as(app_db, identity, SEARCH_CONTENT, query)}

    other, author, boss = user(world.other), user(world.author), user(world.admin, "admin")
    hidden_comment = ("comment", world.comment)
    assert hidden_comment not in await found(other, tag)
    assert hidden_comment in await found(author, tag) and hidden_comment in await found(boss, tag)
    assert ("comment", world.deleted_comment) not in await found(boss, tag)
    assert ("lesson", world.hidden_lesson) not in await found(other, tag)
    assert ("lesson", world.hidden_lesson) in await found(boss, tag)
    assert ("lesson", world.paid_lesson) in await found(other, tag)  # the catalogue: title and description
    assert ("lesson", world.paid_lesson) not in await found(user(world.subscriber), "part")  # content: never
    assert ("session", world.session) in await found(other, tag)
    await refused(app_db, ANON, SEARCH_CONTENT, "post")


FUZZY_TITLES = "SELECT type, id FROM public.search_titles_fuzzy($1, 100, NULL)"


async def test_search_titles_fuzzy_answers_nothing_without_pg_trgm_and_nothing_to_anon(
        app_db: Database, world: World) -> None:
    """0031's function reads as its definer; where pg_trgm is installed its visibility is checked by
    test_search_typos.py (plain SQL too). Here, the run's database without the extension."""
    assert await rows_as(app_db, user(world.admin, "admin"), FUZZY_TITLES, ["post"]) == []
    await refused(app_db, ANON, FUZZY_TITLES, ["post"])


async def test_users_read_only_their_own_blocks_and_write_none(app_db: Database, owner_conn: asyncpg.Connection,
                                                               world: World) -> None:
    await owner_conn.execute("INSERT INTO public.user_blocks (blocker_id, blocked_id) VALUES ($1, $2)",
                             world.other, world.author)
    mine = "SELECT blocker_id, blocked_id FROM public.user_blocks"
    assert [tuple(r) for r in await rows_as(app_db, user(world.other), mine)] == [(world.other, world.author)]
    assert await rows_as(app_db, user(world.author), mine) == []
    assert await rows_as(app_db, user(world.admin, "admin"), mine) == []
    await refused(app_db, ANON, mine)
    await refused(app_db, user(world.author), "INSERT INTO public.user_blocks (blocker_id, blocked_id) "
                  "VALUES ($1, $2) RETURNING 1", world.author, world.other)
    await refused(app_db, user(world.other), "DELETE FROM public.user_blocks WHERE blocker_id = $1 RETURNING 1",
                  world.other)



async def test_users_read_their_own_notifications_and_only_mark_them_read(
        app_db: Database, owner_conn: asyncpg.Connection, world: World) -> None:
    note = await owner_conn.fetchval(
        "INSERT INTO public.notifications (user_id, kind, data) VALUES ($1, 'post.reply', '{}') RETURNING id",
        world.author)
    mine = "SELECT id, read_at FROM public.notifications"
    assert [r["id"] for r in await rows_as(app_db, user(world.author), mine)] == [note]
    assert await rows_as(app_db, user(world.author), mine + " WHERE user_id <> auth.uid()") == []
    for reader in (user(world.other), user(world.admin, "admin")):
        assert await rows_as(app_db, reader, mine) == []
    await refused(app_db, ANON, mine)
    mark = "UPDATE public.notifications SET read_at = $2 WHERE id = $1 RETURNING read_at"
    assert await rows_as(app_db, user(world.other), mark, note, None) == []
    # as over REST, marking is "read now": neither backdated nor undone
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    [marked] = await rows_as(app_db, user(world.author), mark, note, long_ago)
    assert marked["read_at"] is not None and marked["read_at"] > long_ago
    read = await owner_conn.fetchval(
        "INSERT INTO public.notifications (user_id, kind, read_at) VALUES ($1, 'post.reply', '2020-01-01Z') "
        "RETURNING id", world.author)
    [kept] = await rows_as(app_db, user(world.author), mark, read, None)
    assert kept["read_at"] == datetime(2020, 1, 1, tzinfo=UTC)
    for sql in ("UPDATE public.notifications SET kind = 'x' WHERE id = $1 RETURNING 1",
                "UPDATE public.notifications SET emailed_at = now() WHERE id = $1 RETURNING 1",
                "DELETE FROM public.notifications WHERE id = $1 RETURNING 1"):
        await refused(app_db, user(world.author), sql, note)
    await refused(app_db, user(world.author), "INSERT INTO public.notifications (user_id, kind) "
                  "VALUES ($1, 'post.reply') RETURNING 1", world.author)
    await refused(app_db, user(world.author), "SELECT * FROM private.notification_settings")

# ---------------------------------------------------------------- revoked, banned, deleted (migration 0029)

def token(user_id: uuid.UUID, role: str | None = None, *, iat_us: int | None = None, iat: int | None = None
          ) -> Identity:
    """A user's identity whose claims carry the issue time the database compares with the cutoff."""
    claims: dict[str, object] = {"sub": str(user_id), "role": "authenticated", "aud": "authenticated"}
    if role:
        claims["app_metadata"] = {"role": role}
    if iat_us is not None:
        claims["iat_us"] = iat_us
    if iat is not None:
        claims["iat"] = iat
    return user_identity(claims)


# Every write `authenticated` may make in SQL, as the world's author (admin-only ones as an admin, the
# session's as its host): the statement and the world's row that is its `$1`, if any.
TOKEN_WRITES = {
    "post insert": ("INSERT INTO public.community_posts (author_id, title) VALUES (auth.uid(), 'x') RETURNING id",
                    None),
    "post update": ("UPDATE public.community_posts SET title = 'y' WHERE id = $1 RETURNING id", "post"),
    "post delete": ("DELETE FROM public.community_posts WHERE id = $1 RETURNING id", "post"),
    "comment insert": ("INSERT INTO public.community_comments (post_id, author_id, content) "
                       "VALUES ($1, auth.uid(), 'x') RETURNING id", "post"),
    "comment update": ("UPDATE public.community_comments SET content = 'y' WHERE id = $1 RETURNING id", "comment"),
    "comment delete": ("SELECT 1 WHERE public.delete_comment($1)", "comment"),
    "vote insert": ("INSERT INTO public.community_votes (user_id, target_type, target_id, vote_type) "
                    "VALUES (auth.uid(), 'post', $1, 'upvote') RETURNING id", "post"),
    "vote update": ("UPDATE public.community_votes SET vote_type = 'downvote' WHERE user_id = auth.uid() "
                    "RETURNING id", None),
    "vote delete": ("DELETE FROM public.community_votes WHERE user_id = auth.uid() RETURNING id", None),
    "profile update": ("UPDATE public.my_profile SET bio = 'y' WHERE id = auth.uid() RETURNING id", None),
    "notification read": ("UPDATE public.notifications SET read_at = now() WHERE user_id = auth.uid() RETURNING id",
                          None),
}
ADMIN_WRITES = {
    "lesson update": ("UPDATE public.lessons SET title = 'y' WHERE id = $1 RETURNING id", "lesson"),
    "plan insert": ("INSERT INTO public.subscription_plans (name, price, features) VALUES ('x', 1, '{}') "
                    "RETURNING id", None),
}
HOST_WRITES = {"session update": ("UPDATE public.live_sessions SET title = 'y' WHERE id = $1 RETURNING id", "session")}
EVERY_WRITE = set(TOKEN_WRITES) | set(ADMIN_WRITES) | set(HOST_WRITES)


async def _writes_of(app_db: Database, world: World, who: dict[str, Identity]) -> dict[str, str]:
    """Each write's outcome for the identities in `who` (author, admin, host): 'ok' or the SQLSTATE."""
    rows_of = {"post": world.post, "comment": world.comment, "session": world.session, "lesson": world.free_lesson}
    outcomes: dict[str, str] = {}
    for writes, identity in ((TOKEN_WRITES, who["author"]), (ADMIN_WRITES, who["admin"]),
                             (HOST_WRITES, who["host"])):
        for name, (sql, target) in writes.items():
            try:
                rows = await rows_as(app_db, identity, sql, *([rows_of[target]] if target else []))
                outcomes[name] = "ok" if rows else "no row"
            except asyncpg.PostgresError as exc:
                outcomes[name] = exc.sqlstate or "?"
    return outcomes


async def _rows_to_change(owner_conn: asyncpg.Connection, world: World) -> None:
    await owner_conn.execute("INSERT INTO public.community_votes (user_id, target_type, target_id, vote_type) "
                             "VALUES ($1, 'comment', $2, 'upvote')", world.author, world.comment)
    await owner_conn.execute("INSERT INTO public.notifications (user_id, kind) VALUES ($1, 'post.reply')",
                             world.author)


async def test_tokens_issued_before_the_accounts_cutoff_write_nothing_and_later_ones_write(
        app_db: Database, owner_conn: asyncpg.Connection, world: World) -> None:
    """REST answers 401 `token_revoked`; PostgREST, with the same JWT, must not write either."""
    await _rows_to_change(owner_conn, world)
    cutoffs: dict[uuid.UUID, int] = {}
    for account in (world.author, world.admin, world.host):
        cutoffs[account] = await owner_conn.fetchval(
            "SELECT (extract(epoch FROM private.revoke_tokens($1, 'revoked')) * 1000000)::bigint", account)

    def at(offset_us: int) -> dict[str, Identity]:
        return {"author": token(world.author, iat_us=cutoffs[world.author] + offset_us),
                "admin": token(world.admin, "admin", iat_us=cutoffs[world.admin] + offset_us),
                "host": token(world.host, "host", iat_us=cutoffs[world.host] + offset_us)}

    assert await _writes_of(app_db, world, at(0)) == dict.fromkeys(EVERY_WRITE, "PT401"), "issued at the cutoff"
    assert await _writes_of(app_db, world, at(1)) == dict.fromkeys(EVERY_WRITE, "ok"), "a microsecond later"


async def test_a_token_without_iat_us_counts_from_the_start_of_its_iat_second(
        app_db: Database, owner_conn: asyncpg.Connection, world: World) -> None:
    """As persistence.identity.token_issued_us: a Supabase token of the cutoff's own second is refused."""
    cutoff_us: int = await owner_conn.fetchval(
        "SELECT (extract(epoch FROM private.revoke_tokens($1, 'revoked')) * 1000000)::bigint", world.author)
    sql = TOKEN_WRITES["post insert"][0]
    with pytest.raises(asyncpg.PostgresError) as refusal:
        await rows_as(app_db, token(world.author, iat=cutoff_us // 1_000_000), sql)
    assert refusal.value.sqlstate == "PT401"
    await refused(app_db, token(world.author), sql, error=asyncpg.PostgresError)  # no issue time at all
    assert len(await rows_as(app_db, token(world.author, iat=cutoff_us // 1_000_000 + 1), sql)) == 1


async def test_a_banned_or_deleted_account_writes_nothing_whatever_its_tokens_age(
        app_db: Database, owner_conn: asyncpg.Connection, world: World) -> None:
    """A ban set without a revocation (Supabase's dashboard) still stops writes while it lasts."""
    fresh = {"author": token(world.author, iat_us=2**52), "admin": token(world.admin, "admin", iat_us=2**52),
             "host": token(world.host, "host", iat_us=2**52)}
    await _rows_to_change(owner_conn, world)
    accounts = [world.author, world.admin, world.host]
    await owner_conn.execute("UPDATE auth.users SET banned_until = now() + interval '1 hour' WHERE id = ANY($1)",
                             accounts)
    assert await _writes_of(app_db, world, fresh) == dict.fromkeys(EVERY_WRITE, "PT401")
    await owner_conn.execute("UPDATE auth.users SET banned_until = now() - interval '1 second' WHERE id = ANY($1)",
                             accounts)
    assert await _writes_of(app_db, world, fresh) == dict.fromkeys(EVERY_WRITE, "ok"), "a ban that ended is no ban"
    await owner_conn.execute("UPDATE auth.users SET deleted_at = now() WHERE id = ANY($1)", accounts)
    assert await _writes_of(app_db, world, fresh) == dict.fromkeys(EVERY_WRITE, "PT401")


async def test_a_revoked_token_still_reads_until_it_expires(app_db: Database, owner_conn: asyncpg.Connection,
                                                             world: World) -> None:
    """The guard is on writes only (docs/security.md): reads end with the token's `exp`."""
    await owner_conn.execute("SELECT private.revoke_tokens($1, 'revoked')", world.author)
    stale = token(world.author, iat_us=1)
    assert len(await rows_as(app_db, stale, "SELECT id FROM public.my_profile")) == 1
    assert len(await rows_as(app_db, stale, "SELECT id FROM public.community_posts WHERE id = $1", world.post)) == 1


# ---------------------------------------------------------------- sessions

async def test_meeting_url_is_for_the_host_admins_and_seat_holders_only(app_db: Database, world: World) -> None:
    for identity in (user(world.other), user(world.seat_holder), user(world.host, "host")):
        await refused(app_db, identity, "SELECT meeting_url FROM public.live_sessions WHERE id = $1", world.session)
        await refused(app_db, identity, "SELECT * FROM public.live_sessions WHERE id = $1", world.session)
    titled = await rows_as(app_db, user(world.other), "SELECT title FROM public.live_sessions WHERE id = $1",
                           world.session)
    assert [r["title"] for r in titled] == ["a session"]
    url = "SELECT (SELECT meeting_url FROM public.session_meeting_urls(ARRAY[$1::uuid])) AS url"
    expected = {world.other: None, world.waitlisted: None, world.seat_holder: SECRET_URL, world.host: SECRET_URL}
    for user_id, shown in expected.items():
        assert (await rows_as(app_db, user(user_id, "host" if user_id == world.host else None), url,
                              world.session))[0]["url"] == shown
    assert (await rows_as(app_db, user(world.admin, "admin"), url, world.session))[0]["url"] == SECRET_URL
    await refused(app_db, ANON, url, world.session)
    # the host still edits it, as over REST
    changed = await rows_as(app_db, user(world.host, "host"),
                            "UPDATE public.live_sessions SET meeting_url = 'https://meet.example/new' WHERE id = $1 "
                            "RETURNING id", world.session)
    assert [r["id"] for r in changed] == [world.session]


async def test_hosts_edit_sessions_in_sql_only_as_rest_allows(app_db: Database, owner_conn: asyncpg.Connection,
                                                               world: World) -> None:
    host = user(world.host, "host")
    for invalid in ("UPDATE public.live_sessions SET max_participants = 0 WHERE id = $1 RETURNING id",
                    "UPDATE public.live_sessions SET duration = interval '25 hours' WHERE id = $1 RETURNING id",
                    "UPDATE public.live_sessions SET scheduled_at = now() - interval '1 hour' WHERE id = $1 "
                    "RETURNING id"):
        with pytest.raises(asyncpg.CheckViolationError):
            await rows_as(app_db, host, invalid, world.session)
    retitle = "UPDATE public.live_sessions SET title = 'rewritten' WHERE id = $1 RETURNING id"
    assert len(await rows_as(app_db, host, retitle, world.session)) == 1
    await owner_conn.execute("UPDATE public.live_sessions SET status = 'ended' WHERE id = $1", world.session)
    await refused(app_db, host, retitle, world.session)


async def test_room_moderation_reads_as_get_moderation_shows_it_and_is_written_by_the_hub_only(
        app_db: Database, owner_conn: asyncpg.Connection, world: World) -> None:
    """The room's settings and its running mutes, for the host, admins and seat holders; kicks and ended
    mutes for nobody (REST's `GET /api/sessions/{id}/moderation`, migration 0021)."""
    await owner_conn.execute("INSERT INTO public.session_room_settings (session_id, slow_mode_seconds, chat_locked) "
                             "VALUES ($1, 30, true)", world.session)
    await owner_conn.execute(
        """INSERT INTO public.session_room_sanctions (session_id, user_id, muted_until, kicked_at)
           VALUES ($1, $2, now() + interval '5 minutes', NULL), ($1, $3, now() - interval '1 minute', NULL),
                  ($1, $4, NULL, now())""", world.session, world.seat_holder, world.waitlisted, world.other)
    settings = "SELECT slow_mode_seconds, chat_locked FROM public.session_room_settings WHERE session_id = $1"
    mutes = "SELECT user_id FROM public.session_room_sanctions WHERE session_id = $1"
    for reader in (user(world.host, "host"), user(world.seat_holder), user(world.admin, "admin")):
        assert [tuple(r) for r in await rows_as(app_db, reader, settings, world.session)] == [(30, True)]
        assert [r["user_id"] for r in await rows_as(app_db, reader, mutes, world.session)] == [world.seat_holder]
    for reader in (user(world.waitlisted), user(world.other)):
        assert await rows_as(app_db, reader, settings, world.session) == []
        assert await rows_as(app_db, reader, mutes, world.session) == []
    for reader in (ANON, user(world.admin, "admin")):
        await refused(app_db, reader, "SELECT kicked_at FROM public.session_room_sanctions")
    await refused(app_db, user(world.host, "host"),
                  "UPDATE public.session_room_settings SET chat_locked = false WHERE session_id = $1", world.session)
    await refused(app_db, user(world.host, "host"),
                  "DELETE FROM public.session_room_sanctions WHERE session_id = $1", world.session)


# ---------------------------------------------------------------- the event log and functions

async def test_clients_cannot_append_events_or_read_the_log(app_db: Database, world: World) -> None:
    for identity in (ANON, user(world.other), user(world.admin, "admin")):
        await refused(app_db, identity, "SELECT realtime.append_event($1, 'xp.awarded', '{\"amount\": 1000}')",
                      f"user:{world.author}")
        await refused(app_db, identity, "SELECT seq FROM realtime.channel_heads LIMIT 1")
        await refused(app_db, identity, "SELECT realtime.prune_events(NULL, 0)")
        # the listeners trust hub_events / hub_state notifications (test servers: the owner is a superuser)
        await refused(app_db, identity, "SELECT pg_notify('hub_events', $1)",
                      f'{{"c": "user:{world.author}", "s": 1, "e": "xp.awarded", "d": {{}}}}')


# What each role may EXECUTE in the hub's schemas: nothing else (PostgreSQL grants PUBLIC by default).
# `private.text_items_fit` is the pure helper of 0016's CHECK constraints, which run it as the writer;
# without USAGE on `private` no client can name it.
CALLABLE = {
    "anon": {"public.is_admin", "public.is_host", "public.calculate_user_level",
             "public.lesson_with_content", "private.text_items_fit"},
    "authenticated": {"public.is_admin", "public.is_host", "public.calculate_user_level",
                      "public.lesson_with_content", "public.session_meeting_urls",
                      "public.delete_comment", "private.text_items_fit", "public.search_content",
                      "public.search_titles_fuzzy",
                      # 0029's restrictive write policies run it as the writer; unnameable (no USAGE on private)
                      "private.require_live_token"},
}


@pytest.mark.parametrize("role", sorted(CALLABLE))
async def test_clients_execute_exactly_the_granted_functions(owner_conn: asyncpg.Connection, role: str) -> None:
    rows = await owner_conn.fetch(
        """SELECT format('%s.%s', n.nspname, p.proname) AS fn
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname IN ('public', 'realtime', 'private', 'billing')
             AND has_function_privilege($1, p.oid, 'EXECUTE')""",
        role)
    assert {r["fn"] for r in rows} == CALLABLE[role]


async def test_definer_functions_search_pg_temp_last_and_clients_cannot_create_temporary_tables(
        app_db: Database, owner_conn: asyncpg.Connection) -> None:
    """Without `pg_temp` in its search_path a definer function resolves names in the caller's temporary
    schema first; and no client role gets a temporary schema to plant objects in."""
    rows = await owner_conn.fetch(
        """SELECT p.oid::regprocedure::text AS fn,
                  (SELECT substr(c, length('search_path=') + 1) FROM unnest(p.proconfig) c
                   WHERE c LIKE 'search_path=%') AS path
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE p.prosecdef AND n.nspname IN ('public', 'realtime', 'private', 'billing', 'auth')""")
    assert len(rows) >= 10
    assert {r["fn"]: r["path"] for r in rows} == {r["fn"]: "pg_catalog, public, pg_temp" for r in rows}
    for identity in (ANON, user(uuid.uuid4()), SERVICE):
        await refused(app_db, identity, "CREATE TEMPORARY TABLE shadow (x int)")


# ---------------------------------------------------------------- the grant matrix (docs/security.md)

ALL = "*"  # every column of the table
PROFILE_PUBLIC = {"id", "full_name", "avatar_url", "bio", "trading_experience", "current_level", "total_xp",
                  "created_at"}
PROFILE_EDITABLE = {"full_name", "avatar_url", "bio", "timezone", "preferred_language", "trading_experience",
                    "trading_goals"}
LESSON_CATALOGUE = {"id", "level_id", "gate_id", "title", "subtitle", "description", "content_type", "xp_reward",
                    "estimated_time", "difficulty", "prerequisites", "is_active", "order_index", "created_at",
                    "updated_at"}
LESSON_WRITABLE = {"level_id", "gate_id", "title", "subtitle", "description", "content_type", "content_data",
                   "assessment_data", "xp_reward", "estimated_time", "difficulty", "prerequisites", "is_active",
                   "order_index"}
PLAN_WRITABLE = {"name", "description", "plan_type", "price", "currency", "stripe_price_id", "features",
                 "is_active", "trial_days", "max_users", "level_access_limit"}
COMMENT_READABLE = {"id", "post_id", "author_id", "parent_comment_id", "content", "upvotes_count",
                    "downvotes_count", "is_deleted", "created_at", "updated_at", "sort_path", "depth"}
SESSION_EDITABLE = {"title", "description", "session_type", "scheduled_at", "duration", "max_participants",
                    "meeting_url", "recording_url", "is_recorded", "prerequisites", "tags"}

# Server-owned thread columns that migration 0012 adds; the grant follows them when they exist.
NOT_YET_MIGRATED = {"sort_path", "depth"}

# table → role → privilege → columns (ALL = every column; DELETE: ALL or nothing). Anything absent: none.
MATRIX: dict[str, dict[str, dict[str, set[str] | str]]] = {
    "user_profiles": {"authenticated": {"SELECT": PROFILE_PUBLIC}},
    "my_profile": {"authenticated": {"SELECT": ALL, "UPDATE": PROFILE_EDITABLE}},
    "lessons": {
        "anon": {"SELECT": LESSON_CATALOGUE},
        "authenticated": {"SELECT": LESSON_CATALOGUE, "INSERT": LESSON_WRITABLE | {"created_by"},
                          "UPDATE": LESSON_WRITABLE, "DELETE": ALL},
    },
    "lesson_popularity": {"anon": {"SELECT": ALL}, "authenticated": {"SELECT": ALL}},
    "user_learning_stats": {"authenticated": {"SELECT": ALL}},
    "user_progress": {"authenticated": {"SELECT": ALL}},
    "user_streaks": {"authenticated": {"SELECT": ALL}},
    "user_achievements": {"authenticated": {"SELECT": ALL}},
    "user_subscriptions": {"authenticated": {"SELECT": ALL}},
    "user_activity_log": {"authenticated": {"SELECT": {"id", "user_id", "activity_type", "entity_type", "entity_id",
                                                       "metadata", "created_at"}}},
    "leaderboard": {"authenticated": {"SELECT": ALL}},
    "achievements": {"anon": {"SELECT": ALL}, "authenticated": {"SELECT": ALL}},
    "community_posts": {"authenticated": {
        "SELECT": ALL, "INSERT": {"author_id", "title", "content", "post_type", "category", "tags"},
        "UPDATE": {"title", "content", "post_type", "category", "tags", "is_pinned", "is_locked"}, "DELETE": ALL}},
    "community_comments": {"authenticated": {
        "SELECT": COMMENT_READABLE, "INSERT": {"post_id", "author_id", "parent_comment_id", "content"},
        "UPDATE": {"content"}}},
    "community_votes": {"authenticated": {
        "SELECT": ALL, "INSERT": {"user_id", "target_type", "target_id", "vote_type"}, "UPDATE": {"vote_type"},
        "DELETE": ALL}},
    "live_sessions": {"authenticated": {
        "SELECT": {"id", "title", "description", "host_id", "session_type", "scheduled_at", "duration",
                   "max_participants", "current_participants", "recording_url", "is_recorded", "status",
                   "prerequisites", "tags", "created_at", "updated_at"},
        "INSERT": SESSION_EDITABLE | {"host_id"}, "UPDATE": SESSION_EDITABLE}},
    "session_participants": {"authenticated": {"SELECT": ALL}},
    "session_messages": {"authenticated": {"SELECT": ALL}},
    "session_message_votes": {"authenticated": {"SELECT": ALL}},
    "session_room_settings": {"authenticated": {"SELECT": ALL}},
    "session_room_sanctions": {"authenticated": {"SELECT": {"session_id", "user_id", "muted_until"}}},
    "user_blocks": {"authenticated": {"SELECT": ALL}},
    "notifications": {"authenticated": {"SELECT": ALL, "UPDATE": {"read_at"}}},
    "subscription_plans": {"anon": {"SELECT": ALL},
                           "authenticated": {"SELECT": ALL, "INSERT": PLAN_WRITABLE, "UPDATE": PLAN_WRITABLE}},
}


@pytest.mark.parametrize("role", ["anon", "authenticated"])
async def test_column_grants_are_exactly_the_rest_matrix(owner_conn: asyncpg.Connection, role: str) -> None:
    """Every table and view of `public`, every column: what `role` may SELECT, INSERT, UPDATE (and DELETE)."""
    rows = await owner_conn.fetch(
        """SELECT c.relname AS rel, a.attname AS col,
                  has_column_privilege($1, c.oid, a.attnum, 'SELECT') AS s,
                  has_column_privilege($1, c.oid, a.attnum, 'INSERT') AS i,
                  has_column_privilege($1, c.oid, a.attnum, 'UPDATE') AS u,
                  has_table_privilege($1, c.oid, 'DELETE') AS d
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p')""", role)
    columns: dict[str, set[str]] = {}
    actual: dict[str, dict[str, set[str]]] = {}
    for r in rows:
        columns.setdefault(r["rel"], set()).add(r["col"])
        for privilege, held in (("SELECT", r["s"]), ("INSERT", r["i"]), ("UPDATE", r["u"]), ("DELETE", r["d"])):
            if held:
                actual.setdefault(r["rel"], {}).setdefault(privilege, set()).add(r["col"])
    expected: dict[str, dict[str, set[str]]] = {}
    for rel, roles in MATRIX.items():
        for privilege, cols in roles.get(role, {}).items():
            expected.setdefault(rel, {})[privilege] = (
                columns[rel] if cols == ALL else set(cols) - (NOT_YET_MIGRATED - columns[rel]))
    assert actual == expected


async def test_clients_have_no_sequences_and_no_schemas_beyond_public_and_auth(owner_conn: asyncpg.Connection) -> None:
    for role in ("anon", "authenticated"):
        sequences = await owner_conn.fetch(
            """SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind = 'S' AND n.nspname IN ('public', 'realtime', 'private', 'billing')
                 AND (has_sequence_privilege($1, c.oid, 'USAGE') OR has_sequence_privilege($1, c.oid, 'SELECT'))""",
            role)
        assert sequences == []
        schemas = await owner_conn.fetch(
            """SELECT nspname FROM pg_namespace
               WHERE nspname IN ('public', 'auth', 'realtime', 'private', 'billing')
                 AND has_schema_privilege($1, oid, 'USAGE') ORDER BY nspname""", role)
        assert [r["nspname"] for r in schemas] == ["auth", "public"]


# ---------------------------------------------------------------- the job queue (migration 0024)

async def test_no_client_reads_writes_or_wakes_the_job_queue(app_db: Database, world: World) -> None:
    """Jobs carry mail payloads (addresses, links) and are the hub's alone: REST has no job route."""
    for identity in (ANON, user(world.other), user(world.admin, "admin")):
        await refused(app_db, identity, "SELECT count(*) FROM private.jobs")
        await refused(app_db, identity, "INSERT INTO private.jobs (kind) VALUES ('mail.send') RETURNING id")
        await refused(app_db, identity, "SELECT pg_notify('hub_jobs', '')")
