"""The one registry of error codes: each code defined once, the websocket errors built from it, the docs equal to it."""

import re
from pathlib import Path

import pytest

from channels import codes, errors
from channels.codes import REGISTRY, ErrorCode
from channels.errors import CloseCode, ProtocolError

DOCS = Path(__file__).resolve().parents[3] / "docs"

# What every websocket error class said before the registry (code, default message): error frames stay
# byte-for-byte the same.
PROTOCOL_ERRORS = {
    "AlreadySubscribed": ("already_subscribed", "already subscribed"),
    "EventNotAllowed": ("event_not_allowed", "event not allowed on this channel"),
    "Forbidden": ("forbidden", "forbidden"),
    "EmailUnverified": ("email_unverified", "email not verified"),
    "FrameError": ("bad_frame", "invalid frame"),
    "InternalError": ("internal", "internal error"),
    "LookupBudgetSpent": ("rate_limited", "rate limited"),
    "NotFound": ("not_found", "not found"),
    "NotSubscribed": ("not_subscribed", "not subscribed"),
    "RateLimited": ("rate_limited", "rate limited"),
    "SessionNotLive": ("session_not_live", "session is not live"),
    "TokenExpired": ("token_expired", "token expired"),
    "TokenRevoked": ("token_revoked", "token revoked"),
    "TooManySubscriptions": ("too_many_subscriptions", "too many subscriptions"),
    "Unauthorized": ("unauthorized", "not authenticated"),
    "UnknownChannel": ("unknown_channel", "malformed channel name"),
}


def subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *subclasses(sub)]
    return found


def protocol_error_classes() -> list[type[ProtocolError]]:
    return [cls for cls in subclasses(ProtocolError) if cls.__module__ == errors.__name__]


def test_websocket_error_classes_keep_their_codes_and_messages() -> None:
    assert {cls.__name__: (cls.code, cls.default_message) for cls in protocol_error_classes()} == PROTOCOL_ERRORS


def test_every_websocket_error_class_takes_code_and_message_from_its_registry_entry() -> None:
    for cls in protocol_error_classes():
        assert REGISTRY[cls.code] is cls.entry, cls
        assert cls.default_message == cls.entry.message, cls


def test_a_code_cannot_be_defined_twice() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        codes._define("forbidden", status=403, title="Not allowed", message="forbidden")
    assert all(code == entry.code for code, entry in REGISTRY.items())


def test_a_websocket_error_cannot_name_a_rest_only_code() -> None:
    with pytest.raises(TypeError, match="not a websocket error code"):
        type("Conflicting", (ProtocolError,), {}, entry=codes.CONFLICT)


def test_every_entry_is_on_some_transport_with_a_title_for_its_status() -> None:
    for entry in REGISTRY.values():
        assert entry.status is not None or entry.message is not None, entry
        assert (entry.status is None) == (entry.title is None), entry
        assert entry.status is None or 400 <= entry.status < 600, entry


def test_close_codes_of_entries_are_protocol_close_codes() -> None:
    closes = {entry.close for entry in REGISTRY.values() if entry.close is not None}
    assert closes == {CloseCode.UNAUTHENTICATED, CloseCode.REVOKED}
    documented = {int(m) for m in re.findall(r"^\| (\d{4}) \|", (DOCS / "protocol.md").read_text(), re.M)}
    assert closes <= documented


def test_protocol_doc_lists_exactly_the_websocket_codes() -> None:
    text = (DOCS / "protocol.md").read_text()
    paragraph = text[text.index("Error codes:"):].split("\n\n", 1)[0]
    listed = set(re.findall(r"`([a-z_]+)`", paragraph)) - {"details"}
    assert listed == {entry.code for entry in REGISTRY.values() if entry.message is not None}


def _cell(text: str) -> str | None:
    text = text.strip()
    return None if text == "—" else text.strip("`")


def test_the_docs_table_is_the_registry() -> None:
    rows = [line for line in (DOCS / "errors.md").read_text().splitlines() if line.startswith("| `")]
    documented = []
    for row in rows:
        code, status, title, message, close = (_cell(cell) for cell in row.strip("|").split(" | "))
        assert code is not None
        documented.append(ErrorCode(code, int(status) if status else None, title, message,
                                    int(close) if close else None))
    assert documented == list(REGISTRY.values())
