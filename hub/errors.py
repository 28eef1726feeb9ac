"""The REST error tree: every failure a client can see, with its HTTP status and stable `code`.

Each class names its entry in `channels.codes`, the one registry of codes the websocket errors read too;
the entry gives the status, code and title. Handlers in `hub.problems` turn these (and Litestar's own
errors) into RFC 9457 problem details.
"""

from __future__ import annotations

from typing import Any, ClassVar

from channels import codes
from channels.codes import ErrorCode


class ApiError(Exception):
    """Base of the REST errors: `class NotFound(ApiError, entry=codes.NOT_FOUND)`; a subclass without an
    entry keeps its parent's."""

    entry: ClassVar[ErrorCode]
    status: ClassVar[int]
    code: ClassVar[str]
    title: ClassVar[str]

    def __init_subclass__(cls, /, entry: ErrorCode | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if entry is None:
            return
        if entry.status is None or entry.title is None:
            raise TypeError(f"{entry.code!r} is not a REST error code")
        cls.entry, cls.status, cls.code, cls.title = entry, entry.status, entry.code, entry.title

    def __init__(self, detail: str | None = None, *, extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra or {}
        self.headers = headers or {}


class BadJson(ApiError, entry=codes.BAD_JSON):
    pass


class ValidationFailed(ApiError, entry=codes.VALIDATION_FAILED):
    def __init__(self, errors: dict[str, str], detail: str | None = None) -> None:
        super().__init__(detail or "; ".join(f"{k}: {v}" for k, v in errors.items()),
                         extra={"errors": errors})


class Unauthorized(ApiError, entry=codes.UNAUTHORIZED):
    pass


class AccessTokenExpired(Unauthorized):
    """An access token past its `exp`. Over REST the same 401 `unauthorized` as any bad token; the websocket
    tells it apart by this type and answers `token_expired`."""

    def __init__(self) -> None:
        super().__init__("Token expired")


class TokenRevoked(Unauthorized, entry=codes.TOKEN_REVOKED):
    """An access token issued before its account's last revocation."""


class Banned(ApiError, entry=codes.BANNED):
    def __init__(self, until: str) -> None:
        super().__init__("This account is banned", extra={"until": until})


class AlreadyReported(ApiError, entry=codes.ALREADY_REPORTED):
    pass


class InvalidCredentials(ApiError, entry=codes.INVALID_CREDENTIALS):
    pass


class InvalidToken(ApiError, entry=codes.INVALID_TOKEN):
    pass


class EmailUnverified(ApiError, entry=codes.EMAIL_UNVERIFIED):
    pass


class TokenReused(ApiError, entry=codes.TOKEN_REUSED):
    pass


class PlanRequired(ApiError, entry=codes.PLAN_REQUIRED):
    pass


class Forbidden(ApiError, entry=codes.FORBIDDEN):
    pass


class NotFound(ApiError, entry=codes.NOT_FOUND):
    pass


class Conflict(ApiError, entry=codes.CONFLICT):
    pass


class EmailTaken(Conflict, entry=codes.EMAIL_TAKEN):
    pass


class InvalidTransition(Conflict, entry=codes.INVALID_TRANSITION):
    pass


class PrerequisitesNotMet(Conflict, entry=codes.PREREQUISITES_NOT_MET):
    pass


class SessionClosed(Conflict, entry=codes.SESSION_CLOSED):
    pass


class AlreadyDone(Conflict, entry=codes.ALREADY_DONE):
    pass


class IdempotencyConflict(ApiError, entry=codes.IDEMPOTENCY_KEY_REUSED):
    pass


class Locked(ApiError, entry=codes.POST_LOCKED):
    pass


class RateLimited(ApiError, entry=codes.RATE_LIMITED):
    def __init__(self, retry_after: float) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(f"Retry in {seconds} s", extra={"retry_after": seconds},
                         headers={"Retry-After": str(seconds)})


class NotReady(ApiError, entry=codes.NOT_READY):
    pass


class BillingNotConfigured(ApiError, entry=codes.BILLING_NOT_CONFIGURED):
    pass


class BadSignature(ApiError, entry=codes.BAD_SIGNATURE):
    pass


class CapacityBelowRegistered(Conflict, entry=codes.CAPACITY_BELOW_REGISTERED):
    pass


class FeedbackNotAllowed(Conflict, entry=codes.FEEDBACK_NOT_ALLOWED):
    pass


class LessonExists(Conflict, entry=codes.LESSON_EXISTS):
    pass


class LessonInUse(Conflict, entry=codes.LESSON_IN_USE):
    pass


class PlanExists(Conflict, entry=codes.PLAN_EXISTS):
    pass


class PlanUnavailable(Conflict, entry=codes.PLAN_UNAVAILABLE):
    pass


class NoCustomer(Conflict, entry=codes.NO_CUSTOMER):
    pass


class StripeUnavailable(ApiError, entry=codes.STRIPE_UNAVAILABLE):
    pass


class UnknownChannel(ApiError, entry=codes.UNKNOWN_CHANNEL):
    pass


class HistoryExpired(Conflict, entry=codes.HISTORY_EXPIRED):
    def __init__(self, head: int, trimmed: int) -> None:
        super().__init__(f"Events up to {trimmed} were pruned; the head is {head}",
                         extra={"head": head, "trimmed_seq": trimmed})


class AlreadyAttended(Conflict, entry=codes.ALREADY_ATTENDED):
    pass


class SubscriptionExists(Conflict, entry=codes.SUBSCRIPTION_EXISTS):
    pass


class InvalidTicket(ApiError, entry=codes.INVALID_TICKET):
    pass


class EventNotAllowed(ApiError, entry=codes.EVENT_NOT_ALLOWED):
    pass


class SessionNotLive(ApiError, entry=codes.SESSION_NOT_LIVE):
    pass


class TooManySubscriptions(ApiError, entry=codes.TOO_MANY_SUBSCRIPTIONS):
    pass


class BadEvent(ApiError, entry=codes.BAD_EVENT):
    pass
