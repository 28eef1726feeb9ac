"""Display order of the community: the feed's sort keys and the comment thread's paths.

Feed: every sort is a descending keyset over an index, and the last post's key is the cursor.
`sort=active` is (is_pinned, last_activity_at, id), `new` is (created_at, id), `top` is (score, id).
The first page starts below a sentinel key above every real row, so one SQL statement serves every
page without a "no cursor" branch.

Thread: a comment's path is the list of its ancestors' and its own elements, each element
`YYYYMMDDHH24MISSUS` (UTC) followed by the comment id. Elements are fixed-width, so comparing paths
element by element in byte order ("C" collation) is depth-first order with siblings by
(created_at, id). The last comment's path is the thread cursor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

PostSort = Literal["active", "new", "top"]
# Items in a cursor of each sort: its name, then its key.
POST_CURSOR_LENGTH: dict[str, int] = {"active": 4, "new": 3, "top": 3}

MAX_UUID = UUID("ffffffff-ffff-ffff-ffff-ffffffffffff")
_END_OF_TIME = datetime.max.replace(tzinfo=UTC)
_INT4_MIN, _INT4_MAX = -(2**31), 2**31 - 1

_PATH_ELEMENT = re.compile(r"\d{20}[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def score(upvotes: int, downvotes: int) -> int:
    return upvotes - downvotes


def first_post_key(sort: PostSort) -> tuple[Any, ...]:
    """A key strictly above every stored post in `sort`'s descending order."""
    if sort == "active":
        return (True, _END_OF_TIME, MAX_UUID)
    if sort == "new":
        return (_END_OF_TIME, MAX_UUID)
    return (_INT4_MAX, MAX_UUID)


def post_cursor_key(sort: PostSort, post: Mapping[str, Any]) -> list[Any]:
    """The cursor content after `post` (a post view): the sort's name, then its key."""
    if sort == "active":
        return [sort, post["is_pinned"], post["last_activity_at"].isoformat(), str(post["id"])]
    if sort == "new":
        return [sort, post["created_at"].isoformat(), str(post["id"])]
    return [sort, post["score"], str(post["id"])]


def parse_post_cursor(sort: PostSort, key: list[Any]) -> tuple[Any, ...]:
    """The typed key a cursor of `post_cursor_key` holds; ValueError when it is not one for `sort`."""
    if not key or key[0] != sort:
        raise ValueError("cursor belongs to another sort")
    if sort == "active" and len(key) == 4 and isinstance(key[1], bool):
        return (key[1], _timestamp(key[2]), _uuid(key[3]))
    if sort == "new" and len(key) == 3:
        return (_timestamp(key[1]), _uuid(key[2]))
    if sort == "top" and len(key) == 3 and _is_int4(key[1]):
        return (key[1], _uuid(key[2]))
    raise ValueError("malformed cursor")


def parse_thread_cursor(path: Any) -> list[str]:
    """The path a thread cursor holds; ValueError unless it is a non-empty list of path elements."""
    if not isinstance(path, list) or not path:
        raise ValueError("malformed cursor")
    if not all(isinstance(element, str) and _PATH_ELEMENT.fullmatch(element) for element in path):
        raise ValueError("malformed cursor")
    return path


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("malformed cursor")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("malformed cursor")
    return parsed


def _uuid(value: Any) -> UUID:
    if not isinstance(value, str):
        raise ValueError("malformed cursor")
    return UUID(value)


def _is_int4(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and _INT4_MIN <= value <= _INT4_MAX
