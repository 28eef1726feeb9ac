"""Levels for tests that insert lessons straight into the table. `(level_id, gate_id)` is unique and the whole
run shares one database, so a test that picks its own level (often with gate 1) must not land on another test's:
each draw comes from a range above every level the REST API accepts (at most 1,000,000, so no lesson a test
creates through the API lands there) and wide enough that two draws meet about once in a million runs."""

from __future__ import annotations

import secrets

FIRST = 10_000_000
LAST = 2**31 - 1  # lessons.level_id is an integer


def unique_levels(count: int) -> range:
    """`count` consecutive levels no other test holds."""
    start = FIRST + secrets.randbelow(LAST - FIRST - count)
    return range(start, start + count)


def unique_level() -> int:
    return unique_levels(1)[0]
