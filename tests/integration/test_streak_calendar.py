"""Streaks over the learner's local days (the profile's IANA time zone) and the 365-day calendar.

Lessons here have no assessment, so a completion is `{score, time_spent_seconds, completed}`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from tests.helpers.api import Account, admin, signup
from tests.helpers.far_dates import far_date
from tests.integration.test_lessons import make_lesson

LA = "America/Los_Angeles"


class FakeClock:
    """A wall clock the test sets; the hub reads it through `start_hub(clock=...)`."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now.timestamp()


async def set_zone(client: httpx.AsyncClient, account: Account, zone: str) -> None:
    response = await client.patch("/api/profiles/me", json={"timezone": zone}, headers=account.headers)
    assert response.status_code == 200, response.text


async def complete(client: httpx.AsyncClient, account: Account, lesson: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/api/lessons/{lesson['id']}/attempts", headers=account.headers,
                                 json={"score": 100, "time_spent_seconds": 60, "completed": True})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def calendar(client: httpx.AsyncClient, account: Account) -> dict[str, Any]:
    response = await client.get("/api/streaks/me/calendar", headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_23_30_and_00_30_in_los_angeles_are_two_days_and_one_utc_day_for_a_utc_learner(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, start_hub: Any) -> None:
    boss = await admin(client, owner_conn)
    pacific, utc = await signup(client), await signup(client)
    await set_zone(client, pacific, LA)
    day = far_date()
    evening = datetime.combine(day, time(23, 30), tzinfo=ZoneInfo(LA)).astimezone(UTC)
    after_midnight = datetime.combine(day + timedelta(days=1), time(0, 30), tzinfo=ZoneInfo(LA)).astimezone(UTC)
    assert evening.date() == after_midnight.date(), "both moments fall on one UTC day"
    lessons = [await make_lesson(client, boss, xp_reward=1) for _ in range(2)]
    clock = FakeClock(evening)
    with start_hub(clock=clock) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as hub:
            for learner in (pacific, utc):
                clock.now = evening
                await complete(hub, learner, lessons[0])
                clock.now = after_midnight
                last = await complete(hub, learner, lessons[1])
                assert last["streak"]["current_streak"] == (2 if learner is pacific else 1)
            in_la, in_utc = await calendar(hub, pacific), await calendar(hub, utc)
            streak_la = (await hub.get("/api/streaks/me", headers=pacific.headers)).json()
    assert in_la["time_zone"] == LA and in_utc["time_zone"] == "UTC"
    assert in_la["days"] == [{"date": day.isoformat(), "count": 1},
                             {"date": (day + timedelta(days=1)).isoformat(), "count": 1}]
    assert in_utc["days"] == [{"date": evening.date().isoformat(), "count": 2}]
    assert (in_la["current_streak"], in_la["longest_streak"]) == (2, 2)
    assert (in_utc["current_streak"], in_utc["longest_streak"]) == (1, 1)
    assert in_la["end"] == (day + timedelta(days=1)).isoformat()
    assert in_la["start"] == (day + timedelta(days=1) - timedelta(days=364)).isoformat()
    assert streak_la["last_activity_date"] == (day + timedelta(days=1)).isoformat()
    stored = await owner_conn.fetchval("SELECT streak_data FROM public.user_streaks WHERE user_id = $1",
                                       pacific.user_id)
    assert stored == {day.isoformat(): 1, (day + timedelta(days=1)).isoformat(): 1}


async def test_moving_the_time_zone_across_the_date_line_adds_no_streak_day(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, start_hub: Any) -> None:
    """00:30 UTC is 12:30 the day before in Etc/GMT+12 and 14:30 the same day in Pacific/Kiritimati: a learner
    who could move between them would complete two local days within the hour."""
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    lessons = [await make_lesson(client, boss, xp_reward=1) for _ in range(2)]
    moment = datetime.combine(far_date(), time(0, 30), tzinfo=UTC)
    clock = FakeClock(moment)
    with start_hub(clock=clock) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as hub:
            await set_zone(hub, learner, "Etc/GMT+12")
            assert (await complete(hub, learner, lessons[0]))["streak"]["current_streak"] == 1
            moved = await hub.patch("/api/profiles/me", json={"timezone": "Pacific/Kiritimati"},
                                    headers=learner.headers)
            assert moved.status_code == 429
            clock.now = moment + timedelta(minutes=15)
            assert (await complete(hub, learner, lessons[1]))["streak"]["current_streak"] == 1
            days = (await calendar(hub, learner))["days"]
    assert days == [{"date": (moment.date() - timedelta(days=1)).isoformat(), "count": 2}]


def _first_sunday_of_november(year: int) -> date:
    first = date(year, 11, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7)


async def test_the_week_daylight_saving_ends_counts_seven_local_evenings_as_seven_days(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, start_hub: Any) -> None:
    boss = await admin(client, owner_conn)
    learner = await signup(client)
    await set_zone(client, learner, LA)
    change = _first_sunday_of_november(far_date().year)  # 25 hours long in Los Angeles
    evenings = [datetime.combine(change + timedelta(days=offset), time(23, 30), tzinfo=ZoneInfo(LA))
                for offset in range(-3, 4)]
    assert len({e.utcoffset() for e in evenings}) == 2, "the week spans the change"
    lessons = [await make_lesson(client, boss, xp_reward=1) for _ in evenings]
    clock = FakeClock(evenings[0].astimezone(UTC))
    with start_hub(clock=clock) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as hub:
            for evening, lesson in zip(evenings, lessons, strict=True):
                clock.now = evening.astimezone(UTC)
                streak = (await complete(hub, learner, lesson))["streak"]
            shown = await calendar(hub, learner)
            clock.now = evenings[-1].astimezone(UTC) + timedelta(hours=2)  # 01:30 the next local day
            next_morning = await calendar(hub, learner)
            clock.now += timedelta(days=1)
            missed = await calendar(hub, learner)
    assert streak["current_streak"] == 7
    assert shown["days"] == [{"date": e.date().isoformat(), "count": 1} for e in evenings]
    assert next_morning["current_streak"] == 7, "yesterday's activity keeps it alive"
    assert (missed["current_streak"], missed["longest_streak"]) == (0, 7), "a missed local day breaks it"


async def test_calendar_of_a_learner_without_activity_is_empty_in_utc(client: httpx.AsyncClient) -> None:
    learner = await signup(client)
    shown = await calendar(client, learner)
    assert (shown["time_zone"], shown["days"], shown["current_streak"], shown["longest_streak"]) == (
        "UTC", [], 0, 0)
    assert date.fromisoformat(shown["end"]) - date.fromisoformat(shown["start"]) == timedelta(days=364)
    assert (await client.get("/api/streaks/me/calendar")).status_code == 401
