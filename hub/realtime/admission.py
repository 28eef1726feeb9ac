"""The websocket budgets per user, on all instances together: connection opens, subscribe lookups, and the
cool-off after a strike close. The counters are the instance's `WindowLimiter` (Redis when configured); the
decisions are `channels.admission` and `channels.connection`.

While Redis is unreachable these budgets let everything through (logged): the per-connection frame budget and
strikes still bound each socket, and refusing every user for an outage of the counters would be worse.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from channels.admission import OpenRefusal, cool_off_left, refuse_open
from channels.errors import LookupBudgetSpent
from hub.budgets import Budget, retry_after
from hub.services import Services

__all__ = ["WS_LOOKUPS", "WS_OPENS", "admit", "cool_off", "spend_lookup"]

log = logging.getLogger("hub.ws")

WS_OPENS = Budget("ws-opens", lambda s: s.ws_opens_per_minute, 60)
WS_LOOKUPS = Budget("ws-lookups", lambda s: s.ws_lookups_per_minute, 60)


def _cool_off_key(user_id: str) -> str:
    return f"ws-cool-off:{user_id}"


async def admit(services: Services, user_id: str) -> OpenRefusal | None:
    """The first `auth` of a connection of `user_id`: refused while they cool off, else spends one open."""
    try:
        left = cool_off_left(await services.limiter.held_until(_cool_off_key(user_id)), services.clock())
        # A refused open during a cool-off spends nothing: the budget is whole when the cool-off ends.
        wait = 0.0 if left else await retry_after(services, WS_OPENS, user_id)
    except (RedisError, OSError) as exc:
        log.warning("websocket open budget unavailable, letting the connection in: %s", exc)
        return None
    return refuse_open(left, wait)


async def spend_lookup(services: Services, user_id: str) -> None:
    """One subscribe of `user_id` about to look a post or session up; `LookupBudgetSpent` when over."""
    try:
        wait = await retry_after(services, WS_LOOKUPS, user_id)
    except (RedisError, OSError) as exc:
        log.warning("websocket lookup budget unavailable, allowing the lookup: %s", exc)
        return
    if wait:
        raise LookupBudgetSpent(wait)


async def cool_off(services: Services, user_id: str) -> None:
    """`user_id`'s connection was closed for strikes: refuse their new connections for the cool-off."""
    seconds = services.settings.ws_strike_cool_off_s
    try:
        # Kept a little past its end so a clock a little ahead on another instance still sees it.
        await services.limiter.hold_until(_cool_off_key(user_id), services.clock() + seconds, seconds + 1)
    except (RedisError, OSError) as exc:
        log.warning("websocket cool-off not recorded: %s", exc)
