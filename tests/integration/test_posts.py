"""Community posts over HTTP: representation, events, authorization, moderation, feed order, views."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import httpx

from tests.helpers.api import Account, admin, signup
from tests.helpers.eventually import eventually

XSS = '<img src=x onerror=alert(1)> &"\\ ü 🚀\u2028\t'


async def new_post(client: httpx.AsyncClient, account: Account, **fields: Any) -> dict[str, Any]:
    body = {"title": f"post {secrets.token_hex(4)}", "content": "hello", **fields}
    response = await client.post("/api/posts", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    post: dict[str, Any] = response.json()
    return post


async def head(owner_conn: asyncpg.Connection, channel: str) -> int:
    seq = await owner_conn.fetchval("SELECT seq FROM realtime.channel_heads WHERE channel = $1", channel)
    return int(seq or 0)


async def events_after(owner_conn: asyncpg.Connection, channel: str, seq: int) -> list[tuple[str, Any]]:
    rows = await owner_conn.fetch(
        "SELECT event, data FROM realtime.events WHERE channel = $1 AND seq > $2 ORDER BY seq", channel, seq)
    return [(row["event"], row["data"]) for row in rows]


def without(obj: dict[str, Any], *fields: str) -> dict[str, Any]:
    """The object minus fields that legitimately change after an event was written."""
    return {key: value for key, value in obj.items() if key not in fields}


async def get_json(client: httpx.AsyncClient, path: str, account: Account) -> dict[str, Any]:
    response = await client.get(path, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_every_community_route_refuses_anonymous_callers(client: httpx.AsyncClient) -> None:
    some = uuid.uuid4()
    calls = [("GET", "/api/posts"), ("POST", "/api/posts"), ("GET", f"/api/posts/{some}"),
             ("PATCH", f"/api/posts/{some}"), ("DELETE", f"/api/posts/{some}"), ("POST", f"/api/posts/{some}/pin"),
             ("POST", f"/api/posts/{some}/lock"), ("GET", f"/api/posts/{some}/comments"),
             ("POST", f"/api/posts/{some}/comments"), ("GET", f"/api/comments/{some}"),
             ("PATCH", f"/api/comments/{some}"), ("DELETE", f"/api/comments/{some}"),
             ("PUT", f"/api/posts/{some}/vote"), ("DELETE", f"/api/comments/{some}/vote")]
    for method, path in calls:
        response = await client.request(method, path, json={} if method in ("POST", "PATCH", "PUT") else None)
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["code"] == "unauthorized"


async def test_post_content_round_trips_byte_for_byte_as_json(client: httpx.AsyncClient) -> None:
    author = await signup(client)
    post = await new_post(client, author, title=XSS, content=XSS * 100, category=XSS, tags=[XSS])
    response = await client.get(f"/api/posts/{post['id']}", headers=author.headers)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert (body["title"], body["content"], body["category"], body["tags"]) == (XSS, XSS * 100, XSS, [XSS])
    assert b"<img src=x onerror=alert(1)> &" in response.content  # JSON text, never HTML-escaped


async def test_created_post_has_the_full_representation_and_the_event_carries_it(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author = await signup(client, full_name="Poster")
    before = await head(owner_conn, "feed")
    post = await new_post(client, author, post_type="question", category="options", tags=["spx", "greeks"])
    assert set(post) == {"id", "author_id", "author", "title", "content", "post_type", "category", "tags",
                         "is_pinned", "is_locked", "upvotes_count", "downvotes_count", "score", "comments_count",
                         "views_count", "redacted", "last_activity_at", "created_at", "updated_at"}
    assert post["author"] == {"id": str(author.user_id), "full_name": "Poster", "avatar_url": None}
    assert (post["author_id"], post["score"], post["is_pinned"], post["is_locked"], post["redacted"]) == (
        str(author.user_id), 0, False, False, False)
    fetched = await get_json(client, f"/api/posts/{post['id']}", author)
    assert [event for event in await events_after(owner_conn, "feed", before)] == [("post.created", post)]
    assert without(fetched, "views_count") == without(post, "views_count")


async def test_server_owned_and_invalid_post_fields_are_refused_without_an_event(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author = await signup(client)
    before = await head(owner_conn, "feed")
    bad_bodies = [
        {"title": ""}, {"title": "x" * 301}, {"title": "t", "content": "x" * 20_001},
        {"title": "t", "tags": [str(n) for n in range(11)]}, {"title": "t", "tags": ["x" * 51]},
        {"title": "t", "category": "x" * 101}, {"title": "t", "post_type": "poll"},
        {"title": "t", "upvotes_count": 50}, {"title": "t", "author_id": str(uuid.uuid4())},
        {"title": "t", "is_pinned": True}, {"title": "nul \u0000 byte"},
    ]
    for body in bad_bodies:
        response = await client.post("/api/posts", json=body, headers=author.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "validation_failed"
    assert await head(owner_conn, "feed") == before


async def test_announcements_are_for_admins_only(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    member, boss = await signup(client), await admin(client, owner_conn)
    before = await head(owner_conn, "feed")
    refused = await client.post("/api/posts", json={"title": "hear ye", "post_type": "announcement"},
                                headers=member.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    own = await new_post(client, member)
    promote = await client.patch(f"/api/posts/{own['id']}", json={"post_type": "announcement"},
                                 headers=member.headers)
    assert promote.status_code == 403
    assert await head(owner_conn, "feed") == before + 1  # only the member's ordinary post
    announcement = await new_post(client, boss, post_type="announcement")
    assert announcement["post_type"] == "announcement"


async def test_a_retried_create_with_the_same_idempotency_key_returns_the_first_post(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author = await signup(client)
    headers = {**author.headers, "Idempotency-Key": secrets.token_hex(8)}
    before = await head(owner_conn, "feed")
    first = await client.post("/api/posts", json={"title": "once"}, headers=headers)
    again = await client.post("/api/posts", json={"title": "once"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert await owner_conn.fetchval(
        "SELECT count(*) FROM community_posts WHERE author_id = $1", author.user_id) == 1
    assert await head(owner_conn, "feed") == before + 1


async def test_only_the_author_or_an_admin_edits_and_the_update_is_announced_in_rest_shape(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author, other, boss = await signup(client), await signup(client), await admin(client, owner_conn)
    post = await new_post(client, author, tags=["a"])
    thread = f"thread:{post['id']}"
    feed_before, thread_before = await head(owner_conn, "feed"), await head(owner_conn, thread)

    refused = await client.patch(f"/api/posts/{post['id']}", json={"title": "mine now"}, headers=other.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert (await head(owner_conn, "feed"), await head(owner_conn, thread)) == (feed_before, thread_before)

    edited = await client.patch(f"/api/posts/{post['id']}", json={"title": "edited", "content": None},
                                headers=author.headers)
    assert edited.status_code == 200
    body = edited.json()
    assert (body["title"], body["content"], body["tags"]) == ("edited", None, ["a"])
    assert body["updated_at"] > post["updated_at"]
    moderated = await client.patch(f"/api/posts/{post['id']}", json={"category": "moderated"},
                                   headers=boss.headers)
    assert moderated.status_code == 200
    fetched = await get_json(client, f"/api/posts/{post['id']}", author)
    feed_events = await events_after(owner_conn, "feed", feed_before)
    assert feed_events == [("post.updated", body), ("post.updated", moderated.json())]
    assert await events_after(owner_conn, thread, thread_before) == feed_events
    assert without(feed_events[-1][1], "views_count") == without(fetched, "views_count")

    unknown = await client.patch(f"/api/posts/{post['id']}", json={"comments_count": 9}, headers=author.headers)
    assert unknown.status_code == 422


async def test_deleting_a_post_is_for_its_author_or_an_admin_and_takes_its_votes(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author, other = await signup(client), await signup(client)
    post = await new_post(client, author)
    comment = (await client.post(f"/api/posts/{post['id']}/comments", json={"content": "c"},
                                 headers=author.headers)).json()
    assert (await client.put(f"/api/posts/{post['id']}/vote", json={"vote_type": "upvote"},
                             headers=other.headers)).status_code == 200
    assert (await client.put(f"/api/comments/{comment['id']}/vote", json={"vote_type": "downvote"},
                             headers=other.headers)).status_code == 200
    thread = f"thread:{post['id']}"
    feed_before, thread_before = await head(owner_conn, "feed"), await head(owner_conn, thread)

    refused = await client.delete(f"/api/posts/{post['id']}", headers=other.headers)
    assert refused.status_code == 403
    assert (await head(owner_conn, "feed"), await head(owner_conn, thread)) == (feed_before, thread_before)

    assert (await client.delete(f"/api/posts/{post['id']}", headers=author.headers)).status_code == 204
    assert (await client.get(f"/api/posts/{post['id']}", headers=author.headers)).status_code == 404
    assert (await client.delete(f"/api/posts/{post['id']}", headers=author.headers)).status_code == 404
    gone = [("post.deleted", {"id": post["id"]})]
    assert await events_after(owner_conn, "feed", feed_before) == gone
    assert await events_after(owner_conn, thread, thread_before) == gone
    assert await owner_conn.fetchval(
        "SELECT count(*) FROM community_votes WHERE target_id = ANY($1::uuid[])",
        [post["id"], comment["id"]]) == 0


async def test_pin_and_lock_are_admin_only_and_announced(client: httpx.AsyncClient,
                                                        owner_conn: asyncpg.Connection) -> None:
    author, boss = await signup(client), await admin(client, owner_conn)
    post = await new_post(client, author)
    thread = f"thread:{post['id']}"
    feed_before, thread_before = await head(owner_conn, "feed"), await head(owner_conn, thread)
    for action in ("pin", "unpin", "lock", "unlock"):
        refused = await client.post(f"/api/posts/{post['id']}/{action}", headers=author.headers)
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden"), action
    assert (await head(owner_conn, "feed"), await head(owner_conn, thread)) == (feed_before, thread_before)

    results = {}
    for action in ("pin", "lock", "unpin", "unlock"):
        response = await client.post(f"/api/posts/{post['id']}/{action}", headers=boss.headers)
        assert response.status_code == 200, response.text
        results[action] = response.json()
    assert (results["pin"]["is_pinned"], results["lock"]["is_locked"]) == (True, True)
    assert (results["unpin"]["is_pinned"], results["unlock"]["is_locked"]) == (False, False)
    assert await events_after(owner_conn, "feed", feed_before) == [
        ("post.pinned", results["pin"]), ("post.locked", results["lock"]),
        ("post.pinned", results["unpin"]), ("post.locked", results["unlock"])]
    assert await events_after(owner_conn, thread, thread_before) == [
        ("post.locked", results["lock"]), ("post.locked", results["unlock"])]
    missing = await client.post(f"/api/posts/{uuid.uuid4()}/pin", headers=boss.headers)
    assert missing.status_code == 404


async def collect(client: httpx.AsyncClient, account: Account, query: str, limit: int) -> list[dict[str, Any]]:
    """Every page of a feed query, concatenated."""
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        body = await get_json(client, f"/api/posts?{query}&limit={limit}&cursor={cursor}", account)
        assert len(body["items"]) <= limit
        items.extend(body["items"])
        if body["next_cursor"] is None:
            return items
        cursor = body["next_cursor"]


async def test_feed_sorts_page_by_keyset_in_their_documented_order(client: httpx.AsyncClient,
                                                                   owner_conn: asyncpg.Connection) -> None:
    author, voter, boss = await signup(client), await signup(client), await admin(client, owner_conn)
    category = f"sorts-{secrets.token_hex(4)}"
    posts = [await new_post(client, author, category=category, tags=[f"n{n % 2}"]) for n in range(7)]
    ids = [p["id"] for p in posts]
    for index, vote in ((1, "upvote"), (4, "upvote"), (5, "downvote")):
        assert (await client.put(f"/api/posts/{ids[index]}/vote", json={"vote_type": vote},
                                 headers=voter.headers)).status_code == 200
    await client.post(f"/api/posts/{ids[2]}/comments", json={"content": "bump"}, headers=voter.headers)
    await client.post(f"/api/posts/{ids[6]}/pin", headers=boss.headers)
    # equal last activity: the id breaks the tie
    await owner_conn.execute("UPDATE community_posts SET last_activity_at = $2 WHERE id = ANY($1::uuid[])",
                             ids[:2], datetime.fromisoformat(posts[0]["created_at"]))
    current = {p["id"]: p for p in await collect(client, author, f"category={category}&sort=new", 100)}
    assert set(current) == set(ids)

    def order(key: Any) -> list[str]:
        return [p["id"] for p in sorted(current.values(), key=key, reverse=True)]

    expected = {
        "active": order(lambda p: (p["is_pinned"], p["last_activity_at"], uuid.UUID(p["id"]))),
        "new": order(lambda p: (p["created_at"], uuid.UUID(p["id"]))),
        "top": order(lambda p: (p["score"], uuid.UUID(p["id"]))),
    }
    assert expected["active"][0] == ids[6] and expected["active"][1] == ids[2]
    assert expected["top"][0] == ids[4] or expected["top"][0] == ids[1]
    for sort, ids_in_order in expected.items():
        for limit in (2, 3):
            got = await collect(client, author, f"category={category}&sort={sort}", limit)
            assert [p["id"] for p in got] == ids_in_order, (sort, limit)
    default = await collect(client, author, f"category={category}", 3)
    assert [p["id"] for p in default] == expected["active"]


async def test_feed_filters_by_tag_type_and_author(client: httpx.AsyncClient) -> None:
    author, other = await signup(client), await signup(client)
    tag = f"t{secrets.token_hex(4)}"
    question = await new_post(client, author, post_type="question", tags=[tag, "x"])
    discussion = await new_post(client, other, tags=[tag])
    await new_post(client, author, tags=["x"])

    async def ids(query: str) -> list[str]:
        return [p["id"] for p in await collect(client, author, query, 50)]

    assert set(await ids(f"tag={tag}")) == {question["id"], discussion["id"]}
    assert await ids(f"tag={tag}&post_type=question") == [question["id"]]
    assert await ids(f"tag={tag}&author_id={other.user_id}&sort=top") == [discussion["id"]]


async def test_malformed_feed_queries_are_validation_errors(client: httpx.AsyncClient) -> None:
    account = await signup(client)
    top_page = await get_json(client, "/api/posts?sort=top&limit=1", account)
    for query in ("limit=0", "limit=101", "sort=hot", "post_type=poll", "author_id=nope", "cursor=%%%",
                  "cursor=WzFd", f"sort=new&cursor={top_page['next_cursor']}", "category=%00"):
        response = await client.get(f"/api/posts?{query}", headers=account.headers)
        assert response.status_code in (400, 422), (query, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_views_are_buffered_and_written_once_per_interval_and_at_shutdown(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, start_hub: Any) -> None:
    author = await signup(client)
    post = await new_post(client, author)
    for _ in range(5):
        await get_json(client, f"/api/posts/{post['id']}", author)
    assert (await client.get("/api/posts", headers=author.headers)).status_code == 200  # lists do not count

    async def flushed() -> bool:
        return bool(await owner_conn.fetchval("SELECT views_count FROM community_posts WHERE id = $1",
                                              post["id"]) == 5)

    await eventually(flushed, within=15, what="the buffered views to be written")
    assert (await get_json(client, f"/api/posts/{post['id']}", author))["views_count"] == 5

    other = await new_post(client, author)
    with start_hub() as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as second:
            for _ in range(3):
                await get_json(second, f"/api/posts/{other['id']}", author)
    # the stopped instance flushed what it had buffered
    assert await owner_conn.fetchval("SELECT views_count FROM community_posts WHERE id = $1", other["id"]) == 3


async def test_a_posts_created_achievement_unlocks_with_the_post_that_meets_it(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    code = f"posts-{uuid.uuid4().hex[:8]}"
    await owner_conn.execute(
        """INSERT INTO public.achievements (code, title, description, xp_reward, requirements)
           VALUES ($1, 'Two posts', 'Write two posts', 10, '{"posts_created": 2}')""", code)
    try:
        author = await signup(client)

        async def unlocked() -> list[str]:
            rows = await owner_conn.fetch(
                """SELECT a.code FROM public.user_achievements ua JOIN public.achievements a ON a.id = ua.achievement_id
                   WHERE ua.user_id = $1""", author.user_id)
            return [r["code"] for r in rows]

        for n in (1, 2):
            response = await client.post("/api/posts", json={"title": f"post {n}", "content": "x"},
                                         headers=author.headers)
            assert response.status_code == 201, response.text
            assert (code in await unlocked()) is (n == 2)
        events = await owner_conn.fetch(
            "SELECT event, data FROM realtime.events WHERE channel = $1 AND event = 'achievement.unlocked'",
            f"user:{author.user_id}")
        assert [e["data"]["code"] for e in events if e["data"].get("code") == code] == [code]
    finally:
        await owner_conn.execute("UPDATE public.achievements SET is_active = false WHERE code = $1", code)
