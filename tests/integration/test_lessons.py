"""Lessons: public catalogue, plan-gated content, admin writes with validation, keyset pagination."""

from __future__ import annotations

import secrets
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from hub.pagination import encode_cursor
from tests.helpers.api import Account, admin, signup
from tests.helpers.lessons import api_gate, api_level


async def make_lesson(client: httpx.AsyncClient, by: Account, **fields: Any) -> dict[str, Any]:
    body = {"level_id": 1, "gate_id": api_gate(), "title": "A lesson", "content_data": {"steps": ["read"]},
            **fields}
    response = await client.post("/api/lessons", json=body, headers=by.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def subscribe(owner_conn: asyncpg.Connection, user_id: UUID, level_access_limit: int) -> None:
    """Gives the user an active subscription to a plan reaching `level_access_limit`."""
    plan_id = await owner_conn.fetchval(
        "INSERT INTO public.subscription_plans (name, price, features, level_access_limit) "
        "VALUES ('test plan', 10, '{}'::jsonb, $1) RETURNING id", level_access_limit)
    await owner_conn.execute(
        "INSERT INTO public.user_subscriptions (user_id, plan_id, status) VALUES ($1, $2, 'active')",
        user_id, plan_id)


async def test_lesson_list_is_public_and_never_carries_content(client: httpx.AsyncClient,
                                                               owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    level = api_level()
    lesson = await make_lesson(client, boss, level_id=level,
                               assessment_data={"questions": [{"q": "?", "choices": ["a", "b"], "answer": 1}]})
    response = await client.get("/api/lessons", params={"level_id": level})
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [lesson["id"]]
    item = response.json()["items"][0]
    assert "content_data" not in item and "assessment_data" not in item
    assert item["title"] == "A lesson"


async def test_lesson_content_needs_a_plan_reaching_its_level(client: httpx.AsyncClient,
                                                              owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    free = await make_lesson(client, boss, level_id=1)
    paid = await make_lesson(client, boss, level_id=3, content_data={"secret": "level three"})
    learner, subscriber = await signup(client), await signup(client)
    await subscribe(owner_conn, subscriber.user_id, 3)

    assert (await client.get(f"/api/lessons/{free['id']}")).json()["content_data"] == {"steps": ["read"]}
    for headers in (None, learner.headers):
        refused = await client.get(f"/api/lessons/{paid['id']}", headers=headers)
        assert refused.status_code == 402
        assert refused.json()["code"] == "plan_required"
        assert "secret" not in refused.text
    for account in (subscriber, boss):
        allowed = await client.get(f"/api/lessons/{paid['id']}", headers=account.headers)
        assert allowed.status_code == 200
        assert allowed.json()["content_data"] == {"secret": "level three"}


async def test_only_admins_write_lessons(client: httpx.AsyncClient) -> None:
    learner = await signup(client)
    body = {"level_id": 1, "gate_id": api_gate(), "title": "t", "content_data": {}}
    assert (await client.post("/api/lessons", json=body)).status_code == 401
    forbidden = await client.post("/api/lessons", json=body, headers=learner.headers)
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "forbidden"


async def test_lesson_fields_are_validated(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    base = {"level_id": 1, "gate_id": api_gate(), "title": "t", "content_data": {}}
    bad_fields: list[dict[str, Any]] = [
        {"level_id": 0}, {"gate_id": -1}, {"xp_reward": 100_001}, {"xp_reward": -1},
        {"difficulty": "expert"}, {"estimated_time": "90 minutes"}, {"estimated_time": "-PT1H"},
        {"prerequisites": ["not-a-uuid"]}, {"prerequisites": [str(UUID(int=7))]}, {"total_xp": 5},
        {"created_by": str(boss.user_id)}, {"title": ""}, {"title": "a\u0000b"},
        {"content_data": {"k": ["\u0000"]}}, {"assessment_data": {"\u0000": 1}},
        {"assessment_data": {"quiz": [1]}}, {"assessment_data": [{"q": "?", "answer": 1}]},
        {"assessment_data": {"questions": [{"q": "?", "choices": ["a", "b"], "answer": 2}]}},
        {"assessment_data": {"questions": [{"q": "?", "answer": 1, "solution": "leaks"}]}},
        {"assessment_data": {"pass_score": 101, "questions": []}},
    ]
    for bad in bad_fields:
        response = await client.post("/api/lessons", json={**base, **bad}, headers=boss.headers)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["code"] == "validation_failed"
    assert await owner_conn.fetchval("SELECT count(*) FROM public.lessons WHERE gate_id = $1 AND level_id = 1",
                                     base["gate_id"]) == 0


async def test_durations_are_iso_8601_and_prerequisites_must_exist(client: httpx.AsyncClient,
                                                                   owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    first = await make_lesson(client, boss)
    second = await make_lesson(client, boss, estimated_time="PT1H30M", prerequisites=[first["id"]],
                               difficulty="advanced", xp_reward=100_000)
    assert second["estimated_time"] == "PT5400S"
    assert second["prerequisites"] == [first["id"]]
    stored = await owner_conn.fetchrow("SELECT estimated_time, created_by FROM public.lessons WHERE id = $1",
                                       UUID(second["id"]))
    assert stored["estimated_time"].total_seconds() == 5400
    assert stored["created_by"] == boss.user_id


async def test_a_taken_level_and_gate_is_a_conflict(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    taken = await make_lesson(client, boss)
    other = await make_lesson(client, boss)
    duplicate = await client.post("/api/lessons", headers=boss.headers, json={
        "level_id": 1, "gate_id": taken["gate_id"], "title": "again", "content_data": {}})
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "lesson_exists"
    moved = await client.patch(f"/api/lessons/{other['id']}", json={"gate_id": taken["gate_id"]},
                               headers=boss.headers)
    assert moved.status_code == 409
    assert moved.json()["code"] == "lesson_exists"


async def test_create_with_the_same_idempotency_key_creates_once(client: httpx.AsyncClient,
                                                                 owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    gate = api_gate()
    body = {"level_id": 1, "gate_id": gate, "title": "once", "content_data": {}}
    headers = {**boss.headers, "Idempotency-Key": secrets.token_hex(8)}
    first = await client.post("/api/lessons", json=body, headers=headers)
    again = await client.post("/api/lessons", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await owner_conn.fetchval("SELECT count(*) FROM public.lessons WHERE level_id = 1 AND gate_id = $1",
                                     gate) == 1


async def test_patch_changes_given_fields_and_inactive_lessons_are_admin_only(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    level = api_level()
    lesson = await make_lesson(client, boss, level_id=level, subtitle="keep me")
    patched = await client.patch(f"/api/lessons/{lesson['id']}", json={"title": "Renamed", "is_active": False,
                                                                       "estimated_time": "PT10M"},
                                 headers=boss.headers)
    assert patched.status_code == 200
    assert (patched.json()["title"], patched.json()["subtitle"], patched.json()["is_active"]) == (
        "Renamed", "keep me", False)
    assert patched.json()["estimated_time"] == "PT600S"

    params = {"level_id": level, "include_inactive": "true"}
    assert (await client.get("/api/lessons", params={"level_id": level})).json()["items"] == []
    assert (await client.get("/api/lessons", params=params, headers=learner.headers)).json()["items"] == []
    assert (await client.get(f"/api/lessons/{lesson['id']}", headers=learner.headers)).status_code == 404
    listed = await client.get("/api/lessons", params=params, headers=boss.headers)
    assert [item["id"] for item in listed.json()["items"]] == [lesson["id"]]
    assert (await client.patch(f"/api/lessons/{lesson['id']}", json={"title": "x"},
                               headers=learner.headers)).status_code == 403
    assert (await client.patch(f"/api/lessons/{UUID(int=1)}", json={"title": "x"},
                               headers=boss.headers)).status_code == 404


async def test_delete_removes_the_lesson_and_refuses_when_learners_have_progress(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    doomed = await make_lesson(client, boss)
    dependent = await make_lesson(client, boss, prerequisites=[doomed["id"]])
    assert (await client.delete(f"/api/lessons/{doomed['id']}", headers=learner.headers)).status_code == 403
    assert (await client.delete(f"/api/lessons/{doomed['id']}", headers=boss.headers)).status_code == 204
    assert (await client.get(f"/api/lessons/{doomed['id']}")).status_code == 404
    assert (await client.get(f"/api/lessons/{dependent['id']}")).json()["prerequisites"] == []
    assert (await client.delete(f"/api/lessons/{doomed['id']}", headers=boss.headers)).status_code == 404

    studied = await make_lesson(client, boss)
    attempt = await client.post(f"/api/lessons/{studied['id']}/attempts", headers=learner.headers,
                                json={"score": 10, "time_spent_seconds": 5, "completed": False})
    assert attempt.status_code == 201
    refused = await client.delete(f"/api/lessons/{studied['id']}", headers=boss.headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "lesson_in_use"
    assert await owner_conn.fetchval("SELECT count(*) FROM public.lessons WHERE id = $1", UUID(studied["id"])) == 1


async def test_lesson_pages_neither_repeat_nor_skip_rows_while_lessons_are_added(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    level = api_level()
    original = [await make_lesson(client, boss, level_id=level, gate_id=gate) for gate in (10, 20, 30, 40, 50, 60, 70)]
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    added_gates = iter([(5, 65), (15, 75)])
    while True:
        params: dict[str, Any] = {"level_id": level, "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/lessons", params=params)).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        for gate in next(added_gates, ()):  # one gate before the cursor, one after
            await make_lesson(client, boss, level_id=level, gate_id=gate)
    ids = [item["id"] for item in seen]
    assert len(ids) == len(set(ids)), "no lesson twice"
    assert {lesson["id"] for lesson in original} <= set(ids), "no original lesson skipped"
    gates = [item["gate_id"] for item in seen]
    assert gates == sorted(gates)
    for foreign in (encode_cursor([2**40, 1, 1, str(UUID(int=1))]), encode_cursor(["x", 1, 1, "y"])):
        refused = await client.get("/api/lessons", params={"level_id": level, "cursor": foreign})
        assert refused.status_code == 422
    assert {65, 75} <= set(gates) and not {5, 15} & set(gates), "only lessons added after the cursor come"


async def test_popular_lessons_route_is_not_taken_for_a_lesson_id(client: httpx.AsyncClient,
                                                                  owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    lesson = await make_lesson(client, boss, xp_reward=0)
    done = await client.post(f"/api/lessons/{lesson['id']}/attempts", headers=learner.headers,
                             json={"score": 80, "time_spent_seconds": 60, "completed": True})
    assert done.status_code == 201
    seen: dict[str, Any] = {}
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/lessons/popular", params=params)
        assert response.status_code == 200, response.text
        seen.update({item["id"]: item for item in response.json()["items"]})
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert seen[lesson["id"]]["completions"] == 1
    assert seen[lesson["id"]]["avg_score"] == 80.0
