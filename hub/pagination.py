"""Keyset pagination: opaque cursors holding the sort key of the last row of a page."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from litestar.params import QueryParameter

from hub.errors import ValidationFailed

T = TypeVar("T")
K = TypeVar("K")

# Typed parts of cursor keys: a tampered cursor must be a 422, never a database error (int4 overflow,
# NUL in text) or a naive timestamp compared with a timestamptz.
Int4 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
Aware = Annotated[datetime, msgspec.Meta(tz=True)]
CursorText = Annotated[str, msgspec.Meta(max_length=200, pattern=r"^[^\x00]*$")]

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

# The longest key a keyset cursor holds (a sort name, a timestamp, a 200-character text and a UUID) is
# ≈ 300 bytes of JSON, 400 characters of base64: anything longer was not issued by the hub, and is
# refused before it is decoded.
MAX_CURSOR_LENGTH = 512

# The `cursor` query parameter of a keyset-paged route: the cap is declared (and documented) on the route.
CursorQuery = Annotated[str | None, QueryParameter(max_length=MAX_CURSOR_LENGTH)]

# A cursor's key is a flat list of scalars: decoding into this bounded type refuses any nesting at its
# first extra level, so a nested cursor costs nothing and can never reach the decoder's recursion guard.
_Scalar = str | int | float | bool | None
_KEY_DECODER = msgspec.json.Decoder(list[_Scalar])


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(key)).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The key a cursor holds, or None for the first page; a foreign, damaged, over-long or nested
    cursor is a 422."""
    if cursor is None or cursor == "":
        return None
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise ValidationFailed({"cursor": f"is longer than {MAX_CURSOR_LENGTH} characters"})
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = _KEY_DECODER.decode(raw)
    except (ValueError, msgspec.DecodeError):
        raise ValidationFailed({"cursor": "is not a cursor this route issued"}) from None
    if len(key) != arity:
        raise ValidationFailed({"cursor": "is not a cursor this route issued"})
    return key


def cursor_key(cursor: str | None, key_type: type[K]) -> K | None:
    """The typed key of a keyset cursor (a tuple type), or None for the first page; 422 otherwise."""
    arity = len(getattr(key_type, "__args__", ()))
    key = decode_cursor(cursor, arity)
    if key is None:
        return None
    try:
        return msgspec.convert(key, key_type)
    except msgspec.ValidationError:
        raise ValidationFailed({"cursor": "is not a cursor this route issued"}) from None


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed({"limit": f"must be between 1 and {MAX_LIMIT}"})
    return limit


def page_of(rows: list[T], limit: int, key_of: Any) -> Page[T]:
    """Rows were fetched with `limit + 1`: the extra row only tells that a next page exists."""
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(items=rows, next_cursor=encode_cursor(key_of(rows[-1])))
    return Page(items=rows, next_cursor=None)
