"""Threaded comments over HTTP: display order across pages, replies, locks, edits, soft deletes, events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
import httpx

from persistence import community
from persistence.db import set_identity
from persistence.identity import user_identity
from tests.helpers.api import Account, admin, signup
from tests.integration.test_posts import XSS, events_after, get_json, head, new_post, without


async def reply(client: httpx.AsyncClient, account: Account, post_id: str, content: str,
                parent: str | None = None) -> dict[str, Any]:
    response = await client.post(f"/api/posts/{post_id}/comments",
                                 json={"content": content, "parent_comment_id": parent}, headers=account.headers)
    assert response.status_code == 201, response.text
    comment: dict[str, Any] = response.json()
    return comment


async def whole_thread(client: httpx.AsyncClient, account: Account, post_id: str,
                       limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = await get_json(client, f"/api/posts/{post_id}/comments?limit={limit}&cursor={cursor}", account)
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        cursor = page["next_cursor"]


def display_order(comments: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Depth-first, siblings by (created_at, id): the expected (content, depth) sequence."""
    children: dict[str | None, list[dict[str, Any]]] = {}
    for comment in comments:
        children.setdefault(comment["parent_comment_id"], []).append(comment)
    order: list[tuple[str, int]] = []

    def walk(parent: str | None, depth: int) -> None:
        siblings = sorted(children.get(parent, []),
                          key=lambda c: (datetime.fromisoformat(c["created_at"]), uuid.UUID(c["id"])))
        for comment in siblings:
            order.append((comment["content"], depth))
            walk(comment["id"], depth + 1)

    walk(None, 0)
    return order


