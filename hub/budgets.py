"""Named budgets: how many times a subject (a user, a client address, or everyone) may do something per window.

Each budget's size is a setting, multiplied by `RATE_LIMIT_SCALE` (`Settings.scaled`); the counters are the
instance's `WindowLimiter` (Redis when configured, so a budget holds across instances). A refusal is 429
`rate_limited` with `Retry-After` on REST and `error {code: rate_limited}` on the websocket. The budgets and
their defaults are listed in docs/security.md. An account's login backoff is not a budget: it guards one
account against guessing and is never scaled (`hub.rules.login_backoff`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hub.errors import RateLimited
from hub.services import Services
from hub.settings import Settings

__all__ = ["ACCOUNT_REVOCATIONS", "ADDRESS_MAILS", "ADDRESS_MAILS_PER_IP", "ATTEMPTS", "BLOCKS", "COMMENTS",
           "EXPORTS", "FAILED_LOGINS_PER_IP", "POSTS", "RECOVERIES", "RECOVERIES_PER_IP", "REPORTS", "ROOM_MESSAGES",
           "SEARCHES", "SERVER_PUBLISHES", "SIGNUPS", "SIGNUPS_PER_IP", "VOTES", "Budget", "give_back", "retry_after",
           "spend"]

EVERYONE = "all"  # the subject of a global budget


@dataclass(frozen=True, slots=True)
class Budget:
    name: str  # the counter's key prefix
    size: Callable[[Settings], int]  # uses per window before RATE_LIMIT_SCALE
    window_s: int

    def key(self, subject: str) -> str:
        return f"{self.name}:{subject}"


SIGNUPS_PER_IP = Budget("signup:ip", lambda s: s.signups_per_ip_per_hour, 3600)
SIGNUPS = Budget("signup:all", lambda s: s.signups_per_minute, 60)
# Reserved by every login and given back unless the password was wrong (`hub.api.accounts.login`).
FAILED_LOGINS_PER_IP = Budget("login:ip", lambda s: s.login_attempts_per_minute, 60)
POSTS = Budget("posts", lambda s: s.posts_per_hour, 3600)
COMMENTS = Budget("comments", lambda s: s.comments_per_hour, 3600)
VOTES = Budget("votes", lambda s: s.votes_per_minute, 60)
ROOM_MESSAGES = Budget("room-messages", lambda s: s.room_messages_per_minute, 60)
# Per user and lesson (subject `<user_id>:<lesson_id>`): each graded attempt says which answers were right.
ATTEMPTS = Budget("attempts", lambda s: s.attempts_per_lesson_per_hour, 3600)
REPORTS = Budget("reports", lambda s: s.reports_per_hour, 3600)
# Per user: each logout-all or password change moves the account's cutoff and notifies every instance.
ACCOUNT_REVOCATIONS = Budget("account-revocations", lambda s: s.account_revocations_per_hour, 3600)
BLOCKS = Budget("blocks", lambda s: s.blocks_per_hour, 3600)  # per user, blocks and unblocks together
# Mails that confirm an address (verification resends, email changes): per account, and per client address
# at ten times that, so one address cannot mail strangers through many accounts.
ADDRESS_MAILS = Budget("address-mails", lambda s: s.verify_resends_per_hour, 3600)
ADDRESS_MAILS_PER_IP = Budget("address-mails:ip", lambda s: s.verify_resends_per_hour * 10, 3600)
# Password-reset mails: per email address asked for (whether or not it has an account), and per client address.
RECOVERIES = Budget("recover", lambda s: s.recoveries_per_hour, 3600)
RECOVERIES_PER_IP = Budget("recover:ip", lambda s: s.recoveries_per_hour * 10, 3600)
# Per user: an export reads every table the account has rows in, up to EXPORT_SECTION_ROWS rows each.
EXPORTS = Budget("exports", lambda s: s.exports_per_hour, 3600)
# Per user: as-you-type search asks once per pause in typing, and each query reads four GIN indexes.
SEARCHES = Budget("searches", lambda s: s.searches_per_minute, 60)
# Server events (`POST /api/admin/channels/{channel}/events`): per admin, and one budget for the service key.
SERVER_PUBLISHES = Budget("server-publishes", lambda s: s.server_publishes_per_minute, 60)


async def retry_after(services: Services, budget: Budget, subject: str = EVERYONE) -> float:
    """Spends one use of `budget` by `subject`: 0 when it was within the budget, else the seconds until
    its window ends (for callers that decide what a refusal is, as the websocket admission does)."""
    limit = services.settings.scaled(budget.size(services.settings))
    return await services.limiter.hit(budget.key(subject), limit, budget.window_s)


async def spend(services: Services, budget: Budget, subject: str = EVERYONE, *,
                refuse: Callable[[float], Exception] = RateLimited) -> None:
    """Spends one use of `budget` by `subject`; over it, raises `refuse(seconds until the window ends)`
    (default: REST's 429 `rate_limited` with `Retry-After`)."""
    wait = await retry_after(services, budget, subject)
    if wait:
        raise refuse(wait)


async def give_back(services: Services, budget: Budget, subject: str = EVERYONE) -> None:
    """Returns one use spent in the current window: the attempt it reserved turned out not to count."""
    await services.limiter.undo(budget.key(subject))
