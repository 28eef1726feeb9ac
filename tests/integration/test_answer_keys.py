"""No answer key leaves the server before a passing attempt: every lesson and progress route, failed
attempts, the `user:` channel's history route and its live events are read as learners, and their raw
bytes searched for the answers' JSON and the explanations' text."""

from __future__ import annotations

import json
import secrets
from typing import Any

import asyncpg
import httpx

from tests.helpers.api import Account, admin, signup
from tests.helpers.lessons import api_level
from tests.helpers.ws import ProtocolClient
from tests.integration.test_lessons import make_lesson, subscribe

NUMERIC_ANSWER = 98765.4321
MULTIPLE_ANSWER = [0, 3]


def quiz(tag: str) -> dict[str, Any]:
    return {"pass_score": 100, "questions": [
        {"q": "Pick the second", "choices": ["a", "b", "c"], "answer": 1, "explanation": f"why-single-{tag}"},
        {"q": "Pick two", "choices": ["w", "x", "y", "z"], "answer": MULTIPLE_ANSWER,
         "explanation": f"why-multiple-{tag}"},
        {"q": "How much?", "answer": NUMERIC_ANSWER, "tolerance": 0.0001, "explanation": f"why-numeric-{tag}"},
    ]}


RIGHT = [1, MULTIPLE_ANSWER, NUMERIC_ANSWER]
WRONG = [2, [0, 1], 1.5]


def leaks(raw: bytes, tag: str) -> list[str]:
    """What of the answer key appears in `raw`: the `answer` key, the answers' JSON, the explanations."""
    needles = [b'"answer"', str(NUMERIC_ANSWER).encode(), b"[0,3]", b"[0, 3]", b"why-", tag.encode()]
    return [needle.decode() for needle in needles if needle in raw]


async def test_no_learner_route_or_user_event_carries_an_answer_key_before_a_pass(
        client: httpx.AsyncClient, hub_url: str, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    tag = secrets.token_hex(6)
    level = api_level()
    free = await make_lesson(client, boss, level_id=1, assessment_data=quiz(tag), xp_reward=5)
    paid = await make_lesson(client, boss, level_id=level, assessment_data=quiz(tag), xp_reward=5)
    warm_up = await make_lesson(client, boss, level_id=1, xp_reward=7)
    learner, subscriber = await signup(client), await signup(client)
    await subscribe(owner_conn, subscriber.user_id, level)
    seen: list[tuple[str, bytes]] = []

    async def read(account: Account | None, path: str, **params: Any) -> httpx.Response:
        response = await client.get(path, params=params, headers=account.headers if account else None)
        seen.append((f"GET {path} {params}", response.content))
        return response

    sockets = {}
    for account in (learner, subscriber):
        ws = await ProtocolClient.open(hub_url, account.access_token)
        assert (await ws.subscribe(f"user:{account.user_id}"))["ok"]
        sockets[account.user_id] = ws
    try:
        for account in (learner, subscriber):
            # Events on the channel first (XP, streak, achievements), so its history has something to show.
            warm = await client.post(f"/api/lessons/{warm_up['id']}/attempts", headers=account.headers,
                                     json={"score": 100, "time_spent_seconds": 5, "completed": True})
            assert warm.status_code == 201, warm.text
            for lesson in (free, paid):
                failed = await client.post(f"/api/lessons/{lesson['id']}/attempts", headers=account.headers,
                                           json={"answers": WRONG, "time_spent_seconds": 5})
                seen.append((f"failed attempt on {lesson['title']}", failed.content))
                if lesson is paid and account is learner:
                    assert failed.status_code == 402
                else:
                    assert failed.status_code == 201 and failed.json()["passed"] is False, failed.text
            for path in ("/api/lessons", "/api/lessons/popular", f"/api/lessons/{free['id']}",
                         f"/api/lessons/{paid['id']}", "/api/progress/me", "/api/stats/me", "/api/activity/me",
                         "/api/achievements/me", "/api/streaks/me", "/api/achievements",
                         f"/api/channels/user:{account.user_id}/events"):
                await read(account, path)
            await read(account, "/api/lessons", level_id=1, limit=100)
            await read(account, "/api/lessons", level_id=level)
            await read(account, "/api/lessons", include_inactive=True)
        for path in ("/api/lessons", f"/api/lessons/{free['id']}", f"/api/lessons/{paid['id']}"):
            await read(None, path)

        shown = (await read(subscriber, f"/api/lessons/{paid['id']}")).json()["assessment_data"]
        assert [q.get("kind") for q in shown["questions"]] == ["single", "multiple", "numeric"]
        assert [q["choices"] for q in shown["questions"][:2]] == [["a", "b", "c"], ["w", "x", "y", "z"]]

        passed = await client.post(f"/api/lessons/{free['id']}/attempts", headers=learner.headers,
                                   json={"answers": RIGHT, "time_spent_seconds": 5})
        assert passed.status_code == 201 and passed.json()["passed"] is True
        assert leaks(passed.content, tag) == ["why-", tag], "the pass shows the explanations: the search finds them"
        await sockets[learner.user_id].wait_events(f"user:{learner.user_id}", 3)
        for ws in sockets.values():
            await ws.settle()  # more frames for the leak check below; what it must see was waited for
    finally:
        for ws in sockets.values():
            await ws.close()

    assert len(sockets[learner.user_id].durable(f"user:{learner.user_id}")) >= 3, "XP and streak, before and after"
    for account in (learner, subscriber):
        for frame in sockets[account.user_id].frames:
            seen.append((f"ws frame {frame.get('event')}", json.dumps(frame).encode()))
    assert len(seen) > 40
    assert {what: found for what, body in seen if (found := leaks(body, tag))} == {}
