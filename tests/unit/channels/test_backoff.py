"""The listener's reconnect pauses: short while an outage is young, longer once it has lasted."""

from __future__ import annotations

import pytest

from channels.backoff import ReconnectBackoff

BACKOFF = ReconnectBackoff(first_s=0.05, fast_max_s=0.25, fast_for_s=60.0, slow_max_s=5.0)


def test_pauses_double_from_the_first_up_to_the_young_outage_cap() -> None:
    full = [BACKOFF.delay(attempt, outage_s=attempt * 0.2, jitter=0.999999) for attempt in range(8)]
    assert full == pytest.approx([0.05, 0.1, 0.2, 0.25, 0.25, 0.25, 0.25, 0.25], rel=1e-5)


@pytest.mark.parametrize("attempt", [0, 3, 10, 40, 10_000])
@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999999])
def test_no_pause_exceeds_the_cap_while_the_outage_is_young(attempt: int, jitter: float) -> None:
    # This is the readiness bound: once the database is back, the next attempt is at most 0.25 s away.
    assert BACKOFF.delay(attempt, outage_s=59.9, jitter=jitter) <= 0.25


def test_jitter_spreads_a_pause_between_half_and_all_of_it() -> None:
    assert BACKOFF.delay(5, outage_s=1.0, jitter=0.0) == pytest.approx(0.125)
    assert BACKOFF.delay(5, outage_s=1.0, jitter=0.5) == pytest.approx(0.1875)


def test_a_long_outage_backs_off_to_the_slow_cap() -> None:
    assert BACKOFF.delay(7, outage_s=60.0, jitter=0.999999) == pytest.approx(5.0, rel=1e-5)
    assert BACKOFF.delay(10_000, outage_s=3600.0, jitter=0.999999) == pytest.approx(5.0, rel=1e-5)
    assert BACKOFF.delay(2, outage_s=60.0, jitter=0.999999) == pytest.approx(0.2, rel=1e-5)  # still doubling


def test_the_settings_default_to_a_quarter_second_for_the_first_minute() -> None:
    from hub.settings import Settings

    settings = Settings.from_env({})
    assert (settings.listener_retry_max_s, settings.listener_retry_fast_for_s) == (0.25, 60.0)
    assert ReconnectBackoff() == BACKOFF
