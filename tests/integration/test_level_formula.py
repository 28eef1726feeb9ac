"""The corrected level formula, at every boundary (schema-notes, defect 3)."""

from __future__ import annotations

import asyncpg
import pytest


@pytest.mark.parametrize(("xp", "level"), [(0, 1), (999, 1), (1000, 2), (2999, 2), (3000, 3), (6999, 3),
                                           (7000, 4), (14999, 4), (15000, 5)])
async def test_calculate_user_level_boundaries(owner_conn: asyncpg.Connection, xp: int, level: int) -> None:
    assert await owner_conn.fetchval("SELECT public.calculate_user_level($1)", xp) == level
