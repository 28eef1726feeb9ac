"""Streaks over UTC calendar days with at least one first completion.

Same day → unchanged; the next day → +1; a gap → back to 1 with `last_streak_reset`; a day before
the last recorded one (a clock moved back) changes nothing. `longest` never decreases.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

_ONE_DAY = timedelta(days=1)


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