async def test_thread_is_depth_first_with_depths_across_page_boundaries(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author, other = await signup(client), await signup(client)
    post = await new_post(client, author)
    pid = post["id"]
    # created out of display order, so the order can only come from the tree
    a = await reply(client, author, pid, "a")
    b = await reply(client, other, pid, "b")
    a1 = await reply(client, other, pid, "a1", a["id"])
    c = await reply(client, author, pid, "c")
    b1 = await reply(client, author, pid, "b1", b["id"])
    a1x = await reply(client, author, pid, "a1x", a1["id"])
    a2 = await reply(client, other, pid, "a2", a["id"])
    a1x_i = await reply(client, other, pid, "a1x_i", a1x["id"])
    await reply(client, author, pid, "a1x_i_deep", a1x_i["id"])
    await reply(client, author, pid, "a1y", a1["id"])
    await reply(client, other, pid, "b1z", b1["id"])
    await reply(client, other, pid, "a2p", a2["id"])
    await reply(client, author, pid, "d")
    # two siblings with the very same created_at: the id decides
    same_time = datetime.fromisoformat(a1x["created_at"])
    for content in ("tie1", "tie2"):
        await owner_conn.execute(
            "INSERT INTO community_comments (post_id, author_id, parent_comment_id, content, created_at) "
            "VALUES ($1, $2, $3, $4, $5)", uuid.UUID(pid), author.user_id, uuid.UUID(a1["id"]), content, same_time)
    assert c["depth"] == 0 and a1x_i["depth"] == 3

    everything = await whole_thread(client, author, pid, 100)
    expected = display_order(everything)
    contents = [content for content, _ in expected]
    assert (expected[0], expected[-1], len(expected)) == (("a", 0), ("d", 0), 15)
    assert expected[contents.index("a1x_i") + 1] == ("a1x_i_deep", 4)
    assert contents.index("a2p") == contents.index("a2") + 1 < contents.index("b")
    assert [(item["content"], item["depth"]) for item in everything] == expected
    for limit in (2, 3):
        paged = await whole_thread(client, author, pid, limit)
        assert [(item["content"], item["depth"]) for item in paged] == expected, limit
        assert [item["id"] for item in paged] == [item["id"] for item in everything]
    by_id = {item["id"]: item for item in everything}
    for item in everything:
        parent = item["parent_comment_id"]
        assert (parent is None and item["depth"] == 0) or by_id[parent]["depth"] == item["depth"] - 1
        assert await get_json(client, f"/api/comments/{item['id']}", other) == item


async def test_new_comment_bumps_the_post_and_its_event_has_the_rest_shape(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author = await signup(client, full_name="Commenter")
    post = await new_post(client, author)
    thread = f"thread:{post['id']}"
    before = await head(owner_conn, thread)
    comment = await reply(client, author, post["id"], XSS * 3)
    assert set(comment) == {"id", "post_id", "parent_comment_id", "author_id", "author", "content", "is_deleted",
                            "redacted", "upvotes_count", "downvotes_count", "score", "depth", "created_at",
                            "updated_at"}
    assert comment["author"] == {"id": str(author.user_id), "full_name": "Commenter", "avatar_url": None}
    fetched = await client.get(f"/api/comments/{comment['id']}", headers=author.headers)
    assert fetched.headers["content-type"] == "application/json"
    assert fetched.json() == comment and fetched.json()["content"] == XSS * 3
    assert await events_after(owner_conn, thread, before) == [("comment.created", comment)]
    bumped = await get_json(client, f"/api/posts/{post['id']}", author)
    assert bumped["comments_count"] == 1
    assert bumped["last_activity_at"] > post["last_activity_at"]


async def test_a_parent_must_be_a_comment_of_the_same_post(client: httpx.AsyncClient,
                                                           owner_conn: asyncpg.Connection) -> None:
    author = await signup(client)
    post, elsewhere = await new_post(client, author), await new_post(client, author)
    foreign = await reply(client, author, elsewhere["id"], "over there")
    thread = f"thread:{post['id']}"
    before = await head(owner_conn, thread)
    for parent in (foreign["id"], str(uuid.uuid4())):
        response = await client.post(f"/api/posts/{post['id']}/comments",
                                     json={"content": "x", "parent_comment_id": parent}, headers=author.headers)
        assert (response.status_code, response.json()["code"]) == (422, "validation_failed")
        assert "parent_comment_id" in response.json()["errors"]
    for body in ({"content": ""}, {"content": "x" * 10_001}, {"content": "x", "upvotes_count": 3}, {}):
        response = await client.post(f"/api/posts/{post['id']}/comments", json=body, headers=author.headers)
        assert response.status_code == 422, body
    missing = await client.post(f"/api/posts/{uuid.uuid4()}/comments", json={"content": "x"},
                                headers=author.headers)
    assert missing.status_code == 404
    assert await head(owner_conn, thread) == before
    assert await owner_conn.fetchval("SELECT comments_count FROM community_posts WHERE id = $1",
                                     uuid.UUID(post["id"])) == 0


async def test_a_locked_post_refuses_comments_with_423_except_from_admins(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author, boss = await signup(client), await admin(client, owner_conn)
    post = await new_post(client, author)
    top = await reply(client, author, post["id"], "before the lock")
    assert (await client.post(f"/api/posts/{post['id']}/lock", headers=boss.headers)).status_code == 200
    thread = f"thread:{post['id']}"
    before = await head(owner_conn, thread)
    for parent in (None, top["id"]):
        refused = await client.post(f"/api/posts/{post['id']}/comments",
                                    json={"content": "too late", "parent_comment_id": parent},
                                    headers=author.headers)
        assert (refused.status_code, refused.json()["code"]) == (423, "post_locked")
    assert await head(owner_conn, thread) == before
    moderator_note = await reply(client, boss, post["id"], "locked by moderation", top["id"])
    assert await events_after(owner_conn, thread, before) == [("comment.created", moderator_note)]
    assert (await client.post(f"/api/posts/{post['id']}/unlock", headers=boss.headers)).status_code == 200
    await reply(client, author, post["id"], "open again")


async def test_only_the_author_or_an_admin_edits_a_comment_and_the_edit_is_announced(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author, other, boss = await signup(client), await signup(client), await admin(client, owner_conn)
    post = await new_post(client, author)
    comment = await reply(client, author, post["id"], "first words")
    thread = f"thread:{post['id']}"
    before = await head(owner_conn, thread)
    refused = await client.patch(f"/api/comments/{comment['id']}", json={"content": "hijack"},
                                 headers=other.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert await head(owner_conn, thread) == before

    edited = await client.patch(f"/api/comments/{comment['id']}", json={"content": XSS}, headers=author.headers)
    assert edited.status_code == 200 and edited.json()["content"] == XSS
    moderated = await client.patch(f"/api/comments/{comment['id']}", json={"content": "[moderated]"},
                                   headers=boss.headers)
    assert moderated.status_code == 200
    assert await events_after(owner_conn, thread, before) == [
        ("comment.updated", edited.json()), ("comment.updated", moderated.json())]
    assert await get_json(client, f"/api/comments/{comment['id']}", other) == moderated.json()
    for body in ({"content": ""}, {"is_deleted": True}, {"content": "x", "post_id": post["id"]}):
        assert (await client.patch(f"/api/comments/{comment['id']}", json=body,
                                   headers=author.headers)).status_code == 422, body


async def test_deleting_a_comment_is_soft_keeps_replies_and_hides_content(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author, other = await signup(client), await signup(client)
    post = await new_post(client, author)
    parent = await reply(client, author, post["id"], "to be removed")
    child = await reply(client, other, post["id"], "a reply", parent["id"])
    thread = f"thread:{post['id']}"
    before = await head(owner_conn, thread)
    assert (await client.delete(f"/api/comments/{parent['id']}", headers=other.headers)).status_code == 403
    assert await head(owner_conn, thread) == before

    assert (await client.delete(f"/api/comments/{parent['id']}", headers=author.headers)).status_code == 204
    shown = await get_json(client, f"/api/comments/{parent['id']}", other)
    assert (shown["is_deleted"], shown["content"], shown["redacted"]) == (True, None, True)
    assert await events_after(owner_conn, thread, before) == [("comment.deleted", shown)]
    listed = await whole_thread(client, other, post["id"], 10)
    assert [(item["id"], item["content"]) for item in listed] == [(parent["id"], None), (child["id"], "a reply")]
    # idempotent, and a deleted comment can no longer be edited
    assert (await client.delete(f"/api/comments/{parent['id']}", headers=author.headers)).status_code == 204
    assert (await client.patch(f"/api/comments/{parent['id']}", json={"content": "back"},
                               headers=author.headers)).status_code == 404
    assert await head(owner_conn, thread) == before + 1
    # the text is kept for moderation, server-only (the row readable in SQL has none)
    assert await owner_conn.fetchval("SELECT content FROM community_comments WHERE id = $1",
                                     uuid.UUID(parent["id"])) is None
    kept = await owner_conn.fetchrow(
        "SELECT content, deleted_by FROM private.deleted_content WHERE target_type = 'comment' AND target_id = $1",
        uuid.UUID(parent["id"]))
    assert (kept["content"], kept["deleted_by"]) == ("to be removed", author.user_id)
    assert (await get_json(client, f"/api/posts/{post['id']}", author))["comments_count"] == 2


async def test_thread_of_a_missing_post_and_foreign_cursors_are_refused(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    post = await new_post(client, account)
    assert (await client.get(f"/api/posts/{uuid.uuid4()}/comments", headers=account.headers)).status_code == 404
    assert (await client.get(f"/api/comments/{uuid.uuid4()}", headers=account.headers)).status_code == 404
    feed_cursor = (await get_json(client, "/api/posts?limit=1", account))["next_cursor"]
    for cursor in (feed_cursor, "WyJ4Il0", "W1tdXQ", "W1siMjAyNiJdXQ"):
        response = await client.get(f"/api/posts/{post['id']}/comments?cursor={cursor}", headers=account.headers)
        assert (response.status_code, response.json()["code"]) == (422, "validation_failed"), cursor


async def test_event_data_matches_rest_after_later_votes_only_in_counters(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author, voter = await signup(client), await signup(client)
    post = await new_post(client, author)
    thread = f"thread:{post['id']}"
    before = await head(owner_conn, thread)
    comment = await reply(client, author, post["id"], "vote on me")
    await client.put(f"/api/comments/{comment['id']}/vote", json={"vote_type": "upvote"}, headers=voter.headers)
    [(event, data)] = await events_after(owner_conn, thread, before)
    now = await get_json(client, f"/api/comments/{comment['id']}", author)
    counters = ("upvotes_count", "downvotes_count", "score")
    assert event == "comment.created" and without(data, *counters) == without(now, *counters)
    assert (now["upvotes_count"], now["score"]) == (1, 1)


async def test_a_post_without_comments_has_an_empty_thread_not_a_404(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    post = await new_post(client, account)
    page = await get_json(client, f"/api/posts/{post['id']}/comments", account)
    assert page == {"items": [], "next_cursor": None}


async def test_a_thread_page_is_empty_while_its_post_is_hidden_from_the_caller(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    """Comments and posts are readable alike today; should a policy ever hide a post but not its comments,
    the thread still reads as missing (the route answers 404 on an empty page of a post it cannot see)."""
    account = await signup(client)
    post_id = uuid.UUID((await new_post(client, account))["id"])
    await client.post(f"/api/posts/{post_id}/comments", json={"content": "c"}, headers=account.headers)
    caller = user_identity({"sub": str(account.user_id), "role": "authenticated", "aud": "authenticated"})
    transaction = owner_conn.transaction()
    await transaction.start()
    try:
        await set_identity(owner_conn, caller)
        assert len(await community.thread_page(owner_conn, post_id, None, 10)) == 1
        await owner_conn.execute("RESET ROLE")
        await owner_conn.execute(
            f"CREATE POLICY hide_one ON public.community_posts AS RESTRICTIVE FOR SELECT TO authenticated "
            f"USING (id <> '{post_id}')")  # a generated uuid, never input
        await set_identity(owner_conn, caller)
        assert await community.thread_page(owner_conn, post_id, None, 10) == []
    finally:
        await transaction.rollback()  # the policy never outlives this test
