"""Search over a real server: what a word finds (comments, posts, lessons by title and description, sessions),
what it must not (deleted, hidden, blocked, a lesson's body), prefixes, rank order, paging and the limits."""

from __future__ import annotations

import json
import secrets
from typing import Any

import asyncpg
import httpx
import pytest

from persistence import search as search_sql
from persistence.db import Database
from persistence.identity import user_identity
from tests.conftest import HubStarter
from tests.helpers.api import Account, signup
from tests.helpers.lessons import api_gate
from tests.integration.test_blocks import comment


def word() -> str:
    """A word no other test writes (letters only: `simple` splits digits from letters in some tokens)."""
    return "w" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(12))


async def new_post(client: httpx.AsyncClient, author: Account, title: str, content: str = "") -> str:
    response = await client.post("/api/posts", json={"title": title, "content": content}, headers=author.headers)
    assert response.status_code == 201, response.text
    post_id: str = response.json()["id"]
    return post_id


async def search(client: httpx.AsyncClient, reader: Account, q: str, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/search", params={"q": q, **params}, headers=reader.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def found(client: httpx.AsyncClient, reader: Account, q: str, **params: Any) -> set[tuple[str, str]]:
    return {(item["type"], item["id"]) for item in (await search(client, reader, q, limit=100, **params))["items"]}


async def new_lesson(owner_conn: asyncpg.Connection, *, level: int, title: str, description: str, body: str,
                     active: bool = True) -> str:
    lesson_id = await owner_conn.fetchval(
        """INSERT INTO public.lessons (level_id, gate_id, title, description, content_data, is_active)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6) RETURNING id""",
        level, api_gate(), title, description, json.dumps({"text": body}), active)
    return str(lesson_id)


async def test_a_word_from_a_comment_finds_it_with_its_post_and_a_highlighted_snippet(
        client: httpx.AsyncClient) -> None:
    author, reader = await signup(client), await signup(client)
    needle = word()
    post_id = await new_post(client, author, "a plain title")
    comment_id = await comment(client, post_id, author, f"I think {needle} is the answer")
    page = await search(client, reader, needle)
    assert page["next_cursor"] is None
    [item] = page["items"]
    assert (item["type"], item["id"], item["post_id"], item["title"]) == ("comment", comment_id, post_id, None)
    assert f"<mark>{needle}</mark>" in item["snippet"]
    assert item["rank"] > 0 and item["created_at"]
    assert await found(client, reader, needle, type="comment") == {("comment", comment_id)}
    assert await found(client, reader, needle, type="post") == set()


async def test_markup_in_content_comes_back_escaped_around_the_marks(client: httpx.AsyncClient) -> None:
    author, reader = await signup(client), await signup(client)
    needle = word()
    await new_post(client, author, "escaping", f"<script>alert(1)</script> 1 < 2 > 0 {needle} & \ue000 \"quoted\"")
    [item] = (await search(client, reader, needle))["items"]
    snippet = item["snippet"]
    # the headline drops whole tags; any other angle bracket is escaped
    assert "<script" not in snippet and "1 &lt; 2 &gt; 0" in snippet
    assert "&amp;" in snippet and "&quot;quoted" in snippet
    assert snippet.replace(f"<mark>{needle}</mark>", "").count("<") == 0, snippet


async def test_deleted_and_hidden_comments_and_posts_are_not_found(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    author, reader = await signup(client), await signup(client)
    gone, hidden, hidden_post = word(), word(), word()
    post_id = await new_post(client, author, "host post")
    deleted_id = await comment(client, post_id, author, f"soon {gone}")
    hidden_id = await comment(client, post_id, author, f"reported {hidden}")
    hidden_post_id = await new_post(client, author, f"reported {hidden_post}")
    assert await found(client, reader, gone) == {("comment", deleted_id)}
    assert (await client.delete(f"/api/comments/{deleted_id}", headers=author.headers)).status_code in (200, 204)
    await owner_conn.execute("UPDATE public.community_comments SET hidden_at = now() WHERE id = $1", hidden_id)
    await owner_conn.execute("UPDATE public.community_posts SET hidden_at = now() WHERE id = $1", hidden_post_id)
    assert await found(client, reader, gone) == set()
    assert await found(client, reader, hidden) == set()
    assert await found(client, reader, hidden_post) == set()


async def test_a_blocked_authors_posts_and_comments_are_not_found_by_the_blocker_only(
        client: httpx.AsyncClient) -> None:
    blocker, pest, bystander = await signup(client), await signup(client), await signup(client)
    needle = word()
    pest_post = await new_post(client, pest, f"loud {needle}")
    other_post = await new_post(client, bystander, "calm")
    pest_comment = await comment(client, other_post, pest, f"more {needle}")
    assert (await client.post(f"/api/users/{pest.user_id}/block", headers=blocker.headers)).status_code == 204
    assert await found(client, blocker, needle) == set()
    assert await found(client, bystander, needle) == {("post", pest_post), ("comment", pest_comment)}


async def test_lessons_match_on_title_and_description_never_their_body(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    reader = await signup(client)
    in_title, in_description, in_body, inactive = word(), word(), word(), word()
    lesson = await new_lesson(owner_conn, level=3, title=f"Level three {in_title}",
                              description=f"about {in_description}", body=f"paid {in_body}")
    await new_lesson(owner_conn, level=1, title=f"draft {inactive}", description="", body="", active=False)
    assert await found(client, reader, in_title) == {("lesson", lesson)}
    assert await found(client, reader, in_description, type="lesson") == {("lesson", lesson)}
    assert await found(client, reader, in_body) == set()
    assert await found(client, reader, inactive) == set()


async def test_sessions_match_on_title_and_description(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    reader = await signup(client)
    needle = word()
    session_id = await owner_conn.fetchval(
        """INSERT INTO public.live_sessions (title, description, host_id, scheduled_at, duration)
           VALUES ('Workshop', $1, $2, now() + interval '1 day', interval '1 hour') RETURNING id""",
        f"we cover {needle}", reader.user_id)
    [item] = (await search(client, reader, needle))["items"]
    assert (item["type"], item["id"], item["title"]) == ("session", str(session_id), "Workshop")


async def test_a_prefix_finds_the_word_as_it_is_typed(client: httpx.AsyncClient) -> None:
    author = await signup(client)
    stem = word()
    post_id = await new_post(client, author, f"{stem}trading basics")
    for typed in (stem + "tradi", stem.upper(), f"{stem}trading bas", f"  {stem}tr!!"):
        assert await found(client, author, typed) == {("post", post_id)}, typed
    assert await found(client, author, stem + "tradix") == set()
    assert await found(client, author, f"{stem}trading zzzzunrelated") == set()


async def test_results_come_in_rank_order_and_page_without_duplicates(client: httpx.AsyncClient) -> None:
    author, reader = await signup(client), await signup(client)
    needle = word()
    best = await new_post(client, author, f"{needle} {needle}", f"{needle} {needle} {needle}")
    post_ids = [await new_post(client, author, f"title {i}", f"{needle} and other words {i}") for i in range(7)]
    comment_ids = [await comment(client, best, author, f"{needle} reply {i}") for i in range(7)]
    whole = (await search(client, reader, needle, limit=100))["items"]
    assert len(whole) == 15 and whole[0]["id"] == best
    ranks = [item["rank"] for item in whole]
    assert ranks == sorted(ranks, reverse=True)
    assert {item["id"] for item in whole} == {best, *post_ids, *comment_ids}

    paged: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await search(client, reader, needle, limit=2, **({"cursor": cursor} if cursor else {}))
        paged.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [(item["type"], item["id"]) for item in paged] == [(item["type"], item["id"]) for item in whole]


async def test_long_queries_and_foreign_cursors_are_422_and_anonymous_callers_401(
        client: httpx.AsyncClient) -> None:
    reader = await signup(client)
    for params in ({"q": "a" * 101}, {"q": "one two three four five six seven eight nine"}, {"q": ""},
                   {"q": "x", "type": "video"}, {"q": "x", "cursor": "bm90IGEgY3Vyc29y"},
                   {"q": "x", "cursor": "WzFlKzM5LCAicG9zdCIsICIwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDAiXQ"}):
        response = await client.get("/api/search", params=params, headers=reader.headers)
        assert (response.status_code, response.json()["code"]) == (422, "validation_failed"), params
    assert (await search(client, reader, "!!! ???"))["items"] == []
    assert (await client.get("/api/search", params={"q": "x"})).status_code == 401


async def test_searches_are_a_per_user_budget(start_hub: HubStarter) -> None:
    namespace = start_hub.new_namespace("searches")
    with start_hub(rate_limit_scale=1, namespace=namespace, searches_per_minute=2) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            reader = await signup(http)
            assert [(await http.get("/api/search", params={"q": "x"}, headers=reader.headers)).status_code
                    for _ in range(2)] == [200, 200]
            refused = await http.get("/api/search", params={"q": "x"}, headers=reader.headers)
            assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
            assert int(refused.headers["Retry-After"]) > 0
            other = await signup(http)
            assert (await http.get("/api/search", params={"q": "x"}, headers=other.headers)).status_code == 200


async def test_a_search_past_its_statement_timeout_is_cut_short_and_refused_cleanly(
        app_db: Database, owner_conn: asyncpg.Connection) -> None:
    """Held behind a lock the statement cannot take, the search ends at its timeout as `SearchTooBroad`
    (the route's 422), the same way a query matching too much to rank does, never as a 500."""
    author = await owner_conn.fetchval("INSERT INTO auth.users (email) VALUES ($1) RETURNING id",
                                       f"{word()}@example.com")
    reader = user_identity({"sub": str(author), "role": "authenticated"})
    async with owner_conn.transaction():
        await owner_conn.execute("LOCK TABLE public.community_posts IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(search_sql.SearchTooBroad):
            async with app_db.transaction(reader) as conn:
                await search_sql.search(conn, "anything:*", None, kind="post", limit=5, markers=("[", "]"),
                                        timeout_ms=200)
