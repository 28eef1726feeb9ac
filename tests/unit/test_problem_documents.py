"""REST errors take status, code and title from the one registry, and render as they always have."""

from __future__ import annotations

from typing import Any, cast

import pytest
from litestar.exceptions import HTTPException

from channels import errors as protocol_errors
from channels.codes import REGISTRY
from hub import errors
from hub.errors import ApiError
from hub.problems import handle_api_error, handle_http

# What every REST error class answered before the registry (status, code, title): the problem documents
# stay byte-for-byte the same.
API_ERRORS = {
    "AccessTokenExpired": (401, "unauthorized", "Authentication required"),
    "AlreadyAttended": (409, "already_attended", "You attended this session; the attendance cannot be cancelled"),
    "AlreadyDone": (409, "already_done", "This was already done"),
    "BadEvent": (400, "bad_event", "The signed event is not one the hub can apply"),
    "BadJson": (400, "bad_json", "Request body is not valid JSON"),
    "BadSignature": (400, "bad_signature", "Webhook signature is invalid"),
    "BillingNotConfigured": (503, "billing_not_configured", "Billing is not configured on this hub"),
    "CapacityBelowRegistered": (409, "capacity_below_registered",
                                "More participants are registered than the new capacity"),
    "Conflict": (409, "conflict", "Conflict"),
    "EmailTaken": (409, "email_taken", "An account with this email exists"),
    "EmailUnverified": (403, "email_unverified", "Verify your email address first"),
    "EventNotAllowed": (422, "event_not_allowed", "This event cannot be published on this channel"),
    "FeedbackNotAllowed": (409, "feedback_not_allowed", "Feedback opens when the session has ended"),
    "Forbidden": (403, "forbidden", "Not allowed"),
    "HistoryExpired": (409, "history_expired", "The channel log no longer reaches back that far; refetch its state"),
    "IdempotencyConflict": (422, "idempotency_key_reused", "Idempotency-Key was used for a different request"),
    "InvalidCredentials": (401, "invalid_credentials", "Email or password is wrong"),
    "InvalidTicket": (401, "invalid_ticket", "The stream ticket is missing, used or expired"),
    "InvalidToken": (400, "invalid_token", "This link is invalid, used or expired"),
    "InvalidTransition": (409, "invalid_transition", "That status change is not allowed"),
    "LessonExists": (409, "lesson_exists", "A lesson already uses this level and gate"),
    "LessonInUse": (409, "lesson_in_use", "Learners have progress on this lesson; deactivate it instead"),
    "Locked": (423, "post_locked", "The post is locked"),
    "NoCustomer": (409, "no_customer", "No Stripe customer yet; start a checkout first"),
    "NotFound": (404, "not_found", "Not found"),
    "NotReady": (503, "not_ready", "Service not ready"),
    "PlanExists": (409, "plan_exists", "A plan with this Stripe price exists"),
    "PlanRequired": (402, "plan_required", "Your plan does not include this level"),
    "PlanUnavailable": (409, "plan_unavailable", "This plan cannot be bought"),
    "PrerequisitesNotMet": (409, "prerequisites_not_met", "Prerequisites are not met"),
    "RateLimited": (429, "rate_limited", "Too many requests"),
    "SessionClosed": (409, "session_closed", "The session does not accept registrations"),
    "SessionNotLive": (409, "session_not_live", "The session is not live"),
    "StripeUnavailable": (502, "stripe_unavailable", "Stripe could not complete the request; retry shortly"),
    "SubscriptionExists": (409, "subscription_exists",
                           "You already have a subscription; change it in the billing portal"),
    "AlreadyReported": (409, "already_reported", "You already reported this"),
    "Banned": (403, "banned", "This account is banned"),
    "TooManySubscriptions": (422, "too_many_subscriptions", "Too many channels"),
    "TokenRevoked": (401, "token_revoked", "This token was revoked; sign in again"),
    "TokenReused": (401, "token_reused", "Refresh token was already used; the session is revoked"),
    "Unauthorized": (401, "unauthorized", "Authentication required"),
    "UnknownChannel": (422, "unknown_channel", "Not a channel name"),
    "ValidationFailed": (422, "validation_failed", "Validation failed"),
}


def api_error_classes() -> list[type[ApiError]]:
    found: list[type[ApiError]] = []
    pending = [ApiError]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub.__module__ == errors.__name__:
                found.append(sub)
            pending.append(sub)
    return found


