"""Far-future days for tests that run a hub on a fake clock and read the leaderboard of those days. The daily,
weekly and monthly boards are shared by every user of the run's one database, so such a test must be the only
one awarding XP in its periods: each call takes a year no other call of the run has, from a counter of this
process (a random day out of 200,000 met another test's month, the history test's monthly board, about once in
800 runs). The day falls from March to October, so what a test adds to it (a week or two) stays inside its
year, and the test may take another day of that year (its November, say) as its own too."""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, date, datetime, time, timedelta

_years = itertools.count(2300)


def far_date() -> date:
    """A day of a year no other test of the run uses."""
    year = next(_years)
    assert year <= 9998, "the run used up its years"  # the all-time period ends on 9999-12-31
    return date(year, 3, 1) + timedelta(days=secrets.randbelow(245))


def far_day() -> datetime:
    """Noon UTC of `far_date()`."""
    return datetime.combine(far_date(), time(12), tzinfo=UTC)
