"""Cursor helpers: round trip, foreign cursors rejected as 422, limits enforced."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import ValidationFailed
from hub.pagination import MAX_CURSOR_LENGTH, check_limit, decode_cursor, encode_cursor, page_of


@given(st.lists(st.one_of(st.integers(), st.text(), st.none(), st.booleans()), min_size=1, max_size=4))
def test_cursor_round_trips_any_key_within_the_cap_and_refuses_a_longer_one(key: list[object]) -> None:
    cursor = encode_cursor(key)
    if len(cursor) <= MAX_CURSOR_LENGTH:
        assert decode_cursor(cursor, len(key)) == key
    else:
        with pytest.raises(ValidationFailed):
            decode_cursor(cursor, len(key))


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", encode_cursor([1, 2, 3]), encode_cursor({"a": 1})])  # type: ignore[list-item]
def test_foreign_or_damaged_cursors_are_validation_errors(cursor: str) -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor, 2)


def test_limits() -> None:
    assert check_limit(None) == 20
    for bad in (0, 101, -5):
        with pytest.raises(ValidationFailed):
            check_limit(bad)


def test_page_of_uses_the_extra_row_only_to_detect_a_next_page() -> None:
    page = page_of([1, 2, 3], 2, lambda row: [row])
    assert page.items == [1, 2] and decode_cursor(page.next_cursor, 1) == [2]
    assert page_of([1, 2], 2, lambda row: [row]).next_cursor is None
