import pytest

from channels import errors
from channels.codes import REGISTRY
from channels.errors import CloseCode, InternalError, ProtocolError, RateLimited, error_for_code

ALL_CODES = [
    "bad_frame",
    "unauthorized",
    "token_expired",
    "token_revoked",
    "forbidden",
    "not_found",
    "unknown_channel",
    "already_subscribed",
    "not_subscribed",
    "event_not_allowed",
    "session_not_live",
    "rate_limited",
    "too_many_subscriptions",
    "email_unverified",
    "internal",
]


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_protocol_code_has_a_typed_error(code: str) -> None:
    err = error_for_code(code, details={"retry_after": 1})
    assert isinstance(err, ProtocolError)
    assert err.code == code
    assert err.entry is REGISTRY[code]
    assert err.entry.status is None or 400 <= err.entry.status <= 500


def test_error_classes_cover_exactly_the_protocol_codes() -> None:
    codes = {
        cls.code
        for name in errors.__all__
        if isinstance(cls := getattr(errors, name), type) and issubclass(cls, ProtocolError)
    }
    assert codes == set(ALL_CODES)


def test_rate_limited_carries_retry_after_rounded_up_in_details() -> None:
    err = RateLimited(0.1234)
    assert err.details == {"retry_after": 0.124}
    assert err.retry_after == 0.124


def test_unknown_code_becomes_internal_without_leaking_text() -> None:
    err = error_for_code("weird")
    assert isinstance(err, InternalError)
    assert err.message == "internal error"


def test_close_codes_match_the_protocol() -> None:
    assert {c.name: int(c) for c in CloseCode} == {
        "NORMAL": 1000,
        "GOING_AWAY": 1001,
        "POLICY": 1008,
        "TOO_BIG": 1009,
        "UNAUTHENTICATED": 4001,
        "REVOKED": 4003,
        "SLOW_CONSUMER": 4008,
        "TOO_MANY_CONNECTIONS": 4029,
    }
