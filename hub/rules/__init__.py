"""Pure rules of the learning engine: decisions computable without I/O, tested with literals.

- `level`: XP thresholds of the levels (the level itself is computed by SQL `calculate_user_level`).
- `streak`: how a completion on a UTC calendar day moves a streak.
- `periods`: the leaderboard periods a day falls into.
- `achievements`: whether an achievement's `requirements` hold for a learner's stats.
"""

from hub.rules.achievements import REQUIREMENT_KEYS, LearnerStats, due, requirements_met
from hub.rules.level import level_change, xp_to_reach
from hub.rules.periods import ALL_TIME_END, ALL_TIME_START, PERIODS, PeriodWindow, utc_datetime, window, windows
from hub.rules.streak import Streak, current_as_of, record_activity

__all__ = [
    "ALL_TIME_END",
    "ALL_TIME_START",
    "PERIODS",
    "REQUIREMENT_KEYS",
    "LearnerStats",
    "PeriodWindow",
    "Streak",
    "current_as_of",
    "due",
    "level_change",
    "record_activity",
    "requirements_met",
    "utc_datetime",
    "window",
    "windows",
    "xp_to_reach",
]
