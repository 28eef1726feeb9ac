"""Deep threads stay cheap: reply depth is capped, a page costs its own rows, cursors stay short, and the
`votes:<post>` snapshot is bounded however big the thread grows."""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from persistence.db import Database
from persistence.identity import user_identity
from tests.helpers.api import Account, signup
from tests.helpers.ws import ProtocolClient, insert_post
from tests.integration.test_comments import display_order, whole_thread
from tests.integration.test_posts import get_json, new_post

THREAD_CURSOR_MAX = 64


async def reply_chain(client: httpx.AsyncClient, account: Account, post_id: str, length: int) -> list[dict[str, Any]]:
    """`length` replies, each to the comment created just before it, as a client nesting on and on would."""
    chain: list[dict[str, Any]] = []
    parent = None
    for n in range(length):
        response = await client.post(f"/api/posts/{post_id}/comments",
                                     json={"content": f"level {n}", "parent_comment_id": parent},
                                     headers=account.headers)
        assert response.status_code == 201, response.text
        chain.append(response.json())
        parent = chain[-1]["id"]
    return chain


async def test_a_25_deep_reply_chain_ends_at_depth_10_attached_to_the_deepest_allowed_ancestor(
        client: httpx.AsyncClient) -> None:
    author = await signup(client)
    post = await new_post(client, author)
    chain = await reply_chain(client, author, post["id"], 25)
    assert [c["depth"] for c in chain] == list(range(11)) + [10] * 14
    assert [c["parent_comment_id"] for c in chain[:11]] == [None] + [c["id"] for c in chain[:10]]
    # past the cap, every reply becomes a child of the comment at depth 9: a sibling at depth 10
    assert {c["parent_comment_id"] for c in chain[11:]} == {chain[9]["id"]}
    thread = await whole_thread(client, author, post["id"], 7)
    assert [(c["content"], c["depth"]) for c in thread] == display_order(thread)
    assert {c["id"]: c for c in thread} == {c["id"]: c for c in chain}
    assert await get_json(client, f"/api/comments/{chain[-1]['id']}", author) == chain[-1]


async def test_the_reply_depth_cap_is_the_max_reply_depth_setting(client: httpx.AsyncClient,
                                                                   start_hub: Any) -> None:
    author = await signup(client)
    with start_hub(max_reply_depth=1) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as shallow:
            post = await new_post(shallow, author)
            chain = await reply_chain(shallow, author, post["id"], 4)
    assert [(c["depth"], c["parent_comment_id"]) for c in chain] == [
        (0, None), (1, chain[0]["id"]), (1, chain[0]["id"]), (1, chain[0]["id"])]


async def test_thread_cursors_are_a_comment_id_of_bounded_length_at_any_depth(client: httpx.AsyncClient) -> None:
    """The old cursor was the whole path (79 characters a level): a thread about 1,270 deep could not be
    paged at all. Now it is the last comment's id, as short at depth 10 as at depth 0."""
    author = await signup(client)
    post, elsewhere = await new_post(client, author), await new_post(client, author)
    chain = await reply_chain(client, author, post["id"], 15)
    seen: list[dict[str, Any]] = []
    cursors: list[str] = []
    cursor = ""
    while True:
        page = await get_json(client, f"/api/posts/{post['id']}/comments?limit=1&cursor={cursor}", author)
        seen.extend(page["items"])
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
        cursors.append(cursor)
    assert [c["id"] for c in seen] == [c["id"] for c in chain]  # the siblings at depth 10 by creation
    assert len(cursors) == 14 and max(len(c) for c in cursors) <= THREAD_CURSOR_MAX
    # a cursor names a comment of this thread: another thread's cursor is refused, not an empty page
    foreign = (await get_json(client, f"/api/posts/{post['id']}/comments?limit=1", author))["next_cursor"]
    await client.post(f"/api/posts/{elsewhere['id']}/comments", json={"content": "x"}, headers=author.headers)
    refused = await client.get(f"/api/posts/{elsewhere['id']}/comments?cursor={foreign}", headers=author.headers)
    assert (refused.status_code, refused.json()["code"]) == (422, "validation_failed")
    too_long = await client.get(f"/api/posts/{post['id']}/comments?cursor={'A' * (THREAD_CURSOR_MAX + 1)}",
                                headers=author.headers)
    assert (too_long.status_code, too_long.json()["code"]) == (422, "validation_failed")


