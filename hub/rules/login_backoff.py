"""How long an account's logins wait after failed ones: free at first, then exponential, capped."""

from __future__ import annotations


def login_wait(failures: int, *, free: int, base_s: float, max_s: float) -> float:
    """Seconds from the last failure of a streak of `failures` until the account's next attempt is heard.

    The first `free` failures cost nothing; from then on the wait is `base_s`, doubling with each further
    failure, never above `max_s`. With the defaults (5, 1 s, 900 s): 0 after 1 to 4 failures, then 1, 2, 4,
    …, 512 s after 5 to 14, and 900 s from 15 on.
    """
    if failures < free:
        return 0.0
    # The exponent is capped so a long streak cannot overflow the float before the cap applies.
    return min(max_s, base_s * 2.0 ** min(failures - free, 64))
