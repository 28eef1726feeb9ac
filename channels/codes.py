"""Every error code a client can see, defined once: its REST status and title, its websocket message.

Both error trees name an entry here instead of spelling a code and a status of their own: the websocket's
``ProtocolError`` subclasses (``channels.errors``) and the REST ``ApiError`` subclasses (``hub.errors``), so
``forbidden`` cannot be a 403 in one tree and something else in the other. An entry with no ``status`` never
answers a REST request; one with no ``message`` never travels on the websocket. ``docs/errors.md`` lists the
same table, and a test keeps the two equal.

Pure data (no imports beyond the standard library): the pure ``channels`` package and ``hub`` both read it.
Public: ``ErrorCode``, ``REGISTRY`` and one upper-case constant per code.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """One stable error code.

    ``status``/``title``: the REST problem document's status and title (both or neither). ``message``: the
    default ``message`` of a websocket reply or error frame. ``close``: the close code (a ``CloseCode``
    value) the server sends when this error ends the connection.
    """

    code: str
    status: int | None = None
    title: str | None = None
    message: str | None = None
    close: int | None = None


_ENTRIES: dict[str, ErrorCode] = {}


def _define(code: str, *, status: int | None = None, title: str | None = None, message: str | None = None,
            close: int | None = None) -> ErrorCode:
    # Checked at import, so a second definition of a code cannot ship at all.
    if code in _ENTRIES:
        raise ValueError(f"error code {code!r} is defined twice")
    if (status is None) != (title is None):
        raise ValueError(f"error code {code!r}: a REST status needs its title, and a title its status")
    if status is None and message is None:
        raise ValueError(f"error code {code!r} is neither a REST nor a websocket error")
    entry = ErrorCode(code, status, title, message, close)
    _ENTRIES[code] = entry
    return entry


_UNAUTHENTICATED = 4001  # CloseCode.UNAUTHENTICATED (channels.errors imports this module, not the reverse)
_REVOKED = 4003  # CloseCode.REVOKED

# Both transports. The websocket messages are lower case, the REST titles sentence case: both are on the wire.
UNAUTHORIZED = _define("unauthorized", status=401, title="Authentication required", message="not authenticated",
                       close=_UNAUTHENTICATED)
FORBIDDEN = _define("forbidden", status=403, title="Not allowed", message="forbidden")
NOT_FOUND = _define("not_found", status=404, title="Not found", message="not found")
UNKNOWN_CHANNEL = _define("unknown_channel", status=422, title="Not a channel name",
                          message="malformed channel name")
# An access token older than its account's last revocation (ban, deletion, role or password change,
# logout-all): REST answers 401, and a live websocket is closed with 4003.
TOKEN_REVOKED = _define("token_revoked", status=401, title="This token was revoked; sign in again",
                        message="token revoked", close=_REVOKED)
RATE_LIMITED = _define("rate_limited", status=429, title="Too many requests", message="rate limited")
INTERNAL = _define("internal", status=500, title="Internal error", message="internal error")
# Writes (posts, comments, votes, registrations, reports, durable room publishes) of an account whose email
# is not verified while REQUIRE_EMAIL_VERIFICATION is on: 403 over REST, an error reply to a ws publish.
EMAIL_UNVERIFIED = _define("email_unverified", status=403, title="Verify your email address first",
                           message="email not verified")

# Websocket only. An expired token over REST is `unauthorized` (detail "Token expired").
BAD_FRAME = _define("bad_frame", message="invalid frame")
TOKEN_EXPIRED = _define("token_expired", message="token expired", close=_UNAUTHENTICATED)
ALREADY_SUBSCRIBED = _define("already_subscribed", message="already subscribed")
NOT_SUBSCRIBED = _define("not_subscribed", message="not subscribed")
# These three answer REST too: `POST /api/channels/{channel}/publish` and `GET /sse` (hub.api.realtime).
EVENT_NOT_ALLOWED = _define("event_not_allowed", status=422, title="This event cannot be published on this channel",
                            message="event not allowed on this channel")
SESSION_NOT_LIVE = _define("session_not_live", status=409, title="The session is not live",
                           message="session is not live")
TOO_MANY_SUBSCRIPTIONS = _define("too_many_subscriptions", status=422, title="Too many channels",
                                 message="too many subscriptions")

# REST only: the generic code of each status Litestar itself may answer (titles as `hub.problems` words them).
BAD_REQUEST = _define("bad_request", status=400, title="Bad request")
METHOD_NOT_ALLOWED = _define("method_not_allowed", status=405, title="Method not allowed")
NOT_ACCEPTABLE = _define("not_acceptable", status=406, title="Not acceptable")
CONFLICT = _define("conflict", status=409, title="Conflict")
PAYLOAD_TOO_LARGE = _define("payload_too_large", status=413, title="Payload too large")
UNSUPPORTED_MEDIA_TYPE = _define("unsupported_media_type", status=415, title="Unsupported media type")
VALIDATION_FAILED = _define("validation_failed", status=422, title="Validation failed")
NOT_READY = _define("not_ready", status=503, title="Service not ready")

# REST only: the routes' own codes.
BAD_JSON = _define("bad_json", status=400, title="Request body is not valid JSON")
BAD_SIGNATURE = _define("bad_signature", status=400, title="Webhook signature is invalid")
BAD_EVENT = _define("bad_event", status=400, title="The signed event is not one the hub can apply")
# A mailed link's token (verification, password reset, email change) that is unknown, used or expired.
INVALID_TOKEN = _define("invalid_token", status=400, title="This link is invalid, used or expired")
# `GET /sse` without a ticket, or with one that was used already or is older than 30 s.
INVALID_TICKET = _define("invalid_ticket", status=401, title="The stream ticket is missing, used or expired")
INVALID_CREDENTIALS = _define("invalid_credentials", status=401, title="Email or password is wrong")
TOKEN_REUSED = _define("token_reused", status=401,
                       title="Refresh token was already used; the session is revoked")
PLAN_REQUIRED = _define("plan_required", status=402, title="Your plan does not include this level")
BANNED = _define("banned", status=403, title="This account is banned")
ALREADY_REPORTED = _define("already_reported", status=409, title="You already reported this")
EMAIL_TAKEN = _define("email_taken", status=409, title="An account with this email exists")
INVALID_TRANSITION = _define("invalid_transition", status=409, title="That status change is not allowed")
PREREQUISITES_NOT_MET = _define("prerequisites_not_met", status=409, title="Prerequisites are not met")
SESSION_CLOSED = _define("session_closed", status=409, title="The session does not accept registrations")
ALREADY_DONE = _define("already_done", status=409, title="This was already done")
CAPACITY_BELOW_REGISTERED = _define("capacity_below_registered", status=409,
                                    title="More participants are registered than the new capacity")
FEEDBACK_NOT_ALLOWED = _define("feedback_not_allowed", status=409,
                               title="Feedback opens when the session has ended")
LESSON_EXISTS = _define("lesson_exists", status=409, title="A lesson already uses this level and gate")
LESSON_IN_USE = _define("lesson_in_use", status=409,
                        title="Learners have progress on this lesson; deactivate it instead")
PLAN_EXISTS = _define("plan_exists", status=409, title="A plan with this Stripe price exists")
PLAN_UNAVAILABLE = _define("plan_unavailable", status=409, title="This plan cannot be bought")
NO_CUSTOMER = _define("no_customer", status=409, title="No Stripe customer yet; start a checkout first")
HISTORY_EXPIRED = _define("history_expired", status=409,
                          title="The channel log no longer reaches back that far; refetch its state")
ALREADY_ATTENDED = _define("already_attended", status=409,
                           title="You attended this session; the attendance cannot be cancelled")
SUBSCRIPTION_EXISTS = _define("subscription_exists", status=409,
                              title="You already have a subscription; change it in the billing portal")
IDEMPOTENCY_KEY_REUSED = _define("idempotency_key_reused", status=422,
                                 title="Idempotency-Key was used for a different request")
POST_LOCKED = _define("post_locked", status=423, title="The post is locked")
STRIPE_UNAVAILABLE = _define("stripe_unavailable", status=502,
                             title="Stripe could not complete the request; retry shortly")
BILLING_NOT_CONFIGURED = _define("billing_not_configured", status=503,
                                 title="Billing is not configured on this hub")

REGISTRY = MappingProxyType(_ENTRIES)
"""Every entry by its code."""
