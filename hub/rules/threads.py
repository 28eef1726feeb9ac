"""Display order of the community: the feed's sort keys and the comment thread's paths.

Feed: every sort is a descending keyset over an index, and the last post's key is the cursor.
`sort=active` is (is_pinned, last_activity_at, id), `new` is (created_at, id), `top` is (score, id).
The first page starts below a sentinel key above every real row, so one SQL statement serves every
page without a "no cursor" branch.

Thread: a comment's path is its ancestors' elements followed by its own, each element
`YYYYMMDDHH24MISSUS` (UTC) followed by the comment id. Elements are fixed-width, so comparing paths
in byte order ("C" collation) is depth-first order with siblings by (created_at, id). The schema
stores each comment's path (`sort_path`, concatenated) and depth when it is inserted (migration 0012),
so the thread cursor is just the last comment's id. Reply depth is capped: see `reply_parent`.
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
PATH_ELEMENT_LENGTH = 56


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


def reply_parent(parent_id: UUID, parent_depth: int, parent_path: str, max_depth: int) -> UUID:
    """The comment a reply to `parent_id` attaches to. Below the cap, the parent itself; a parent at
    `max_depth` or deeper (the cap may have been lowered) gives way to its ancestor at `max_depth - 1`,
    named by the parent's stored path, so the reply lands at `max_depth` as a sibling in that subtree and
    a thread can never be deeper than the cap however long a reply chain grows."""
    if parent_depth < max_depth:
        return parent_id
    return path_ancestor(parent_path, max_depth - 1)


def path_ancestor(path: str, depth: int) -> UUID:
    """The id of the comment at `depth` on `path` (0 is the top-level comment); ValueError when the
    path has no well-formed element there."""
    if depth < 0:
        raise ValueError("depth must not be negative")
    element = path[depth * PATH_ELEMENT_LENGTH:(depth + 1) * PATH_ELEMENT_LENGTH]
    if not _PATH_ELEMENT.fullmatch(element):
        raise ValueError(f"no path element at depth {depth}")
    return UUID(element[20:])


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
