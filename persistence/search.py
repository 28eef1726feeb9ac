"""Full-text search over posts, comments, lessons and live sessions.

The statement is the SECURITY DEFINER function `public.search_content` (migration 0030, which says why it
is not run under RLS and which visibility it applies instead, for the transaction's caller). Each type's
branch applies the keyset bound and its own limit before the union, so the union holds the global next
page. Ranks are `real`, and travel through the cursor exactly (a float4 is a double, and back).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

SEARCH = """
SELECT type, id, title, rank, post_id, created_at, snippet
FROM public.search_content($1, $2, $3, $4, $5, $6, $7, $8)
"""


async def search(conn: asyncpg.Connection, query: str, after: tuple[float, str, UUID] | None, *,
                 kind: str | None, limit: int, markers: tuple[str, str]) -> list[asyncpg.Record]:
    """One page of matches of the tsquery text `query` (`simple` configuration), best first."""
    bound: tuple[Any, ...] = after if after is not None else (None, None, None)
    return list(await conn.fetch(SEARCH, query, *bound, limit, kind, *markers))
