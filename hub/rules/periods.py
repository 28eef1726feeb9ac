"""Leaderboard periods: which (start, end) dates a UTC day belongs to in each period.

Daily is the day itself; weekly runs Monday to Sunday (ISO weeks, UTC); monthly is the calendar month;
all-time is one fixed window, so every user has exactly one all-time row.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

Period = Literal["daily", "weekly", "monthly", "all_time"]
PERIODS: tuple[Period, ...] = ("daily", "weekly", "monthly", "all_time")
ALL_TIME_START = date(2000, 1, 1)
ALL_TIME_END = date(9999, 12, 31)


@dataclass(frozen=True, slots=True)
class PeriodWindow:
    period: Period
    start: date
    end: date


def utc_datetime(seconds: float) -> datetime:
    """A wall-clock reading (seconds since the epoch) as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


def window(period: Period, today: date) -> PeriodWindow:
    if period == "daily":
        return PeriodWindow(period, today, today)
    if period == "weekly":
        monday = today - timedelta(days=today.weekday())
        return PeriodWindow(period, monday, monday + timedelta(days=6))
    if period == "monthly":
        last_day = calendar.monthrange(today.year, today.month)[1]
        return PeriodWindow(period, today.replace(day=1), today.replace(day=last_day))
    return PeriodWindow(period, ALL_TIME_START, ALL_TIME_END)


def windows(today: date) -> list[PeriodWindow]:
    """The current window of every period, in `PERIODS` order."""
    return [window(period, today) for period in PERIODS]
