"""Past leaderboards: `?at=YYYY-MM-DD` shows the final standings of the period containing that UTC date,
read through the period index however many periods are stored."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from persistence import leaderboard
from persistence.db import Database
from persistence.identity import user_identity
from tests.helpers.api import Account, admin, signup
from tests.integration.test_community_explain import nodes
from tests.integration.test_leaderboard import far_wednesday
from tests.integration.test_lessons import make_lesson
from tests.integration.test_sessions import mint_users
from tests.integration.test_streak_calendar import FakeClock, complete


def xp_of(body: dict[str, Any]) -> list[tuple[str, int, int]]:
    return [(row["user_id"], row["xp_points"], row["rank"]) for row in body["items"]]


async def test_at_shows_the_final_standings_of_the_period_containing_that_date(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, start_hub: Any) -> None:
    boss = await admin(client, owner_conn)
    early, late = await signup(client), await signup(client)
    clock = FakeClock(far_wednesday())
    first_week = clock.now.date()
    lessons = [await make_lesson(client, boss, xp_reward=xp) for xp in (10, 50, 5)]
    with start_hub(clock=clock) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as hub:

            async def board(account: Account, period: str, at: date | str | None, path: str = "") -> Any:
                params = {"period": period, **({"at": str(at)} if at is not None else {})}
                return await hub.get(f"/api/leaderboard{path}", params=params, headers=account.headers)

            await complete(hub, early, lessons[0])
            clock.now += timedelta(days=7)  # the next week
            await complete(hub, late, lessons[1])
            await complete(hub, early, lessons[2])
            today = clock.now.date()
            e, la = str(early.user_id), str(late.user_id)

            # Any day of the first week (Monday to Sunday) gives that week's board, as it ended.
            for day in (first_week - timedelta(days=2), first_week, first_week + timedelta(days=4)):
                assert xp_of((await board(late, "weekly", day)).json()) == [(e, 10, 1)]
            assert xp_of((await board(late, "weekly", today)).json()) == [(la, 50, 1), (e, 5, 2)]
            assert (await board(late, "weekly", today)).json() == (await board(late, "weekly", None)).json()
            assert xp_of((await board(late, "daily", first_week)).json()) == [(e, 10, 1)]
            assert xp_of((await board(late, "monthly", first_week)).json()) == [(la, 50, 1), (e, 15, 2)]
            # The one all-time window contains every date: any `at` shows the live all-time board.
            all_time = (await board(late, "all_time", first_week, "")).json()
            assert all_time == (await board(late, "all_time", None)).json()
            assert (await board(late, "weekly", first_week - timedelta(days=7))).json()["items"] == []

            mine = (await board(late, "weekly", first_week, "/me")).json()
            assert mine["me"] is None, "late had no XP in the first week"
            mine = (await board(early, "weekly", first_week, "/me")).json()
            assert (mine["me"]["xp_points"], mine["me"]["rank"]) == (10, 1)

            for bad in (today + timedelta(days=1), "2026-02-30", "16.11.2026", "2026-11-16T00:00:00Z", "x" * 300):
                for path in ("", "/me"):
                    refused = await board(early, "weekly", bad, path)
                    assert refused.status_code == 422, (bad, refused.text)
                    assert refused.json()["code"] == "validation_failed"


@pytest.fixture(scope="module")
async def many_periods(test_db: Any) -> list[tuple[Any, date]]:
    """400 past weeks of 60 learners each (24 000 rows): a scan of the table would be the slow choice."""
    conn = await asyncpg.connect(test_db.owner_dsn)
    try:
        users = [user_id for user_id, _ in await mint_users(conn, 60)]
        # Mondays from 1901 on: no other test's periods.
        await conn.execute(
            """
            INSERT INTO public.leaderboard (user_id, period, period_start_date, period_end_date, xp_points)
            SELECT u, 'weekly', date '1901-01-07' + 7 * w, date '1901-01-13' + 7 * w, (w * 31 + i * 17) % 1000
            FROM unnest($1::uuid[]) WITH ORDINALITY AS t(u, i), generate_series(0, 399) AS w
            """,
            users)
        await conn.execute("ANALYZE public.leaderboard")
    finally:
        await conn.close()
    return [(users[0], date(1901, 1, 7) + timedelta(days=7 * 200))]


async def test_a_past_period_is_read_through_the_period_index(app_db: Database,
                                                              many_periods: list[tuple[Any, date]]) -> None:
    [(user_id, monday)] = many_periods
    identity = user_identity({"sub": str(user_id), "role": "authenticated", "aud": "authenticated"})
    for args in (["weekly", monday, None, None, 21, None, None],      # a page of the board
                 ["weekly", monday, None, None, 5, user_id, 2]):      # the caller's neighbourhood
        async with app_db.transaction(identity) as conn:
            plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + leaderboard.STANDINGS, *args)
        scanned = [(node["Node Type"], node.get("Index Name")) for node in nodes(plan[0]["Plan"])
                   if node.get("Relation Name") == "leaderboard"]
        assert scanned and all(kind != "Seq Scan" for kind, _ in scanned), plan
        assert {name for _, name in scanned} <= {"idx_leaderboard_period_xp", "idx_leaderboard_period_rank",
                                                 "leaderboard_user_id_period_period_start_date_key"}, plan
    async with app_db.transaction(identity) as conn:
        rows = await leaderboard.standings(conn, "weekly", monday, after=None, limit=100)
    assert len(rows) == 60 and [r["xp_points"] for r in rows] == sorted((r["xp_points"] for r in rows), reverse=True)
