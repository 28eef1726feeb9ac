"""Blocking over a real server: a blocked author's posts and comments leave the blocker's feed and thread
pages (and nobody else's), unblocking brings them back, and the block routes' rules (self, unknown, cap)."""

from __future__ import annotations

import secrets
from uuid import UUID

import asyncpg
import httpx

from tests.conftest import HubStarter
from tests.helpers.api import Account, signup
from tests.integration.test_posts import head
from tests.integration.test_reports import feed_ids, new_post


async def thread_ids(client: httpx.AsyncClient, post_id: str, reader: Account) -> list[str]:
    page = await client.get(f"/api/posts/{post_id}/comments", params={"limit": 100}, headers=reader.headers)
    assert page.status_code == 200, page.text
    return [item["id"] for item in page.json()["items"]]


async def comment(client: httpx.AsyncClient, post_id: str, author: Account, content: str) -> str:
    response = await client.post(f"/api/posts/{post_id}/comments", json={"content": content}, headers=author.headers)
    assert response.status_code == 201, response.text
    comment_id: str = response.json()["id"]
    return comment_id


async def test_a_blocked_authors_posts_and_comments_leave_only_the_blockers_feed_and_threads(
        client: httpx.AsyncClient) -> None:
    blocker, pest, bystander = await signup(client), await signup(client), await signup(client)
    pest_post = await new_post(client, pest)
    other_post = await new_post(client, bystander)
    kept = await comment(client, other_post, bystander, "fine")
    noise = await comment(client, other_post, pest, "noise")

    blocked = await client.post(f"/api/users/{pest.user_id}/block", headers=blocker.headers)
    assert blocked.status_code == 204, blocked.text
    assert (await client.post(f"/api/users/{pest.user_id}/block", headers=blocker.headers)).status_code == 204

    async def pests_posts(reader: Account, sort: str) -> list[str]:
        page = await client.get("/api/posts", params={"sort": sort, "author_id": str(pest.user_id)},
                                headers=reader.headers)
        assert page.status_code == 200, page.text
        return [item["id"] for item in page.json()["items"]]

    for sort in ("active", "new", "top"):
        page = await client.get("/api/posts", params={"sort": sort, "limit": 100}, headers=blocker.headers)
        assert pest_post not in {p["id"] for p in page.json()["items"]}, sort
        # Narrowed to the pest's posts, so other tests' posts cannot fill the page: a post without votes is
        # past the first 100 of `top` once the explain tests' thousands of voted posts are in the database.
        assert (await pests_posts(blocker, sort), await pests_posts(bystander, sort)) == ([], [pest_post]), sort
    assert await thread_ids(client, other_post, blocker) == [kept]
    # everyone else still sees them, and the blocked user too
    for reader in (bystander, pest):
        assert pest_post in await feed_ids(client, reader.headers)
        assert await thread_ids(client, other_post, reader) == [kept, noise]
    # a post opened by its id is still shown: blocking filters lists, it is not an access rule
    assert (await client.get(f"/api/posts/{pest_post}", headers=blocker.headers)).status_code == 200

    listed = await client.get("/api/me/blocks", headers=blocker.headers)
    assert listed.status_code == 200
    assert [(b["id"], b["full_name"]) for b in listed.json()["items"]] == [(str(pest.user_id), "Test User")]
    assert (await client.get("/api/me/blocks", headers=pest.headers)).json()["items"] == []

    assert (await client.delete(f"/api/users/{pest.user_id}/block", headers=blocker.headers)).status_code == 204
    assert (await client.delete(f"/api/users/{pest.user_id}/block", headers=blocker.headers)).status_code == 204
    assert pest_post in await feed_ids(client, blocker.headers)
    assert await thread_ids(client, other_post, blocker) == [kept, noise]
    assert (await client.get("/api/me/blocks", headers=blocker.headers)).json()["items"] == []


async def test_nobody_blocks_themselves_or_an_unknown_user(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    self_block = await client.post(f"/api/users/{user.user_id}/block", headers=user.headers)
    assert (self_block.status_code, self_block.json()["code"]) == (422, "validation_failed")
    assert (await client.post(f"/api/users/{UUID(int=3)}/block", headers=user.headers)).status_code == 404
    assert (await client.post(f"/api/users/{UUID(int=3)}/block")).status_code == 401
    assert (await client.get("/api/me/blocks", headers=user.headers)).json()["items"] == []


async def test_a_user_holds_at_most_the_configured_number_of_blocks(start_hub: HubStarter) -> None:
    with start_hub(max_blocks_per_user=2) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            blocker = await signup(http)
            others = [await signup(http, full_name=f"other {secrets.token_hex(2)}") for _ in range(3)]

            async def block(other: Account) -> httpx.Response:
                return await http.post(f"/api/users/{other.user_id}/block", headers=blocker.headers)

            assert [(await block(other)).status_code for other in others[:2]] == [204, 204]
            full = await block(others[2])
            assert (full.status_code, full.json()["code"]) == (409, "conflict")
            # blocking one already blocked still answers 204 at the cap
            assert (await block(others[0])).status_code == 204
            listed = (await http.get("/api/me/blocks", headers=blocker.headers)).json()["items"]
            assert [b["id"] for b in listed] == [str(others[1].user_id), str(others[0].user_id)]


async def test_the_blockers_history_route_leaves_the_blocked_authors_posts_and_comments_out(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    blocker, pest, bystander = await signup(client), await signup(client), await signup(client)
    feed_before = await head(owner_conn, "feed")
    pest_post = await new_post(client, pest)
    other_post = await new_post(client, bystander)
    kept = await comment(client, other_post, bystander, "fine")
    noise = await comment(client, other_post, pest, f"noise {secrets.token_hex(4)}")
    assert (await client.post(f"/api/users/{pest.user_id}/block", headers=blocker.headers)).status_code == 204

    async def logged(reader: Account, channel: str, since: int) -> list[str]:
        page = await client.get(f"/api/channels/{channel}/events", params={"since": since}, headers=reader.headers)
        assert page.status_code == 200, page.text
        assert page.json()["next_since"] is None
        return [item["data"]["id"] for item in page.json()["items"] if item["event"].endswith(".created")]

    assert pest_post not in await logged(blocker, "feed", feed_before)
    assert await logged(blocker, f"thread:{other_post}", 0) == [kept]
    assert pest_post in await logged(bystander, "feed", feed_before)
    assert await logged(bystander, f"thread:{other_post}", 0) == [kept, noise]
    # a page whose last events are all left out still reports where the log continues
    last = await client.get(f"/api/channels/thread:{other_post}/events", params={"since": 0, "limit": 2},
                            headers=blocker.headers)
    assert ([i["data"]["id"] for i in last.json()["items"]], last.json()["next_since"]) == ([kept], None)
