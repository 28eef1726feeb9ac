"""Streak days in the learner's time zone (DST included) and the bounded per-day calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from hub.rules.streak import (
    CALENDAR_DAYS,
    Streak,
    calendar,
    local_day,
    record_activity,
    record_day,
    window_start,
    zone_name,
)

LA = "America/Los_Angeles"


def _streak_over(moments: list[datetime], zone: str) -> Streak:
    streak = Streak()
    for moment in moments:
        streak = record_activity(streak, local_day(moment, zone), moment)
    return streak


def test_late_evening_and_past_midnight_in_los_angeles_are_two_local_days() -> None:
    # 23:30 and 00:30 Pacific (PDT, UTC-7) on 2026-06-10/11: both are 2026-06-11 in UTC.
    evening = datetime(2026, 6, 10, 23, 30, tzinfo=ZoneInfo(LA))
    after_midnight = datetime(2026, 6, 11, 0, 30, tzinfo=ZoneInfo(LA))
    assert evening.astimezone(UTC).date() == after_midnight.astimezone(UTC).date() == date(2026, 6, 11)
    assert _streak_over([evening, after_midnight], LA).current == 2
    assert _streak_over([evening, after_midnight], "UTC").current == 1


def test_utc_midnight_splits_days_for_a_utc_learner_but_not_for_los_angeles() -> None:
    before = datetime(2026, 6, 10, 23, 30, tzinfo=UTC)
    after = datetime(2026, 6, 11, 0, 30, tzinfo=UTC)
    assert _streak_over([before, after], "UTC").current == 2
    assert _streak_over([before, after], LA).current == 1  # 16:30 and 17:30 on 2026-06-10 there


def test_the_week_dst_ends_in_los_angeles_counts_one_day_per_local_evening() -> None:
    # 2026-11-01 has 25 hours there (PDT → PST at 02:00): 23:30 every evening from 2026-10-29 to
    # 2026-11-04 is 06:30 UTC before the change and 07:30 UTC after; seven evenings, seven days.
    evenings = [datetime.combine(date(2026, 10, 29) + timedelta(days=i), time(23, 30), tzinfo=ZoneInfo(LA))
                for i in range(7)]
    days = [local_day(e.astimezone(UTC), LA) for e in evenings]
    assert days == [date(2026, 10, 29) + timedelta(days=i) for i in range(7)]
    assert {e.utcoffset() for e in evenings} == {timedelta(hours=-7), timedelta(hours=-8)}
    assert _streak_over([e.astimezone(UTC) for e in evenings], LA).current == 7


def test_the_repeated_hour_of_the_dst_change_stays_on_its_local_day() -> None:
    # 01:30 happens twice on 2026-11-01 in Los Angeles (08:30 and 09:30 UTC): one day, one streak day.
    first, second = datetime(2026, 11, 1, 8, 30, tzinfo=UTC), datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    assert local_day(first, LA) == local_day(second, LA) == date(2026, 11, 1)
    assert _streak_over([first, second], LA).current == 1


def test_spring_forward_day_is_one_day_between_its_neighbours() -> None:
    # 2026-03-08 has 23 hours in Los Angeles: 23:30 on the 7th, 8th and 9th are three days in a row.
    evenings = [datetime(2026, 3, d, 23, 30, tzinfo=ZoneInfo(LA)).astimezone(UTC) for d in (7, 8, 9)]
    assert [local_day(e, LA) for e in evenings] == [date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)]
    assert _streak_over(evenings, LA).current == 3


def test_unknown_or_unset_zones_count_in_utc() -> None:
    moment = datetime(2026, 6, 10, 23, 30, tzinfo=UTC)
    for name in (None, "", "Mars/Olympus", "../etc/passwd", "Europe/"):
        assert zone_name(name) == "UTC"
        assert local_day(moment, name) == date(2026, 6, 10)
    assert zone_name(LA) == LA


@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)),
       st.sampled_from([LA, "UTC", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Kiritimati", "Europe/Dublin"]))
def test_the_local_day_is_the_date_the_wall_clock_shows_there(moment: datetime, zone: str) -> None:
    local = moment.astimezone(ZoneInfo(zone))
    assert local_day(moment, zone) == local.date()
    assert abs((local_day(moment, zone) - moment.date()).days) <= 1


def test_calendar_counts_activities_per_day() -> None:
    days = record_day(record_day(record_day({}, date(2026, 11, 16)), date(2026, 11, 16)), date(2026, 11, 17))
    assert days == {"2026-11-16": 2, "2026-11-17": 1}
    assert calendar(days, date(2026, 11, 17)) == [(date(2026, 11, 16), 2), (date(2026, 11, 17), 1)]


def test_calendar_keeps_only_the_last_365_days() -> None:
    last = date(2026, 11, 16)
    days: dict[str, int] = {}
    for i in range(CALENDAR_DAYS + 30):
        days = record_day(days, last - timedelta(days=CALENDAR_DAYS + 29 - i))
    assert len(days) == CALENDAR_DAYS
    assert min(days) == window_start(last).isoformat() == "2025-11-17"
    assert max(days) == last.isoformat()
    # A year later, the reader's window has moved on: nothing older than 365 days is shown.
    assert calendar(days, last + timedelta(days=CALENDAR_DAYS - 1)) == [(last, 1)]


@given(st.lists(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)), max_size=60))
def test_calendar_is_bounded_and_counts_every_recent_activity(activity: list[date]) -> None:
    days: dict[str, int] = {}
    for day in activity:
        days = record_day(days, day)
    assert len(days) <= CALENDAR_DAYS
    if activity:
        latest = max(activity)
        recent = [d for d in activity if d >= window_start(latest)]
        assert sum(days.values()) == len(recent)


JUNK_CALENDARS = [
    {"2026-03-01": 2, "not a day": 1, "2026-13-40": 1, "2026-3-2": 1, "2026-03-03": "3", "2026-03-04": None,
     "2026-03-05": -1, "2026-03-06": True, "2026-03-07": 1.5, "2026-03-08": [1]},
    ["2026-03-01"],
    "2026-03-01",
    7,
]


def test_a_calendar_in_another_shape_keeps_only_its_well_formed_days() -> None:
    today = date(2026, 3, 10)
    for junk in JUNK_CALENDARS:
        kept = {date(2026, 3, 1): 2} if isinstance(junk, dict) else {}
        assert calendar(junk, today) == sorted(kept.items()), junk
        recorded = record_day(junk, today)
        assert recorded == {**{d.isoformat(): n for d, n in kept.items()}, today.isoformat(): 1}, junk
