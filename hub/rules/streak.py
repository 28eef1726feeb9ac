"""Streaks over the learner's local calendar days with at least one first completion.

A day is a calendar day in the learner's IANA time zone (the profile's `timezone`; UTC when it is not a
zone this machine knows), derived from the moment of the activity, never from a client's idea of
"today". Same day → unchanged; the next day → +1; a gap → back to 1 with `last_streak_reset`; a day
before the last recorded one (a clock moved back) changes nothing. `longest` never decreases.

The calendar (`user_streaks.streak_data`) counts first completions per local day, `{"YYYY-MM-DD": n}`,
and keeps only the CALENDAR_DAYS days ending at the latest one, so it stays bounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_ONE_DAY = timedelta(days=1)
CALENDAR_DAYS = 365


def zone_name(name: str | None) -> str:
    """`name` when it is an IANA zone this machine knows, else "UTC" (SQL can store any short text)."""
    if not name:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def local_day(moment: datetime, zone: str | None) -> date:
    """The calendar day the aware `moment` falls on in the zone `zone` (DST included)."""
    return moment.astimezone(ZoneInfo(zone_name(zone))).date()


def window_start(last_day: date) -> date:
    """The first day of the CALENDAR_DAYS-day window ending on `last_day`."""
    return last_day - timedelta(days=CALENDAR_DAYS - 1)


def _dated(days: object) -> dict[date, int]:
    """The calendar's well-formed entries, `{ISO date: whole count ≥ 0}`. `streak_data` is a JSON column an
    owner's SQL may have written anything into; an entry in another shape is no activity, not an error."""
    if not isinstance(days, Mapping):
        return {}
    dated: dict[date, int] = {}
    for key, count in days.items():
        if not isinstance(key, str) or type(count) is not int or count < 0:
            continue
        try:
            day = date.fromisoformat(key)
        except ValueError:
            continue
        if day.isoformat() == key:
            dated[day] = count
    return dated


def record_day(days: object, day: date) -> dict[str, int]:
    """The calendar with one more activity on `day`, trimmed to the window ending at its latest day."""
    counted = _dated(days)
    counted[day] = counted.get(day, 0) + 1
    first = window_start(max(counted))
    return {d.isoformat(): n for d, n in sorted(counted.items()) if d >= first}


def calendar(days: object, today: date) -> list[tuple[date, int]]:
    """The days with activity in the CALENDAR_DAYS-day window ending `today`, oldest first."""
    first = window_start(today)
    return sorted((d, n) for d, n in _dated(days).items() if first <= d <= today and n > 0)


@dataclass(frozen=True, slots=True)
class Streak:
    current: int = 0
    longest: int = 0
    last_activity_date: date | None = None
    last_streak_reset: datetime | None = None


def record_activity(streak: Streak, today: date, now: datetime) -> Streak:
    """The streak after activity on `today` (`now` is the moment, stored as `last_streak_reset`)."""
    last = streak.last_activity_date
    if last is not None and today <= last:
        return streak
    if last is None:
        current, reset = 1, streak.last_streak_reset
    elif today - last == _ONE_DAY:
        current, reset = streak.current + 1, streak.last_streak_reset
    else:
        current, reset = 1, now
    return replace(streak, current=current, longest=max(streak.longest, current), last_activity_date=today,
                   last_streak_reset=reset)


def current_as_of(streak: Streak, today: date) -> int:
    """The streak a reader sees on `today`: the stored one only while it can still continue (activity
    today or yesterday); a missed day means it is already broken, even before the next completion
    stores the reset."""
    last = streak.last_activity_date
    if last is None or today - last > _ONE_DAY:
        return 0
    return streak.current