def test_rest_error_classes_keep_their_status_code_and_title() -> None:
    assert {cls.__name__: (cls.status, cls.code, cls.title) for cls in api_error_classes()} == API_ERRORS


def test_every_rest_error_class_takes_status_code_and_title_from_its_registry_entry() -> None:
    for cls in api_error_classes():
        assert REGISTRY[cls.code] is cls.entry, cls
        assert (cls.status, cls.title) == (cls.entry.status, cls.entry.title), cls


def test_a_code_on_both_transports_is_one_entry() -> None:
    protocol = {cls.code: cls.entry for cls in vars(protocol_errors).values()
                if isinstance(cls, type) and issubclass(cls, protocol_errors.ProtocolError)}
    shared = {cls.code for cls in api_error_classes()} & protocol.keys()
    assert shared == {"unauthorized", "forbidden", "not_found", "unknown_channel", "rate_limited", "token_revoked",
                      "email_unverified", "event_not_allowed", "session_not_live", "too_many_subscriptions"}
    for cls in api_error_classes():
        if cls.code in shared:
            assert cls.entry is protocol[cls.code]


def test_a_rest_error_cannot_name_a_websocket_only_code() -> None:
    with pytest.raises(TypeError, match="not a REST error code"):
        type("Expired", (ApiError,), {}, entry=REGISTRY["token_expired"])


def test_an_expired_token_is_the_same_401_unauthorized_as_any_bad_token() -> None:
    response = handle_api_error(cast(Any, None), errors.AccessTokenExpired())
    assert isinstance(errors.AccessTokenExpired(), errors.Unauthorized)
    assert (response.status_code, response.content) == (401, {
        "type": "https://hub.example/problems/unauthorized", "title": "Authentication required", "status": 401,
        "detail": "Token expired", "code": "unauthorized"})


@pytest.mark.parametrize(("error", "status", "body", "headers"), [
    (errors.NotFound(), 404, {"type": "https://hub.example/problems/not_found", "title": "Not found",
                              "status": 404, "detail": "Not found", "code": "not_found"}, {}),
    (errors.RateLimited(2.5), 429, {"type": "https://hub.example/problems/rate_limited", "title": "Too many requests",
                                    "status": 429, "detail": "Retry in 3 s", "code": "rate_limited",
                                    "retry_after": 3}, {"Retry-After": "3"}),
    (errors.HistoryExpired(25, 10), 409, {
        "type": "https://hub.example/problems/history_expired",
        "title": "The channel log no longer reaches back that far; refetch its state", "status": 409,
        "detail": "Events up to 10 were pruned; the head is 25", "code": "history_expired", "head": 25,
        "trimmed_seq": 10}, {}),
    (errors.ValidationFailed({"title": "too long"}), 422, {
        "type": "https://hub.example/problems/validation_failed", "title": "Validation failed", "status": 422,
        "detail": "title: too long", "code": "validation_failed", "errors": {"title": "too long"}}, {}),
])
def test_rest_errors_render_the_same_problem_documents(error: ApiError, status: int, body: dict[str, Any],
                                                       headers: dict[str, str]) -> None:
    response = handle_api_error(cast(Any, None), error)
    assert (response.status_code, response.content, dict(response.headers)) == (status, body, headers)


# Litestar's own errors: the generic code of the status, a title made from the code; 5xx never say more.
@pytest.mark.parametrize(("status", "code", "title"), [
    (400, "bad_request", "Bad request"), (401, "unauthorized", "Unauthorized"), (403, "forbidden", "Forbidden"),
    (404, "not_found", "Not found"), (405, "method_not_allowed", "Method not allowed"),
    (406, "not_acceptable", "Not acceptable"), (409, "conflict", "Conflict"),
    (413, "payload_too_large", "Payload too large"), (415, "unsupported_media_type", "Unsupported media type"),
    (418, "bad_request", "Bad request"), (422, "validation_failed", "Validation failed"),
    (429, "rate_limited", "Rate limited"), (500, "internal", "Internal error"), (503, "internal", "Internal error"),
])
def test_litestar_errors_render_the_same_problem_documents(status: int, code: str, title: str) -> None:
    response = handle_http(cast(Any, None), HTTPException(status_code=status, detail="d"))
    detail = "The server could not complete the request" if status >= 500 else "d"
    assert (response.status_code, response.content) == (status, {
        "type": f"https://hub.example/problems/{code}", "title": title, "status": status, "detail": detail,
        "code": code})
