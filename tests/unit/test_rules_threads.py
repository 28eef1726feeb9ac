"""Feed keys and thread paths, tested with literals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from hub.rules.threads import (
    MAX_UUID,
    POST_CURSOR_LENGTH,
    first_post_key,
    parse_post_cursor,
    parse_thread_cursor,
    post_cursor_key,
    score,
)

ID = UUID("6f1c0000-0000-4000-8000-000000000001")
WHEN = datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
POST = {"id": ID, "is_pinned": False, "last_activity_at": WHEN, "created_at": WHEN, "score": -3}
ELEMENT = "20250301123015123456" + str(ID)


def test_score_is_upvotes_minus_downvotes() -> None:
    assert (score(5, 2), score(0, 4), score(0, 0)) == (3, -4, 0)


@pytest.mark.parametrize("sort", ["active", "new", "top"])
def test_a_cursor_key_parses_back_to_the_sort_key_of_its_post(sort: Any) -> None:
    expected = {"active": (False, WHEN, ID), "new": (WHEN, ID), "top": (-3, ID)}[sort]
    assert parse_post_cursor(sort, post_cursor_key(sort, POST)) == expected


def test_first_page_keys_lie_above_every_real_post() -> None:
    assert first_post_key("active") > (True, WHEN, ID)
    assert first_post_key("new") > (WHEN, ID)
    assert first_post_key("top") > (2**31 - 2, MAX_UUID)


@pytest.mark.parametrize("sort, key", [
    ("top", ["new", WHEN.isoformat(), str(ID)]),          # another sort's cursor
    ("active", ["active", 1, WHEN.isoformat(), str(ID)]),  # pinned must be a boolean
    ("active", ["active", False, "2025-03-01T12:30:15", str(ID)]),  # naive time
    ("new", ["new", "yesterday", str(ID)]),
    ("new", ["new", WHEN.isoformat(), "not-a-uuid"]),
    ("top", ["top", True, str(ID)]),
    ("top", ["top", 2**31, str(ID)]),
    ("top", ["top", 1.5, str(ID)]),
    ("top", ["top", 1]),
    ("top", []),
])
def test_foreign_or_damaged_post_cursors_are_refused(sort: Any, key: list[Any]) -> None:
    with pytest.raises(ValueError):
        parse_post_cursor(sort, key)


def test_thread_paths_accept_fixed_width_elements_only() -> None:
    assert parse_thread_cursor([ELEMENT, ELEMENT]) == [ELEMENT, ELEMENT]
    for bad in ([], "x", [ELEMENT[:-1]], [ELEMENT.upper()], [ELEMENT + "\x00"], [1], [ELEMENT, None]):
        with pytest.raises(ValueError):
            parse_thread_cursor(bad)


def test_path_order_is_depth_first_with_siblings_by_time_then_id() -> None:
    def element(stamp: str, n: int) -> str:
        return stamp + f"00000000-0000-4000-8000-{n:012d}"

    parent = [element("20250301120000000000", 1)]
    early_child = [*parent, element("20250301120000000005", 9)]
    tie_low_id = [*parent, element("20250301120000000010", 2)]
    tie_high_id = [*parent, element("20250301120000000010", 3)]
    grandchild = [*early_child, element("20250301130000000000", 4)]
    next_root = [element("20250301120000000001", 5)]
    shuffled = [next_root, tie_high_id, grandchild, parent, tie_low_id, early_child]
    assert sorted(shuffled) == [parent, early_child, grandchild, tie_low_id, tie_high_id, next_root]


@pytest.mark.parametrize("sort", ["active", "new", "top"])
def test_cursor_length_of_each_sort_matches_its_keys(sort: Any) -> None:
    assert len(post_cursor_key(sort, POST)) == POST_CURSOR_LENGTH[sort]
