"""Named budgets: how many times a subject (a user, a client address, or everyone) may do something per window.

Each budget's size is a setting, multiplied by `RATE_LIMIT_SCALE` (`Settings.scaled`); the counters are the
instance's `WindowLimiter` (Redis when configured, so a budget holds across instances). A refusal is 429
`rate_limited` with `Retry-After` on REST and `error {code: rate_limited}` on the websocket. The budgets and
their defaults are listed in docs/security.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hub.errors import RateLimited
from hub.services import Services
from hub.settings import Settings

__all__ = ["COMMENTS", "POSTS", "ROOM_MESSAGES", "SIGNUPS", "SIGNUPS_PER_IP", "VOTES", "Budget", "retry_after",
           "spend"]

EVERYONE = "all"  # the subject of a global budget


@dataclass(frozen=True, slots=True)
class Budget:
    name: str  # the counter's key prefix
    size: Callable[[Settings], int]  # uses per window before RATE_LIMIT_SCALE
    window_s: int


SIGNUPS_PER_IP = Budget("signup:ip", lambda s: s.signups_per_ip_per_hour, 3600)
SIGNUPS = Budget("signup:all", lambda s: s.signups_per_minute, 60)
POSTS = Budget("posts", lambda s: s.posts_per_hour, 3600)
COMMENTS = Budget("comments", lambda s: s.comments_per_hour, 3600)
VOTES = Budget("votes", lambda s: s.votes_per_minute, 60)
ROOM_MESSAGES = Budget("room-messages", lambda s: s.room_messages_per_minute, 60)


async def retry_after(services: Services, budget: Budget, subject: str = EVERYONE) -> float:
    """Spends one use of `budget` by `subject`: 0 when it was within the budget, else the seconds until
    its window ends."""
    limit = services.settings.scaled(budget.size(services.settings))
    return await services.limiter.hit(f"{budget.name}:{subject}", limit, budget.window_s)


async def spend(services: Services, budget: Budget, subject: str = EVERYONE) -> None:
    """`retry_after`, raising 429 `rate_limited` with `Retry-After` when over."""
    wait = await retry_after(services, budget, subject)
    if wait:
        raise RateLimited(wait)
