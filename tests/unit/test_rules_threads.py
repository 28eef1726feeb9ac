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
    path_ancestor,
    post_cursor_key,
    reply_parent,
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


def element(stamp: str, n: int) -> str:
    return stamp + f"00000000-0000-4000-8000-{n:012d}"


def chain(length: int) -> str:
    """The stored path of the comment at depth `length - 1` of a chain whose comment at depth d has id d."""
    return "".join(element("20250301120000000000", n) for n in range(length))


def test_a_path_names_the_ancestor_at_each_depth_and_nothing_past_its_end() -> None:
    path = ELEMENT + element("20250301120000000005", 7)
    assert (path_ancestor(path, 0), path_ancestor(path, 1)) == (ID, UUID("00000000-0000-4000-8000-000000000007"))
    for bad_path, depth in ((path, 2), (path, -1), (ELEMENT[:-1], 0), (ELEMENT.upper(), 0), ("", 0)):
        with pytest.raises(ValueError):
            path_ancestor(bad_path, depth)


def test_a_reply_below_the_cap_attaches_to_its_parent() -> None:
    parent = UUID("00000000-0000-4000-8000-000000000003")
    assert reply_parent(parent, 3, chain(4), max_depth=10) == parent
    assert reply_parent(parent, 9, chain(10), max_depth=10) == parent


def test_a_reply_to_a_comment_at_or_past_the_cap_attaches_to_the_ancestor_one_level_above_the_cap() -> None:
    at_cap = UUID("00000000-0000-4000-8000-000000000010")
    assert reply_parent(at_cap, 10, chain(11), max_depth=10) == UUID("00000000-0000-4000-8000-000000000009")
    # the cap was lowered after a deeper thread was written
    deep = UUID("00000000-0000-4000-8000-000000000015")
    assert reply_parent(deep, 15, chain(16), max_depth=3) == UUID("00000000-0000-4000-8000-000000000002")
    assert reply_parent(at_cap, 10, chain(11), max_depth=1) == UUID("00000000-0000-4000-8000-000000000000")


def test_path_order_is_depth_first_with_siblings_by_time_then_id() -> None:
    parent = [element("20250301120000000000", 1)]
    early_child = [*parent, element("20250301120000000005", 9)]
    tie_low_id = [*parent, element("20250301120000000010", 2)]
    tie_high_id = [*parent, element("20250301120000000010", 3)]
    grandchild = [*early_child, element("20250301130000000000", 4)]
    next_root = [element("20250301120000000001", 5)]
    shuffled = [next_root, tie_high_id, grandchild, parent, tie_low_id, early_child]
    assert sorted(shuffled) == [parent, early_child, grandchild, tie_low_id, tie_high_id, next_root]
    # the schema stores each path concatenated: fixed-width elements keep the same byte order
    stored = ["".join(path) for path in shuffled]
    assert sorted(stored) == ["".join(path) for path in sorted(shuffled)]


@pytest.mark.parametrize("sort", ["active", "new", "top"])
def test_cursor_length_of_each_sort_matches_its_keys(sort: Any) -> None:
    assert len(post_cursor_key(sort, POST)) == POST_CURSOR_LENGTH[sort]
