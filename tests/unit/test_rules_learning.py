"""The learning engine's pure rules, tested with literals: levels, streaks, periods, achievements."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from hub.rules import (
    ALL_TIME_END,
    ALL_TIME_START,
    PERIODS,
    LearnerStats,
    Streak,
    current_as_of,
    due,
    level_change,
    record_activity,
    requirements_met,
    utc_datetime,
    window,
    windows,
    xp_to_reach,
)

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


# ---------------------------------------------------------------- levels


@pytest.mark.parametrize(("level", "xp"), [(1, 0), (2, 1000), (3, 3000), (4, 7000), (5, 15000), (11, 1_023_000)])
def test_levels_start_at_doubling_thresholds(level: int, xp: int) -> None:
    assert xp_to_reach(level) == xp


def test_level_zero_does_not_exist() -> None:
    with pytest.raises(ValueError):
        xp_to_reach(0)


def test_level_change_reports_only_real_changes() -> None:
    assert level_change(1, 1) is None
    assert level_change(1, 3) == {"from": 1, "to": 3}


# ---------------------------------------------------------------- streaks


def test_first_activity_starts_a_streak_of_one() -> None:
    assert record_activity(Streak(), date(2025, 3, 10), NOW) == Streak(1, 1, date(2025, 3, 10), None)


def test_same_day_activity_leaves_the_streak_unchanged() -> None:
    streak = Streak(4, 6, date(2025, 3, 10), None)
    assert record_activity(streak, date(2025, 3, 10), NOW) is streak


def test_next_day_activity_extends_the_streak_and_the_longest() -> None:
    assert record_activity(Streak(3, 3, date(2025, 3, 9), None), date(2025, 3, 10), NOW) == (
        Streak(4, 4, date(2025, 3, 10), None))


def test_next_day_across_a_month_and_year_boundary_extends() -> None:
    assert record_activity(Streak(2, 2, date(2024, 12, 31), None), date(2025, 1, 1), NOW).current == 3


def test_a_gap_resets_to_one_and_records_the_reset_but_keeps_the_longest() -> None:
    streak = record_activity(Streak(5, 9, date(2025, 3, 7), None), date(2025, 3, 10), NOW)
    assert streak == Streak(1, 9, date(2025, 3, 10), NOW)


def test_longest_never_decreases_and_grows_past_the_old_record() -> None:
    streak = Streak(1, 2, date(2025, 3, 8), None)
    for day in (9, 10):
        streak = record_activity(streak, date(2025, 3, day), NOW)
    assert (streak.current, streak.longest) == (3, 3)


def test_a_clock_moved_back_changes_nothing() -> None:
    streak = Streak(2, 2, date(2025, 3, 10), None)
    assert record_activity(streak, date(2025, 3, 9), NOW) is streak


@pytest.mark.parametrize(("last", "shown"), [(None, 0), (date(2025, 3, 10), 4), (date(2025, 3, 9), 4),
                                             (date(2025, 3, 8), 0)])
def test_a_streak_reads_as_zero_once_a_day_was_missed(last: date | None, shown: int) -> None:
    assert current_as_of(Streak(4, 4, last, None), date(2025, 3, 10)) == shown


# ---------------------------------------------------------------- periods


def test_the_clock_is_read_in_utc() -> None:
    assert utc_datetime(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert utc_datetime(86_399.5).date() == date(1970, 1, 1)


@pytest.mark.parametrize("day", [10, 11, 12, 13, 14, 15, 16])
def test_weeks_start_on_monday(day: int) -> None:
    week = window("weekly", date(2025, 3, day))  # 2025-03-10 is a Monday
    assert (week.start, week.end) == (date(2025, 3, 10), date(2025, 3, 16))


def test_a_sunday_belongs_to_the_week_that_began_six_days_earlier() -> None:
    assert window("weekly", date(2025, 1, 5)).start == date(2024, 12, 30)


def test_daily_monthly_and_all_time_windows() -> None:
    assert window("daily", date(2025, 3, 10)).start == window("daily", date(2025, 3, 10)).end == date(2025, 3, 10)
    feb = window("monthly", date(2024, 2, 17))
    assert (feb.start, feb.end) == (date(2024, 2, 1), date(2024, 2, 29))
    forever = window("all_time", date(2025, 3, 10))
    assert (forever.start, forever.end) == (ALL_TIME_START, ALL_TIME_END) == (date(2000, 1, 1), date(9999, 12, 31))


def test_every_period_has_one_current_window() -> None:
    assert [w.period for w in windows(date(2025, 3, 10))] == list(PERIODS) == ["daily", "weekly", "monthly",
                                                                              "all_time"]


# ---------------------------------------------------------------- achievements

STATS = LearnerStats(lessons_completed=5, total_xp=1200, streak_days=3, level=2, posts_created=1,
                     sessions_attended=0)


@pytest.mark.parametrize(("requirements", "met"), [
    ({"lessons_completed": 5}, True),
    ({"lessons_completed": 6}, False),
    ({"total_xp": 1000, "streak_days": 3}, True),
    ({"total_xp": 1000, "streak_days": 4}, False),
    ({"level": 2, "posts_created": 1, "sessions_attended": 0}, True),
    ({"sessions_attended": 1}, False),
])
def test_every_threshold_of_a_requirement_must_hold(requirements: dict[str, int], met: bool) -> None:
    assert requirements_met(requirements, STATS) is met


@pytest.mark.parametrize("requirements", [None, {}, [], "lessons_completed", {"lesson_completed": 1},
                                          {"total_xp": "10"}, {"total_xp": 1.5}, {"total_xp": True}])
def test_malformed_or_unknown_requirements_never_hold(requirements: object) -> None:
    assert requirements_met(requirements, STATS) is False


def test_due_keeps_candidate_order_and_only_those_that_hold() -> None:
    candidates = [("a", {"total_xp": 2000}), ("b", {"lessons_completed": 1}), ("c", {"level": 2})]
    assert due(candidates, STATS) == ["b", "c"]
