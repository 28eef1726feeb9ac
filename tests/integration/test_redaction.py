"""Deleted posts, comments and room messages are redacted wherever a client can still read them: a resume
over /ws, the history route and REST show every logged view of them with the author's text null and
`redacted: true`, with the channel's sequence numbers untouched (migration 0020)."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from persistence import community
from persistence.db import Database, set_identity
from persistence.identity import SERVICE, user_identity
from tests.helpers.api import Account, admin, signup
from tests.helpers.ws import ProtocolClient, assert_continuous
from tests.integration.test_comments import reply
from tests.integration.test_live_room import joined, live_room, publish
from tests.integration.test_posts import head, new_post
from tests.integration.test_reports import new_post as reported_post
from tests.integration.test_reports import queue_entry, report, resolve
from tests.integration.test_sessions import host_account, mint_users

Frame = dict[str, Any]


class Boom(Exception):
    pass


def secret(label: str) -> str:
    return f"{label}-{secrets.token_hex(8)}"


@dataclass
class ReadBack:
    """One channel read after `since` both ways a client can: the history route and a /ws resume."""

    history: list[Frame]  # items: {seq, event, data, ts}
    resumed: list[Frame]  # event frames
    raw: str  # the history response's bytes and every frame of the resume, as received

    def views(self, entity_id: str) -> list[tuple[str, Frame]]:
        """(event, data) of every logged view of `entity_id`, from the history; the resume must agree."""
        from_history = [(i["event"], i["data"]) for i in self.history if i["data"].get("id") == entity_id]
        from_resume = [(e["event"], e["data"]) for e in self.resumed if e["data"].get("id") == entity_id]
        assert from_history == from_resume
        return from_history


async def read_back(hub_url: str, client: httpx.AsyncClient, reader: Account | str, channel: str,
                    since: int) -> ReadBack:
    token = reader if isinstance(reader, str) else reader.access_token
    response = await client.get(f"/api/channels/{channel}/events", params={"since": since, "limit": 1000},
                                headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    history = response.json()["items"]
    assert [i["seq"] for i in history] == list(range(since + 1, response.json()["head"] + 1)), "no gap"
    ws = await ProtocolClient.open(hub_url, token)
    try:
        reply_frame = await ws.subscribe(channel, since)
        assert reply_frame["ok"], reply_frame
        resumed = await ws.wait_events(channel, reply_frame["result"]["seq"] - since)
        assert_continuous(resumed, since, reply_frame["result"]["seq"])
        raw = response.text + "".join(json.dumps(frame, ensure_ascii=False) for frame in ws.frames)
    finally:
        await ws.close()
    return ReadBack(history, resumed, raw)


def assert_redacted(data: Frame, *fields: str) -> None:
    assert data["redacted"] is True, data
    assert {field: data[field] for field in fields} == dict.fromkeys(fields), data


# ------------------------------------------------------------------------------------------------- comments


@pytest.mark.parametrize("deleter", ["author", "admin"])
async def test_a_deleted_comment_is_redacted_in_resume_history_and_rest_with_no_seq_gap(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection, deleter: str) -> None:
    author, reader = await signup(client), await signup(client)
    post = await new_post(client, reader)
    thread = f"thread:{post['id']}"
    before = await head(owner_conn, thread)
    first, edited = secret("first words"), secret("second thoughts")
    doomed = await reply(client, author, post["id"], first)
    kept = await reply(client, reader, post["id"], "this one stays", doomed["id"])
    patched = await client.patch(f"/api/comments/{doomed['id']}", json={"content": edited}, headers=author.headers)
    assert patched.status_code == 200
    by = author if deleter == "author" else await admin(client, owner_conn)
    assert (await client.delete(f"/api/comments/{doomed['id']}", headers=by.headers)).status_code == 204

    got = await read_back(hub_url, client, reader, thread, before)
    views = got.views(doomed["id"])
    assert [event for event, _ in views] == ["comment.created", "comment.updated", "comment.deleted"]
    for _, data in views:
        assert_redacted(data, "content")
        assert (data["author_id"], data["post_id"], data["depth"]) == (str(author.user_id), post["id"], 0)
    assert views[0][1]["created_at"] == doomed["created_at"], "times and ids stay, so the thread still renders"
    [(_, reply_view)] = got.views(kept["id"])
    assert (reply_view["content"], reply_view["redacted"], reply_view["parent_comment_id"]) == (
        "this one stays", False, doomed["id"])
    assert first not in got.raw and edited not in got.raw

    shown = await client.get(f"/api/comments/{doomed['id']}", headers=reader.headers)
    thread_page = await client.get(f"/api/posts/{post['id']}/comments", headers=reader.headers)
    for body in (shown.text, thread_page.text):
        assert first not in body and edited not in body
    assert (shown.json()["content"], shown.json()["redacted"], shown.json()["is_deleted"]) == (None, True, True)
    logged = await owner_conn.fetchval("SELECT string_agg(data::text, '') FROM realtime.events WHERE channel = $1",
                                       thread)
    assert first not in logged and edited not in logged


async def test_a_comment_deleted_through_plain_sql_is_redacted_too(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    """`public.delete_comment` is open to users in SQL (PostgREST on Supabase): the log follows it as well."""
    author = await signup(client)
    post = await new_post(client, author)
    words = secret("said in haste")
    comment = await reply(client, author, post["id"], words)
    claims = {"sub": str(author.user_id), "role": "authenticated", "aud": "authenticated"}
    async with app_db.transaction(user_identity(claims)) as conn:
        assert await conn.fetchval("SELECT public.delete_comment($1)", uuid.UUID(comment["id"])) is True
    got = await read_back(hub_url, client, author, f"thread:{post['id']}", 0)
    [(event, data)] = got.views(comment["id"])
    assert event == "comment.created"
    assert_redacted(data, "content")
    assert words not in got.raw


async def test_a_rolled_back_delete_leaves_the_logged_text_in_place(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    author = await signup(client)
    post = await new_post(client, author)
    words = secret("still here")
    comment = await reply(client, author, post["id"], words)
    thread = f"thread:{post['id']}"

    async def logged_views() -> list[Frame]:
        rows = await owner_conn.fetch("SELECT data FROM realtime.events WHERE channel = $1 ORDER BY seq", thread)
        return [r["data"] for r in rows]

    claims = {"sub": str(author.user_id), "role": "authenticated", "aud": "authenticated"}
    with pytest.raises(Boom):
        async with app_db.transaction(user_identity(claims)) as conn:
            assert await community.soft_delete_comment(conn, uuid.UUID(comment["id"]))
            await set_identity(conn, SERVICE)
            inside = await conn.fetch("SELECT data FROM realtime.events WHERE channel = $1", thread)
            assert [r["data"]["redacted"] for r in inside] == [True], "the rewrite is part of the delete"
            raise Boom
    [view] = await logged_views()
    assert (view["content"], view["redacted"]) == (words, False)
    shown = await client.get(f"/api/comments/{comment['id']}", headers=author.headers)
    assert (shown.json()["content"], shown.json()["is_deleted"]) == (words, False)


async def test_an_accounts_comments_and_chat_lines_are_redacted_when_the_account_row_goes(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    """Cascades count as deletes: whatever removes the account (its rows go with `auth.users`), the log
    keeps none of its text."""
    leaving, staying = await signup(client), await signup(client)
    post = await new_post(client, staying)
    words = secret("my last comment")
    comment = await reply(client, leaving, post["id"], words)
    host = await host_account(client, owner_conn)
    channel, [(member_id, member_token)] = await live_room(owner_conn, host, 1)
    ws, start = await joined(hub_url, member_token, channel)
    line = secret("my last chat line")
    said = (await publish(ws, channel, "chat.message", {"text": line}))["result"]["message"]
    await ws.close()
    for user_id in (leaving.user_id, member_id):
        await owner_conn.execute("DELETE FROM auth.users WHERE id = $1", user_id)

    thread = await read_back(hub_url, client, staying, f"thread:{post['id']}", 0)
    [(_, view)] = thread.views(comment["id"])
    assert_redacted(view, "content")
    room = await read_back(hub_url, client, host, channel, start["seq"])
    [(_, view)] = room.views(said["id"])
    assert_redacted(view, "content")
    assert words not in thread.raw and line not in room.raw


# ---------------------------------------------------------------------------------------------------- posts


@pytest.mark.parametrize("deleter", ["author", "admin"])
async def test_a_deleted_post_is_redacted_on_the_feed_and_its_thread_with_no_seq_gap(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection, deleter: str) -> None:
    author, reader, moderator = await signup(client), await signup(client), await admin(client, owner_conn)
    before = await head(owner_conn, "feed")
    title, body, category, tag = secret("title"), secret("body"), secret("cat"), secret("tag")
    post = await new_post(client, author, title=title, content=body, category=category, tags=[tag])
    other = await new_post(client, reader, content="unrelated")
    later = secret("edited body")
    assert (await client.patch(f"/api/posts/{post['id']}", json={"content": later},
                               headers=author.headers)).status_code == 200
    assert (await client.post(f"/api/posts/{post['id']}/lock", headers=moderator.headers)).status_code == 200
    said = secret("a comment under it")
    await reply(client, moderator, post["id"], said)
    thread = f"thread:{post['id']}"
    assert await head(owner_conn, thread) == 3  # post.updated, post.locked, comment.created
    by = author if deleter == "author" else moderator
    assert (await client.delete(f"/api/posts/{post['id']}", headers=by.headers)).status_code == 204

    got = await read_back(hub_url, client, reader, "feed", before)
    views = got.views(post["id"])
    assert [event for event, _ in views] == ["post.created", "post.updated", "post.locked", "post.deleted"]
    for _, data in views[:-1]:
        assert_redacted(data, "title", "content", "category", "tags")
        assert (data["author_id"], data["created_at"]) == (str(author.user_id), post["created_at"])
    assert views[-1][1] == {"id": post["id"]}
    [(_, untouched)] = got.views(other["id"])
    assert (untouched["content"], untouched["redacted"]) == ("unrelated", False)
    for text in (title, body, category, tag, later):
        assert text not in got.raw

    # The thread of a deleted post is not readable any more; its log keeps no text either.
    gone = await client.get(f"/api/channels/{thread}/events", headers=reader.headers)
    assert gone.status_code == 404
    logged = await owner_conn.fetch("SELECT seq, data FROM realtime.events WHERE channel = $1 ORDER BY seq", thread)
    assert [r["seq"] for r in logged] == [1, 2, 3, 4]
    assert [r["data"].get("redacted") for r in logged] == [True, True, True, None]  # the last: post.deleted {id}
    for text in (title, body, category, tag, later, said):
        assert text not in "".join(json.dumps(r["data"]) for r in logged)


async def test_a_post_its_author_deletes_in_plain_sql_is_redacted_on_the_feed(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection, app_db: Database) -> None:
    author = await signup(client)
    before = await head(owner_conn, "feed")
    title = secret("posted then regretted")
    post = await new_post(client, author, title=title)
    claims = {"sub": str(author.user_id), "role": "authenticated", "aud": "authenticated"}
    async with app_db.transaction(user_identity(claims)) as conn:
        assert await conn.execute("DELETE FROM public.community_posts WHERE id = $1", uuid.UUID(post["id"])) \
            == "DELETE 1"
    got = await read_back(hub_url, client, author, "feed", before)
    [(event, data)] = got.views(post["id"])
    assert event == "post.created"
    assert_redacted(data, "title", "content", "category", "tags")
    assert title not in got.raw


# ----------------------------------------------------------------------------------------------- room chat


async def test_a_chat_line_the_host_removes_is_redacted_in_resume_history_and_rest_with_no_seq_gap(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(author_id, token)] = await live_room(owner_conn, host, 1)
    sid = channel.removeprefix("session:")
    ws, start = await joined(hub_url, token, channel)
    words = secret("rude words")
    line = (await publish(ws, channel, "chat.message", {"text": words}))["result"]["message"]
    question = (await publish(ws, channel, "question.ask", {"text": "a fair question"}))["result"]["message"]
    await ws.wait_events(channel, 2)
    await ws.close()
    assert (await client.delete(f"/api/sessions/{sid}/messages/{line['id']}", headers=host.headers)).status_code == 204

    got = await read_back(hub_url, client, token, channel, start["seq"])
    [(event, data), removal] = got.views(line["id"])
    assert event == "chat.message"
    assert_redacted(data, "content")
    assert removal == ("chat.deleted", {"id": line["id"]})
    assert (data["author_id"], data["kind"], data["created_at"]) == (str(author_id), "chat", line["created_at"])
    [(_, asked)] = got.views(question["id"])
    assert (asked["content"], asked["redacted"]) == ("a fair question", False)
    assert words not in got.raw

    history = await client.get(f"/api/sessions/{sid}/messages", headers={"Authorization": f"Bearer {token}"})
    assert words not in history.text
    first = history.json()["items"][0]
    assert (first["id"], first["content"], first["redacted"], first["is_deleted"]) == (line["id"], None, True, True)


# ------------------------------------------------------------------------------------------------ the index


async def test_the_rewrite_reads_the_deleted_entitys_rows_through_the_index_not_the_channels_log(
        owner_conn: asyncpg.Connection) -> None:
    """A busy channel (the feed grows with every post) must not be scanned per delete: the statement of
    `private.redact_events`, planned as the function plans it (generic, parameters unknown), walks
    `idx_realtime_events_view_id`."""
    channel = f"thread:{uuid.uuid4()}"
    await owner_conn.execute(
        """INSERT INTO realtime.events (channel, seq, event, data)
           SELECT $1, n, 'comment.created', jsonb_build_object('id', gen_random_uuid(), 'content', 'x')
           FROM generate_series(1, 5000) n""", channel)
    try:
        await owner_conn.execute("ANALYZE realtime.events")
        function = await owner_conn.fetchrow("SELECT prosrc, proargnames FROM pg_proc "
                                             "WHERE oid = 'private.redact_events(text, uuid, text[])'::regprocedure")
        body = function["prosrc"]
        for position, name in enumerate(function["proargnames"], 1):
            body = re.sub(rf"\b{name}\b", f"${position}", body)
        async with owner_conn.transaction():
            await owner_conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            await owner_conn.execute(f"PREPARE redact_plan(text, uuid, text[]) AS {body}")
            plan = "\n".join(r[0] for r in await owner_conn.fetch(
                f"EXPLAIN EXECUTE redact_plan('{channel}', '{uuid.uuid4()}', ARRAY['content'])"))
            await owner_conn.execute("DEALLOCATE redact_plan")
    finally:
        await owner_conn.execute("DELETE FROM realtime.events WHERE channel = $1", channel)
    assert "idx_realtime_events_view_id" in plan, plan
    assert "Seq Scan" not in plan, plan


async def hide_by_reports(client: httpx.AsyncClient, owner_conn: asyncpg.Connection,
                          *targets: tuple[str, str]) -> None:
    """Three distinct users (the suite's REPORT_HIDE_THRESHOLD) report each (type, id) in turn: it is hidden
    (a comment before its post, which takes its comments out of sight with it)."""
    reporters = await mint_users(owner_conn, 3)
    for target_type, target_id in targets:
        for _, headers in reporters:
            assert (await report(client, headers, target_type, target_id)).status_code == 201


async def test_hidden_content_leaves_history_resume_and_live_edits_until_a_dismissal_writes_it_back(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss, author, bystander = await admin(client, owner_conn), await signup(client), await signup(client)
    feed_before = await head(owner_conn, "feed")
    title, first = secret("SECRET-TITLE"), secret("SECRET-COMMENT")
    post_id = await reported_post(client, author, title)
    open_post = await reported_post(client, bystander)
    thread = f"thread:{open_post}"
    comment_id = (await reply(client, author, open_post, first))["id"]
    await hide_by_reports(client, owner_conn, ("comment", comment_id), ("post", post_id))

    feed = await read_back(hub_url, client, bystander, "feed", feed_before)
    in_thread = await read_back(hub_url, client, bystander, thread, 0)
    assert title not in feed.raw and first not in in_thread.raw
    [(_, post_view)] = feed.views(post_id)
    assert (post_view["title"], post_view["content"], post_view["category"], post_view["tags"],
            post_view["hidden"]) == (None, None, None, None, True)
    [(_, comment_view)] = in_thread.views(comment_id)
    assert (comment_view["content"], comment_view["hidden"], comment_view["author_id"]) == (
        None, True, str(author.user_id))
    # the hidden post's own thread is gone for others, as the post is over REST
    assert (await client.get(f"/api/channels/thread:{post_id}/events", headers=bystander.headers)).status_code == 404
    assert (await client.get(f"/api/channels/thread:{post_id}/events", headers=author.headers)).status_code == 200

    # an edit of the hidden comment goes out, live and in the log, without its text
    edited = secret("SECRET-EDIT")
    watcher = await ProtocolClient.open(hub_url, bystander.access_token)
    try:
        assert (await watcher.subscribe(thread))["ok"]
        patched = await client.patch(f"/api/comments/{comment_id}", json={"content": edited}, headers=author.headers)
        assert patched.status_code == 200 and patched.json()["content"] == edited
        [live] = await watcher.wait_events(thread, 1)
    finally:
        await watcher.close()
    assert (live["event"], live["data"]["content"], live["data"]["hidden"]) == ("comment.updated", None, True)
    assert edited not in json.dumps(watcher.frames)
    assert edited not in (await read_back(hub_url, client, bystander, thread, 0)).raw
    # the author (and admins) still read it over REST
    for reader in (author, boss):
        shown = await client.get(f"/api/comments/{comment_id}", headers=reader.headers)
        assert shown.json()["content"] == edited

    for target in (post_id, comment_id):
        entry = await queue_entry(client, boss, target)
        assert entry is not None
        assert (await resolve(client, boss, entry["reports"][0]["id"], "dismiss")).status_code == 200
    [(_, restored_post)] = (await read_back(hub_url, client, bystander, "feed", feed_before)).views(post_id)
    assert restored_post["title"] == title and "hidden" not in restored_post
    restored = await read_back(hub_url, client, bystander, thread, 0)
    assert [(event, data["content"], "hidden" in data) for event, data in restored.views(comment_id)] == [
        ("comment.created", edited, False), ("comment.updated", edited, False)], "the row's text as it is now"


async def test_a_hidden_chat_line_and_question_are_gone_from_the_rooms_history_and_resume(
        hub_url: str, client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    host = await host_account(client, owner_conn)
    channel, [(_, token), *others] = await live_room(owner_conn, host, 4)
    ws, start = await joined(hub_url, token, channel)
    line, asked = secret("SECRET-LINE"), secret("SECRET-QUESTION")
    sent = [(await publish(ws, channel, event, {"text": text}))["result"]["message"]["id"]
            for event, text in (("chat.message", line), ("question.ask", asked))]
    await ws.close()
    for _, other in others:
        for message_id in sent:
            filed = await report(client, {"Authorization": f"Bearer {other}"}, "session_message", message_id)
            assert filed.status_code == 201, filed.text

    got = await read_back(hub_url, client, others[0][1], channel, start["seq"])
    assert line not in got.raw and asked not in got.raw
    for message_id in sent:
        [(_, data)] = got.views(message_id)
        assert (data["content"], data["hidden"]) == (None, True)
