"""Attempts: XP exactly once, levels, streaks, achievements, gates, and the learner's own reads."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from hub.pagination import encode_cursor
from hub.rules import xp_to_reach
from tests.helpers.api import Account, admin, signup
from tests.helpers.far_dates import far_day
from tests.integration.test_budgets import assert_rate_limited, budget_hub
from tests.integration.test_lessons import make_lesson, subscribe


class FakeClock:
    """A wall clock the test moves; the hub reads it through `start_hub(clock=...)`."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now.timestamp()

    def advance(self, days: int) -> None:
        self.now += timedelta(days=days)


async def attempt(client: httpx.AsyncClient, account: Account, lesson: dict[str, Any], *, completed: bool = True,
                  score: int = 90, seconds: int = 60, expect: int = 201) -> dict[str, Any]:
    response = await client.post(f"/api/lessons/{lesson['id']}/attempts", headers=account.headers,
                                 json={"score": score, "time_spent_seconds": seconds, "completed": completed})
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


async def user_events(owner_conn: asyncpg.Connection, user_id: UUID, event: str) -> list[dict[str, Any]]:
    rows = await owner_conn.fetch("SELECT data FROM realtime.events WHERE channel = $1 AND event = $2 ORDER BY seq",
                                  f"user:{user_id}", event)
    return [row["data"] for row in rows]


async def total_xp(owner_conn: asyncpg.Connection, user_id: UUID) -> int:
    xp: int = await owner_conn.fetchval("SELECT total_xp FROM public.user_profiles WHERE id = $1", user_id)
    return xp