async def test_the_votes_snapshot_carries_the_post_and_the_first_100_comments_of_a_big_thread(
        client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    """2,000 comments made a 226 KB snapshot frame; it is now bounded by VOTES_SNAPSHOT_COMMENTS (100), and
    a comment outside it still gets its counts live."""
    author, voter = await signup(client), await signup(client)
    post_id = await insert_post(owner_conn, author.user_id)
    await owner_conn.execute(
        "INSERT INTO public.community_comments (post_id, author_id, content, created_at) "
        "SELECT $1, $2, 'c' || n, now() - make_interval(secs => 2000 - n) FROM generate_series(1, 2000) AS n",
        uuid.UUID(post_id), author.user_id)
    first_page = await get_json(client, f"/api/posts/{post_id}/comments?limit=100", author)
    last = await owner_conn.fetchval(
        "SELECT id FROM public.community_comments WHERE post_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1",
        uuid.UUID(post_id))
    ws = await ProtocolClient.open(hub_url, voter.access_token)
    try:
        reply = await ws.subscribe(f"votes:{post_id}")
        snapshot = reply["result"]["snapshot"]
        assert [(s["target_type"], s["target_id"]) for s in snapshot] == (
            [("post", post_id)] + [("comment", c["id"]) for c in first_page["items"]])
        assert len(json.dumps(reply)) < 16_000
        await owner_conn.execute(
            "INSERT INTO public.community_votes (user_id, target_type, target_id, vote_type) "
            "VALUES ($1, 'comment', $2, 'upvote')", voter.user_id, last)
        channel = f"votes:{post_id}"
        await ws.until(lambda: any(e["data"]["target_id"] == str(last) for e in ws.events[channel]))
        [live] = [e["data"] for e in ws.events[channel] if e["data"]["target_id"] == str(last)]
        assert (live["upvotes"], live["score"]) == (1, 1)
    finally:
        await ws.close()


@pytest.mark.parametrize("statement", [
    "INSERT INTO public.community_comments (post_id, author_id, content, sort_path) VALUES ($1, $2, 'x', '')",
    "INSERT INTO public.community_comments (post_id, author_id, content, depth) VALUES ($1, $2, 'x', 0)",
    "UPDATE public.community_comments SET sort_path = '' WHERE author_id = $2 AND post_id = $1",
    "UPDATE public.community_comments SET depth = 0 WHERE author_id = $2 AND post_id = $1",
])
async def test_users_cannot_write_a_comments_place_in_its_thread(
        client: httpx.AsyncClient, app_db: Database, owner_conn: asyncpg.Connection, statement: str) -> None:
    author = await signup(client)
    post_id = uuid.UUID(await insert_post(owner_conn, author.user_id))
    await owner_conn.execute("INSERT INTO public.community_comments (post_id, author_id, content) "
                             "VALUES ($1, $2, 'mine')", post_id, author.user_id)
    identity = user_identity({"sub": str(author.user_id), "role": "authenticated", "aud": "authenticated"})
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with app_db.transaction(identity) as conn:
            await conn.execute(statement, post_id, author.user_id)


async def test_the_schema_places_every_insert_itself_and_bounds_depth_at_max_reply_depth(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    """Writers that bypass the hub (the owner here; PostgREST on Supabase) get the same stored place, and
    cannot build the deep chains the hub's cap prevents (a reply past MAX_REPLY_DEPTH, which the hub copies
    into the schema, attaches one level up, as the hub attaches it), nor move a comment once placed."""
    author = await signup(client)
    cap = await owner_conn.fetchval("SELECT max_reply_depth FROM private.hub_settings")
    post_id = uuid.UUID(await insert_post(owner_conn, author.user_id))
    other_post = uuid.UUID(await insert_post(owner_conn, author.user_id))
    chain: list[uuid.UUID] = []
    for _ in range(cap + 3):
        chain.append(await owner_conn.fetchval(
            "INSERT INTO public.community_comments (post_id, author_id, content, parent_comment_id) "
            "VALUES ($1, $2, 'x', $3) RETURNING id", post_id, author.user_id, chain[-1] if chain else None))
    parent = chain[-1]
    rows = await owner_conn.fetch("SELECT id, parent_comment_id, depth, sort_path, created_at "
                                  "FROM public.community_comments WHERE post_id = $1 ORDER BY sort_path", post_id)
    assert [r["depth"] for r in rows] == [*range(cap + 1), cap, cap]
    assert [r["parent_comment_id"] for r in rows[cap:]] == [chain[cap - 1]] * 3
    assert all(len(r["sort_path"]) == 56 * (r["depth"] + 1) for r in rows)
    assert all(b["sort_path"].startswith(a["sort_path"]) for a, b in itertools.pairwise(rows[:cap + 1]))
    assert rows[-1]["sort_path"].endswith(rows[-1]["created_at"].strftime("%Y%m%d%H%M%S%f") + str(rows[-1]["id"]))
    insert = ("INSERT INTO public.community_comments (post_id, author_id, content, parent_comment_id) "
              "VALUES ($1, $2, 'x', $3)")
    with pytest.raises(asyncpg.CheckViolationError):  # a reply in another post than its parent
        await owner_conn.execute(insert, other_post, author.user_id, parent)
    with pytest.raises(asyncpg.CheckViolationError):
        await owner_conn.execute("UPDATE public.community_comments SET parent_comment_id = NULL WHERE id = $1", parent)
