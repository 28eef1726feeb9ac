"""How long to wait before the next attempt to reconnect (pure; the caller sleeps and supplies the jitter).

Exponential from ``first_s``, but never longer than ``fast_max_s`` while the outage is younger than
``fast_for_s``: a restart or failover usually ends within seconds, and every moment the next attempt is
still away once the database is back is a moment of ``/readyz`` 503 and late deliveries. Past that,
attempts grow to ``slow_max_s`` apart, so a long outage costs the server few connection attempts.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ReconnectBackoff"]

_MAX_DOUBLINGS = 16


@dataclass(frozen=True, slots=True)
class ReconnectBackoff:
    first_s: float = 0.05
    fast_max_s: float = 0.25
    fast_for_s: float = 60.0
    slow_max_s: float = 5.0

    def delay(self, attempt: int, outage_s: float, jitter: float) -> float:
        """The pause before retry ``attempt`` (0 for the first after the loss), ``outage_s`` after the
        connection was lost. ``jitter`` in [0, 1) spreads instances apart: the pause is between half and
        all of the capped exponential, so the cap holds as stated."""
        cap = self.fast_max_s if outage_s < self.fast_for_s else self.slow_max_s
        return min(cap, self.first_s * 2.0 ** min(attempt, _MAX_DOUBLINGS)) * (0.5 + jitter / 2)
