"""The REST error tree: every failure a client can see, with its HTTP status and stable `code`.

Handlers in `hub.problems` turn these (and Litestar's own errors) into RFC 9457 problem details.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ApiError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str | None = None, *, extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra or {}
        self.headers = headers or {}


class BadJson(ApiError):
    status, code, title = 400, "bad_json", "Request body is not valid JSON"


class ValidationFailed(ApiError):
    status, code, title = 422, "validation_failed", "Validation failed"

    def __init__(self, errors: dict[str, str], detail: str | None = None) -> None:
        super().__init__(detail or "; ".join(f"{k}: {v}" for k, v in errors.items()),
                         extra={"errors": errors})


class Unauthorized(ApiError):
    status, code, title = 401, "unauthorized", "Authentication required"


class InvalidCredentials(ApiError):
    status, code, title = 401, "invalid_credentials", "Email or password is wrong"


class TokenReused(ApiError):
    status, code, title = 401, "token_reused", "Refresh token was already used; the session is revoked"


class PlanRequired(ApiError):
    status, code, title = 402, "plan_required", "Your plan does not include this level"


class Forbidden(ApiError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(ApiError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(ApiError):
    status, code, title = 409, "conflict", "Conflict"


class EmailTaken(Conflict):
    code, title = "email_taken", "An account with this email exists"


class InvalidTransition(Conflict):
    code, title = "invalid_transition", "That status change is not allowed"


class PrerequisitesNotMet(Conflict):
    code, title = "prerequisites_not_met", "Prerequisites are not met"


class SessionClosed(Conflict):
    code, title = "session_closed", "The session does not accept registrations"


class AlreadyDone(Conflict):
    code, title = "already_done", "This was already done"


class IdempotencyConflict(ApiError):
    status, code, title = 422, "idempotency_key_reused", "Idempotency-Key was used for a different request"


class Locked(ApiError):
    status, code, title = 423, "post_locked", "The post is locked"


class RateLimited(ApiError):
    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(f"Retry in {seconds} s", extra={"retry_after": seconds},
                         headers={"Retry-After": str(seconds)})


class NotReady(ApiError):
    status, code, title = 503, "not_ready", "Service not ready"


class BillingNotConfigured(ApiError):
    status, code, title = 503, "billing_not_configured", "Billing is not configured on this hub"


class BadSignature(ApiError):
    status, code, title = 400, "bad_signature", "Webhook signature is invalid"


class CapacityBelowRegistered(Conflict):
    code, title = "capacity_below_registered", "More participants are registered than the new capacity"


class FeedbackNotAllowed(Conflict):
    code, title = "feedback_not_allowed", "Feedback opens when the session has ended"


class LessonExists(Conflict):
    code, title = "lesson_exists", "A lesson already uses this level and gate"


class LessonInUse(Conflict):
    code, title = "lesson_in_use", "Learners have progress on this lesson; deactivate it instead"


class PlanExists(Conflict):
    code, title = "plan_exists", "A plan with this Stripe price exists"


class PlanUnavailable(Conflict):
    code, title = "plan_unavailable", "This plan cannot be bought"


class NoCustomer(Conflict):
    code, title = "no_customer", "No Stripe customer yet; start a checkout first"


class StripeUnavailable(ApiError):
    status, code, title = 502, "stripe_unavailable", "Stripe could not complete the request; retry shortly"


class UnknownChannel(ApiError):
    status, code, title = 422, "unknown_channel", "Not a channel name"


class HistoryExpired(Conflict):
    code, title = "history_expired", "The channel log no longer reaches back that far; refetch its state"

    def __init__(self, head: int, trimmed: int) -> None:
        super().__init__(f"Events up to {trimmed} were pruned; the head is {head}",
                         extra={"head": head, "trimmed_seq": trimmed})


class AlreadyAttended(Conflict):
    code, title = "already_attended", "You attended this session; the attendance cannot be cancelled"


class SubscriptionExists(Conflict):
    code, title = "subscription_exists", "You already have a subscription; change it in the billing portal"


class BadEvent(ApiError):
    status, code, title = 400, "bad_event", "The signed event is not one the hub can apply"