async def test_only_the_first_completion_awards_xp(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    lesson = await make_lesson(client, boss, xp_reward=120)

    tried = await attempt(client, learner, lesson, completed=False, score=40, seconds=30)
    assert (tried["xp_awarded"], tried["total_xp"], tried["progress"]["completed"]) == (0, 0, False)
    done = await attempt(client, learner, lesson, score=70, seconds=45)
    assert (done["xp_awarded"], done["total_xp"], done["level"], done["level_up"]) == (120, 120, 1, False)
    assert done["progress"]["xp_earned"] == 120 and done["progress"]["completed"] is True
    again = await attempt(client, learner, lesson, score=50, seconds=15)
    assert (again["xp_awarded"], again["total_xp"]) == (0, 120)
    assert (again["progress"]["attempts_count"], again["progress"]["score"]) == (3, 70), "best score kept"
    assert again["progress"]["time_spent"] == "PT90S", "time accumulates"

    assert await total_xp(owner_conn, learner.user_id) == 120
    awarded = await user_events(owner_conn, learner.user_id, "xp.awarded")
    assert [(e["amount"], e["source"], e["lesson_id"], e["total_xp"]) for e in awarded] == [
        (120, "lesson", lesson["id"], 120)]
    assert await owner_conn.fetchval(
        "SELECT count(*) FROM public.user_activity_log WHERE user_id = $1 AND activity_type = 'lesson_complete' "
        "AND entity_type = 'lesson' AND entity_id = $2", learner.user_id, UUID(lesson["id"])) == 1


async def test_later_updates_of_a_completed_row_count_no_xp(client: httpx.AsyncClient,
                                                            owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    lesson = await make_lesson(client, boss, xp_reward=300)
    await attempt(client, learner, lesson)
    await owner_conn.execute("UPDATE public.user_progress SET score = 99, completed = true WHERE user_id = $1",
                             learner.user_id)
    await attempt(client, learner, lesson, completed=False)
    assert await total_xp(owner_conn, learner.user_id) == 300
    boards = await owner_conn.fetch("SELECT period, xp_points FROM public.leaderboard WHERE user_id = $1",
                                    learner.user_id)
    assert sorted((row["period"], row["xp_points"]) for row in boards) == [
        ("all_time", 300), ("daily", 300), ("monthly", 300), ("weekly", 300)]


async def test_twenty_concurrent_first_completions_award_xp_once(client: httpx.AsyncClient,
                                                                 owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    lesson = await make_lesson(client, boss, xp_reward=250)
    answers = await asyncio.gather(*(attempt(client, learner, lesson) for _ in range(20)))
    assert sorted(answer["xp_awarded"] for answer in answers) == [0] * 19 + [250]
    assert await total_xp(owner_conn, learner.user_id) == 250
    assert len(await user_events(owner_conn, learner.user_id, "xp.awarded")) == 1
    row = await owner_conn.fetchrow("SELECT attempts_count, xp_earned FROM public.user_progress WHERE user_id = $1",
                                    learner.user_id)
    assert (row["attempts_count"], row["xp_earned"]) == (20, 250)
    all_time = await owner_conn.fetchrow(
        "SELECT xp_points, lessons_completed FROM public.leaderboard WHERE user_id = $1 AND period = 'all_time'",
        learner.user_id)
    assert (all_time["xp_points"], all_time["lessons_completed"]) == (250, 1)


async def test_levels_cross_at_1000_3000_and_7000_with_one_level_up_each(client: httpx.AsyncClient,
                                                                          owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    steps = [(999, 1, False), (1, 2, True), (1999, 2, False), (1, 3, True), (3999, 3, False), (1, 4, True)]
    for xp, level, crossed in steps:
        answer = await attempt(client, learner, await make_lesson(client, boss, xp_reward=xp))
        assert (answer["level"], answer["level_up"]) == (level, crossed), xp
        assert answer["next_level_xp"] == xp_to_reach(level + 1)
    assert await user_events(owner_conn, learner.user_id, "level.up") == [
        {"from": 1, "to": 2}, {"from": 2, "to": 3}, {"from": 3, "to": 4}]
    assert await owner_conn.fetchval("SELECT current_level FROM public.user_profiles WHERE id = $1",
                                     learner.user_id) == 4
    for level in (2, 3, 4):  # the Python thresholds agree with the SQL level formula
        assert await owner_conn.fetchval("SELECT public.calculate_user_level($1)", xp_to_reach(level)) == level
        assert await owner_conn.fetchval("SELECT public.calculate_user_level($1)", xp_to_reach(level) - 1) == level - 1


async def test_a_lesson_beyond_the_plan_is_refused_with_402_and_nothing_written(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner, subscriber = await signup(client), await signup(client)
    lesson = await make_lesson(client, boss, level_id=2, xp_reward=10)
    refused = await client.post(f"/api/lessons/{lesson['id']}/attempts", headers=learner.headers,
                                json={"score": 1, "time_spent_seconds": 1, "completed": True})
    assert refused.status_code == 402
    assert refused.json()["code"] == "plan_required"
    assert await owner_conn.fetchval("SELECT count(*) FROM public.user_progress WHERE user_id = $1",
                                     learner.user_id) == 0
    await subscribe(owner_conn, subscriber.user_id, 2)
    assert (await attempt(client, subscriber, lesson))["xp_awarded"] == 10


async def test_missing_prerequisites_are_a_409_listing_them(client: httpx.AsyncClient,
                                                            owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    first, second = await make_lesson(client, boss), await make_lesson(client, boss)
    gated = await make_lesson(client, boss, prerequisites=[first["id"], second["id"]], xp_reward=5)

    refused = await client.post(f"/api/lessons/{gated['id']}/attempts", headers=learner.headers,
                                json={"score": 1, "time_spent_seconds": 1, "completed": True})
    assert refused.status_code == 409
    assert refused.json()["code"] == "prerequisites_not_met"
    assert refused.json()["missing"] == [first["id"], second["id"]]
    await attempt(client, learner, first)
    await attempt(client, learner, second, completed=False)
    still = await client.post(f"/api/lessons/{gated['id']}/attempts", headers=learner.headers,
                              json={"score": 1, "time_spent_seconds": 1, "completed": True})
    assert still.json()["missing"] == [second["id"]], "an uncompleted attempt does not count"
    await attempt(client, learner, second)
    assert (await attempt(client, learner, gated))["xp_awarded"] == 5


async def test_attempt_bodies_are_validated_and_server_fields_refused(client: httpx.AsyncClient,
                                                                      owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    lesson = await make_lesson(client, boss, xp_reward=10)
    good = {"score": 50, "time_spent_seconds": 10, "completed": True}
    for bad in ({"score": 101}, {"score": -1}, {"time_spent_seconds": 86_401}, {"completed": "yes"},
                {"xp_earned": 100_000}, {"total_xp": 5}):
        response = await client.post(f"/api/lessons/{lesson['id']}/attempts", json={**good, **bad},
                                     headers=learner.headers)
        assert response.status_code == 422, bad
    assert (await client.post(f"/api/lessons/{lesson['id']}/attempts", json=good)).status_code == 401
    missing = await client.post(f"/api/lessons/{UUID(int=3)}/attempts", json=good, headers=learner.headers)
    assert missing.status_code == 404
    await client.patch(f"/api/lessons/{lesson['id']}", json={"is_active": False}, headers=boss.headers)
    inactive = await client.post(f"/api/lessons/{lesson['id']}/attempts", json=good, headers=learner.headers)
    assert inactive.status_code == 404
    assert await total_xp(owner_conn, learner.user_id) == 0


async def test_an_attempt_retried_with_its_idempotency_key_counts_once(client: httpx.AsyncClient,
                                                                       owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    lesson = await make_lesson(client, boss, xp_reward=10)
    headers = {**learner.headers, "Idempotency-Key": secrets.token_hex(8)}
    body = {"score": 50, "time_spent_seconds": 10, "completed": False}
    first = await client.post(f"/api/lessons/{lesson['id']}/attempts", json=body, headers=headers)
    again = await client.post(f"/api/lessons/{lesson['id']}/attempts", json=body, headers=headers)
    assert first.json() == again.json()
    assert await owner_conn.fetchval("SELECT attempts_count FROM public.user_progress WHERE user_id = $1",
                                     learner.user_id) == 1


async def test_streak_follows_utc_days_of_first_completions(client: httpx.AsyncClient, owner_conn: asyncpg.Connection,
                                                            start_hub: Any) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    clock = FakeClock(far_day().replace(hour=23, minute=30))
    lessons = [await make_lesson(client, boss, xp_reward=1) for _ in range(5)]
    with start_hub(clock=clock) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as hub:
            day1 = (await attempt(hub, learner, lessons[0]))["streak"]
            assert (day1["current_streak"], day1["longest_streak"]) == (1, 1)
            same_day = (await attempt(hub, learner, lessons[1]))["streak"]
            assert same_day == day1
            clock.now += timedelta(hours=1)  # 00:30 UTC: the next calendar day
            day2 = (await attempt(hub, learner, lessons[2]))["streak"]
            assert (day2["current_streak"], day2["longest_streak"], day2["last_streak_reset"]) == (2, 2, None)
            clock.advance(3)
            shown = (await hub.get("/api/streaks/me", headers=learner.headers)).json()
            assert (shown["current_streak"], shown["longest_streak"]) == (0, 2), "a missed day breaks it"
            after_gap = (await attempt(hub, learner, lessons[3]))["streak"]
            assert (after_gap["current_streak"], after_gap["longest_streak"]) == (1, 2)
            assert datetime.fromisoformat(after_gap["last_streak_reset"]) == clock.now
            assert after_gap["last_activity_date"] == clock.now.date().isoformat()
    stored = await owner_conn.fetchrow("SELECT current_streak, longest_streak, last_activity_date "
                                       "FROM public.user_streaks WHERE user_id = $1", learner.user_id)
    assert (stored["current_streak"], stored["longest_streak"], stored["last_activity_date"]) == (
        1, 2, clock.now.date())
    updates = await user_events(owner_conn, learner.user_id, "streak.updated")
    assert [e["current_streak"] for e in updates] == [1, 2, 1], "one event per change, none on the same day"


async def test_achievements_unlock_once_including_one_reached_by_another_achievements_xp(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    tag = secrets.token_hex(4)
    target = 90_000 + secrets.randbelow(5000)
    ids = await owner_conn.fetch(
        """
        INSERT INTO public.achievements (code, title, description, xp_reward, requirements)
        VALUES ($1 || '-first', 'First', 'd', 600, '{"lessons_completed": 1}'::jsonb),
               ($1 || '-rich', 'Rich', 'd', 5, jsonb_build_object('total_xp', $2::int)),
               ($1 || '-typo', 'Typo', 'd', 5, '{"lesson_completed": 1}'::jsonb)
        RETURNING id, code
        """, tag, target)
    try:
        by_code = {row["code"].split("-")[1]: str(row["id"]) for row in ids}
        lesson = await make_lesson(client, boss, xp_reward=target - 600)
        answer = await attempt(client, learner, lesson)
        assert [a["id"] for a in answer["achievements_unlocked"]] == [by_code["first"], by_code["rich"]]
        assert answer["total_xp"] == answer["xp_awarded"] == target + 5
        assert answer["level"] == 7 and answer["level_up"] is True
        assert await total_xp(owner_conn, learner.user_id) == target + 5
        all_time = await owner_conn.fetchval(
            "SELECT xp_points FROM public.leaderboard WHERE user_id = $1 AND period = 'all_time'", learner.user_id)
        assert all_time == target + 5, "achievement XP counts on the leaderboard"
        sources = [(e["source"], e["amount"]) for e in await user_events(owner_conn, learner.user_id, "xp.awarded")]
        assert sources == [("lesson", target - 600), ("achievement", 600), ("achievement", 5)]
        assert await user_events(owner_conn, learner.user_id, "level.up") == [{"from": 1, "to": 7}]

        await attempt(client, learner, await make_lesson(client, boss, xp_reward=1))
        unlocked = await owner_conn.fetch("SELECT achievement_id FROM public.user_achievements WHERE user_id = $1",
                                          learner.user_id)
        assert sorted(str(row["achievement_id"]) for row in unlocked) == sorted([by_code["first"], by_code["rich"]])
        assert len(await user_events(owner_conn, learner.user_id, "achievement.unlocked")) == 2
        mine = (await client.get("/api/achievements/me", headers=learner.headers)).json()["items"]
        assert {a["id"] for a in mine if a["unlocked"]} == {by_code["first"], by_code["rich"]}
        assert {a["code"]: a["progress_value"] for a in mine if a["unlocked"]} == {f"{tag}-first": 1,
                                                                                  f"{tag}-rich": target}
        codes: set[str] = set()
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/api/achievements", params=params)).json()
            codes |= {a["code"] for a in page["items"]}
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert {f"{tag}-first", f"{tag}-rich", f"{tag}-typo"} <= codes
    finally:
        await owner_conn.execute("UPDATE public.achievements SET is_active = false WHERE code LIKE $1 || '-%'", tag)


async def test_own_progress_stats_and_activity_reads(client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    zero = (await client.get("/api/stats/me", headers=learner.headers)).json()
    assert (zero["completed_lessons"], zero["total_xp"], zero["last_activity"]) == (0, 0, None)
    lessons = [await make_lesson(client, boss, xp_reward=10 * (i + 1)) for i in range(3)]
    for lesson in lessons:
        await attempt(client, learner, lesson)
    await attempt(client, learner, await make_lesson(client, boss), completed=False)
    stats = (await client.get("/api/stats/me", headers=learner.headers)).json()
    assert (stats["completed_lessons"], stats["total_xp"]) == (3, 60)

    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/progress/me", params=params, headers=learner.headers)).json()
        rows += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(rows) == 4 and {row["user_id"] for row in rows} == {str(learner.user_id)}
    other = await signup(client)
    assert (await client.get("/api/progress/me", headers=other.headers)).json()["items"] == []
    assert (await client.get("/api/progress/me")).status_code == 401
    streak = (await client.get("/api/streaks/me", headers=learner.headers)).json()
    assert (streak["current_streak"], streak["last_activity_date"]) == (1, datetime.now(UTC).date().isoformat())


async def test_activity_pages_neither_repeat_nor_skip_while_entries_are_written(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    learner = await signup(client)

    async def log(n: int) -> None:
        for _ in range(n):
            await owner_conn.execute(
                "INSERT INTO public.user_activity_log (user_id, activity_type, metadata) VALUES ($1, 'test', '{}')",
                learner.user_id)

    await log(7)
    original = {row["id"] for row in await owner_conn.fetch(
        "SELECT id FROM public.user_activity_log WHERE user_id = $1", learner.user_id)}
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/activity/me", params=params, headers=learner.headers)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        await log(2)
    ids = [item["id"] for item in seen]
    assert len(ids) == len(set(ids)) == 7
    assert {UUID(i) for i in ids} == original, "entries written meanwhile are newer: they are not in later pages"
    stamps = [(item["created_at"], item["id"]) for item in seen]
    assert stamps == sorted(stamps, reverse=True)
    for foreign in ([1, 2], ["2024-01-01T00:00:00", str(UUID(int=1))]):  # wrong types; a naive time
        bad = await client.get("/api/activity/me", params={"cursor": encode_cursor(foreign)}, headers=learner.headers)
        assert bad.status_code == 422



# ---------------------------------------------------------------- graded lessons

QUIZ = {"pass_score": 60, "questions": [
    {"q": "Which is a candle's body?", "choices": ["open to close", "high to low", "the wick"], "answer": 0,
     "explanation": "The body spans open to close."},
    {"q": "Which limit a loss?", "choices": ["a stop", "sizing", "hope", "prayer"], "answer": [0, 1],
     "explanation": "Stops and sizing do; hope does not."},
    {"q": "Risk 2 to make 6: what ratio?", "answer": 3, "tolerance": 0.01, "explanation": "6 / 2 = 3."},
]}
RIGHT: list[Any] = [0, [1, 0], 3.001]
TWO_OF_THREE: list[Any] = [0, [1, 0], 2]  # 66 % ≥ 60: passes


async def answer(client: httpx.AsyncClient, account: Account, lesson: dict[str, Any], answers: list[Any], *,
                 expect: int = 201) -> dict[str, Any]:
    response = await client.post(f"/api/lessons/{lesson['id']}/attempts", headers=account.headers,
                                 json={"answers": answers, "time_spent_seconds": 30})
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_wrong_answers_earn_nothing_and_passing_completes_the_lesson_once(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    lesson = await make_lesson(client, boss, xp_reward=140, assessment_data=QUIZ)

    wrong = await answer(client, learner, lesson, [1, [0], 4])
    assert (wrong["score"], wrong["passed"], wrong["xp_awarded"], wrong["total_xp"]) == (0, False, 0, 0)
    assert wrong["results"] == [{"question": n, "correct": False} for n in range(3)], "no explanation yet"
    assert wrong["progress"]["completed"] is False and wrong["progress"]["score"] == 0
    one_right = await answer(client, learner, lesson, [0, None, None])
    assert (one_right["score"], one_right["passed"], one_right["xp_awarded"]) == (33, False, 0)
    assert [r["correct"] for r in one_right["results"]] == [True, False, False]
    assert await total_xp(owner_conn, learner.user_id) == 0
    assert await user_events(owner_conn, learner.user_id, "xp.awarded") == []

    passed = await answer(client, learner, lesson, TWO_OF_THREE)
    assert (passed["score"], passed["passed"], passed["xp_awarded"], passed["total_xp"]) == (66, True, 140, 140)
    assert passed["results"] == [
        {"question": 0, "correct": True, "explanation": "The body spans open to close."},
        {"question": 1, "correct": True, "explanation": "Stops and sizing do; hope does not."},
        {"question": 2, "correct": False, "explanation": "6 / 2 = 3."}]
    assert passed["progress"]["completed"] is True and passed["progress"]["xp_earned"] == 140
    again = await answer(client, learner, lesson, RIGHT)
    assert (again["score"], again["passed"], again["xp_awarded"], again["total_xp"]) == (100, True, 0, 140)
    assert again["progress"]["score"] == 100 and again["progress"]["attempts_count"] == 4
    assert [e["amount"] for e in await user_events(owner_conn, learner.user_id, "xp.awarded")] == [140]


async def test_twenty_concurrent_passing_attempts_award_xp_once(client: httpx.AsyncClient,
                                                                owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    lesson = await make_lesson(client, boss, xp_reward=260, assessment_data=QUIZ)
    answers = await asyncio.gather(*(answer(client, learner, lesson, RIGHT) for _ in range(20)))
    assert all(a["passed"] for a in answers)
    assert sorted(a["xp_awarded"] for a in answers) == [0] * 19 + [260]
    assert await total_xp(owner_conn, learner.user_id) == 260
    assert len(await user_events(owner_conn, learner.user_id, "xp.awarded")) == 1
    row = await owner_conn.fetchrow("SELECT attempts_count, xp_earned, completed FROM public.user_progress "
                                    "WHERE user_id = $1", learner.user_id)
    assert (row["attempts_count"], row["xp_earned"], row["completed"]) == (20, 260, True)


async def test_a_graded_lesson_takes_only_answers_and_the_answers_are_bounded(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    graded = await make_lesson(client, boss, xp_reward=10, assessment_data=QUIZ)
    plain = await make_lesson(client, boss, xp_reward=10, assessment_data={"questions": []})
    url = f"/api/lessons/{graded['id']}/attempts"
    refused_bodies: list[dict[str, Any]] = [
        {"score": 100, "time_spent_seconds": 1, "completed": True},  # a self-scored pass
        {"answers": RIGHT, "score": 100, "time_spent_seconds": 1},
        {"answers": RIGHT, "completed": True, "time_spent_seconds": 1},
        {"answers": RIGHT},
        {"answers": RIGHT[:2], "time_spent_seconds": 1},
        {"answers": [*RIGHT, 0], "time_spent_seconds": 1},
        {"answers": [0] * 101, "time_spent_seconds": 1},
        {"answers": [0, list(range(21)), 3], "time_spent_seconds": 1},
        {"answers": [True, [0, 1], 3], "time_spent_seconds": 1},
        {"answers": ["0", [0, 1], 3], "time_spent_seconds": 1},
        {"answers": [0, [0, 1.5], 3], "time_spent_seconds": 1},
        {"answers": [0, [[0]], 3], "time_spent_seconds": 1},
        {"answers": [0, [-1], 3], "time_spent_seconds": 1},
        {"answers": [0, {"a": 1}, 3], "time_spent_seconds": 1},
        {"answers": [0, [0, 1], 1e16], "time_spent_seconds": 1},
        {"answers": "0", "time_spent_seconds": 1},
    ]
    for body in refused_bodies:
        response = await client.post(url, json=body, headers=learner.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "validation_failed"
    mixed = await client.post(f"/api/lessons/{plain['id']}/attempts", headers=learner.headers,
                              json={"answers": [], "score": 100, "completed": True, "time_spent_seconds": 1})
    assert mixed.status_code == 422, "a lesson without an assessment takes no answers"
    assert await owner_conn.fetchval("SELECT count(*) FROM public.user_progress WHERE user_id = $1",
                                     learner.user_id) == 0
    plain_done = await attempt(client, learner, plain, score=80)
    assert (plain_done["score"], plain_done["passed"], plain_done["results"], plain_done["xp_awarded"]) == (
        80, True, [], 10), "no questions: the client's score and `completed` as before"


async def test_attempts_on_one_lesson_are_budgeted_per_user_and_lesson(start_hub: Any, client: httpx.AsyncClient,
                                                                       owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    lesson, other_lesson = [await make_lesson(client, boss, assessment_data=QUIZ) for _ in range(2)]
    learner, someone = await signup(client), await signup(client)
    with budget_hub(start_hub, attempts_per_lesson_per_hour=2) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=60) as hub:
            tries = [await answer(hub, learner, lesson, [1, [2], 0]) for _ in range(2)]
            third = await hub.post(f"/api/lessons/{lesson['id']}/attempts", headers=learner.headers,
                                   json={"answers": RIGHT, "time_spent_seconds": 1})
            elsewhere = await answer(hub, learner, other_lesson, RIGHT)
            another_learner = await answer(hub, someone, lesson, RIGHT)
    assert [t["passed"] for t in tries] == [False, False]
    assert 3000 < assert_rate_limited(third) <= 3600
    assert elsewhere["passed"] and another_learner["passed"]
    assert await owner_conn.fetchval("SELECT attempts_count FROM public.user_progress WHERE user_id = $1 "
                                     "AND lesson_id = $2", learner.user_id, UUID(lesson["id"])) == 2
