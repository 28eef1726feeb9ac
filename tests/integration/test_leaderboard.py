"""Leaderboards: per-period totals, Monday weeks, rollover, ranks and ties, percentiles, pages, neighbours."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec

from hub.domain.leaderboard import leaderboard_row
from persistence import leaderboard
from persistence.db import Database
from persistence.identity import SERVICE
from tests.helpers.api import Account, admin, signup
from tests.helpers.far_dates import far_day
from tests.integration.test_attempts import FakeClock, attempt
from tests.integration.test_lessons import make_lesson


def far_wednesday() -> datetime:
    """A far Wednesday early enough in its month that the next Monday is in the same month."""
    while True:
        day = far_day()
        wednesday = day + timedelta(days=2 - day.weekday())
        if wednesday.day <= 20:
            return wednesday


async def board(hub: httpx.AsyncClient, account: Account, period: str, **params: Any) -> dict[str, Any]:
    response = await hub.get("/api/leaderboard", params={"period": period, **params}, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def my_xp(hub: httpx.AsyncClient, account: Account, period: str) -> int | None:
    me = (await hub.get("/api/leaderboard/me", params={"period": period}, headers=account.headers)).json()["me"]
    return None if me is None else int(me["xp_points"])


async def test_each_period_totals_the_xp_awarded_in_it_and_a_new_period_starts_fresh(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, start_hub: Any) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    clock = FakeClock(far_wednesday())
    wednesday = clock.now.date()
    with start_hub(clock=clock) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as hub:
            await attempt(hub, learner, await make_lesson(client, boss, xp_reward=100))
            clock.advance(1)  # Thursday
            await attempt(hub, learner, await make_lesson(client, boss, xp_reward=200))
            assert [await my_xp(hub, learner, p) for p in ("daily", "weekly", "monthly")] == [200, 300, 300]
            clock.advance(4)  # the next Monday: a new day and a new week, the same month
            assert await my_xp(hub, learner, "weekly") is None, "the new week starts empty"
            assert (await board(hub, learner, "daily"))["items"] == []
            await attempt(hub, learner, await make_lesson(client, boss, xp_reward=400))
            assert [await my_xp(hub, learner, p) for p in ("daily", "weekly", "monthly", "all_time")] == [
                400, 400, 700, 700]
    rows = await owner_conn.fetch(
        "SELECT period, period_start_date, period_end_date, xp_points, lessons_completed FROM public.leaderboard "
        "WHERE user_id = $1 ORDER BY period, period_start_date", learner.user_id)
    monday = wednesday - timedelta(days=2)
    first_of_month = wednesday.replace(day=1)
    assert [tuple(row) for row in rows] == [
        ("all_time", date(2000, 1, 1), date(9999, 12, 31), 700, 3),
        ("daily", wednesday, wednesday, 100, 1),
        ("daily", wednesday + timedelta(days=1), wednesday + timedelta(days=1), 200, 1),
        ("daily", monday + timedelta(days=7), monday + timedelta(days=7), 400, 1),
        ("monthly", first_of_month, rows[4]["period_end_date"], 700, 3),
        ("weekly", monday, monday + timedelta(days=6), 300, 2),
        ("weekly", monday + timedelta(days=7), monday + timedelta(days=13), 400, 1),
    ]
    assert monday.weekday() == 0
    assert (rows[4]["period_end_date"] + timedelta(days=1)).day == 1


async def test_ranks_follow_xp_ties_share_a_rank_and_percentile_counts_users_below(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, start_hub: Any) -> None:
    boss = await admin(client, owner_conn)
    clock = FakeClock(far_day())
    xps = [200, 100, 300, 200, 50]
    lessons = [await make_lesson(client, boss, xp_reward=xp) for xp in xps]
    learners = [await signup(client) for _ in xps]
    with start_hub(clock=clock) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as hub:
            for learner, lesson in zip(learners, lessons, strict=True):
                await attempt(hub, learner, lesson)
            rows = (await board(hub, learners[0], "daily"))["items"]
            tied = sorted(str(learners[i].user_id) for i in (0, 3))
            assert [(r["rank"], r["xp_points"], r["percentile"]) for r in rows] == [
                (1, 300, 80.0), (2, 200, 40.0), (2, 200, 40.0), (4, 100, 20.0), (5, 50, 0.0)]
            assert [r["user_id"] for r in rows[1:3]] == tied
            assert rows[0]["user_id"] == str(learners[2].user_id) and rows[0]["full_name"] == "Test User"
            assert rows[0]["lessons_completed"] == 1 and rows[0]["streak_days"] == 1

            mine = (await hub.get("/api/leaderboard/me", params={"period": "daily"},
                                  headers=learners[1].headers)).json()
            assert mine["me"]["rank"] == 4
            assert [r["xp_points"] for r in mine["above"]] == [200, 200]
            assert [r["xp_points"] for r in mine["below"]] == [50]
            top = (await hub.get("/api/leaderboard/me", params={"period": "daily"},
                                 headers=learners[2].headers)).json()
            assert (top["above"], [r["xp_points"] for r in top["below"]]) == ([], [200, 200])
            stranger = await signup(client)
            alone = (await hub.get("/api/leaderboard/me", params={"period": "daily"},
                                   headers=stranger.headers)).json()
            assert (alone["me"], alone["above"], alone["below"]) == (None, [], [])


async def test_the_realtime_top_uses_the_same_rows_and_view_as_rest(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, start_hub: Any, app_db: Database) -> None:
    boss = await admin(client, owner_conn)
    clock = FakeClock(far_day())
    learners = [await signup(client) for _ in range(3)]
    with start_hub(clock=clock) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as hub:
            for i, learner in enumerate(learners):
                await attempt(hub, learner, await make_lesson(client, boss, xp_reward=10 * (i + 1)))
            rest = (await board(hub, learners[0], "daily"))["items"]
    async with app_db.transaction(SERVICE) as conn:
        top = await leaderboard.top(conn, "daily", clock.now.date(), 2)
    assert [msgspec.to_builtins(leaderboard_row(row)) for row in top] == rest[:2]


async def test_leaderboard_pages_neither_repeat_nor_skip_rows_while_rows_are_added(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, start_hub: Any) -> None:
    boss = await admin(client, owner_conn)
    clock = FakeClock(far_day())
    learners = [await signup(client) for _ in range(7)]
    with start_hub(clock=clock) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as hub:
            for i, learner in enumerate(learners[:5]):
                await attempt(hub, learner, await make_lesson(client, boss, xp_reward=100 * (i + 1)))
            seen: list[dict[str, Any]] = []
            cursor: str | None = None
            late = iter([(learners[5], 1000), (learners[6], 10)])  # one above the cursor, one below
            while True:
                page = await board(hub, learners[0], "daily", limit=2, **({"cursor": cursor} if cursor else {}))
                seen += page["items"]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
                newcomer = next(late, None)
                if newcomer is not None:
                    await attempt(hub, newcomer[0], await make_lesson(client, boss, xp_reward=newcomer[1]))
    users = [row["user_id"] for row in seen]
    assert len(users) == len(set(users)), "no row twice"
    assert {str(learner.user_id) for learner in learners[:5]} <= set(users), "no row skipped"
    assert [row["xp_points"] for row in seen] == [500, 400, 300, 200, 100, 10]


async def test_leaderboard_needs_a_token_and_a_known_period(client: httpx.AsyncClient) -> None:
    learner = await signup(client)
    assert (await client.get("/api/leaderboard", params={"period": "daily"})).status_code == 401
    assert (await client.get("/api/leaderboard/me")).status_code == 401
    for route in ("/api/leaderboard", "/api/leaderboard/me"):
        bad = await client.get(route, params={"period": "yearly"}, headers=learner.headers)
        assert bad.status_code in (400, 422)
        assert bad.headers["content-type"].startswith("application/problem+json")
    bad_cursor = await client.get("/api/leaderboard", params={"period": "daily", "cursor": "WyJ4IiwxXQ"},
                                  headers=learner.headers)
    assert bad_cursor.status_code == 422


async def test_an_award_signals_a_change_of_every_leaderboard_period(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    lesson = await make_lesson(client, boss, xp_reward=5)
    periods: list[str] = []
    four = asyncio.Event()

    def heard(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        signal = json.loads(payload)
        if signal.get("k") == "leaderboard":
            periods.append(signal["period"])
            if len(periods) == 4:
                four.set()

    barrier = asyncio.Event()

    def passed(*_: object) -> None:
        barrier.set()

    await owner_conn.add_listener("hub_state", heard)
    await owner_conn.add_listener("test_barrier", passed)
    try:
        await attempt(client, learner, lesson, completed=False)
        await attempt(client, learner, lesson)
        await asyncio.wait_for(four.wait(), 10)
        await attempt(client, learner, lesson)
        # Notifications arrive in commit order: a wrong fifth signal, committed with the third attempt,
        # arrives before this one.
        await owner_conn.execute("NOTIFY test_barrier")
        await asyncio.wait_for(barrier.wait(), 10)
    finally:
        await owner_conn.remove_listener("hub_state", heard)
        await owner_conn.remove_listener("test_barrier", passed)
    assert sorted(periods) == ["all_time", "daily", "monthly", "weekly"], "only the first completion signals"
