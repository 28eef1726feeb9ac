"""Full-text search over posts, comments, lessons and live sessions.

The statement is the SECURITY DEFINER function `public.search_content` (migration 0030, which says why it
is not run under RLS and which visibility it applies instead, for the transaction's caller). Each type's
branch applies the keyset bound and its own limit before the union, so the union holds the global next
page. Ranks are `real`, and travel through the cursor exactly (a float4 is a double, and back).

The typo-tolerant fallback is `public.search_titles_fuzzy` (migration 0031): trigram similarity of titles,
where the deployment installed `pg_trgm`.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

SEARCH = """
SELECT type, id, title, rank, post_id, created_at, snippet
FROM public.search_content($1, $2, $3, $4, $5, $6, $7, $8)
"""


# Every match of a query is ranked before the page is cut, so a query matching most rows costs in proportion
# to the table; past this a search is cut short (`SearchTooBroad`) rather than hold a connection and a core.
STATEMENT_TIMEOUT_MS = 2000


class SearchTooBroad(Exception):
    """The search ran past its statement timeout."""


async def search(conn: asyncpg.Connection, query: str, after: tuple[float, str, UUID] | None, *,
                 kind: str | None, limit: int, markers: tuple[str, str],
                 timeout_ms: int = STATEMENT_TIMEOUT_MS) -> list[asyncpg.Record]:
    """One page of matches of the tsquery text `query` (`simple` configuration), best first. Raises
    `SearchTooBroad` past `timeout_ms` (the transaction is then aborted)."""
    bound: tuple[Any, ...] = after if after is not None else (None, None, None)
    await conn.execute("SELECT set_config('statement_timeout', $1, true)", str(timeout_ms))
    try:
        return list(await conn.fetch(SEARCH, query, *bound, limit, kind, *markers))
    except asyncpg.QueryCanceledError:
        raise SearchTooBroad() from None


# In `public` only: where search_titles_fuzzy finds it (migration 0031).
TRIGRAMS_INSTALLED = """
SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_trgm' AND extnamespace = 'public'::regnamespace)
"""

FUZZY_TITLES = """
SELECT type, id, title, rank, post_id, created_at, snippet
FROM public.search_titles_fuzzy($1, $2, $3)
"""


async def trigrams_installed(conn: asyncpg.Connection) -> bool:
    """Whether the deployment installed `pg_trgm` in `public` (the hub never creates an extension)."""
    return bool(await conn.fetchval(TRIGRAMS_INSTALLED))


async def fuzzy_titles(conn: asyncpg.Connection, words: list[str], *, kind: str | None,
                       limit: int) -> list[asyncpg.Record]:
    """Titles (posts, lessons, sessions) close to every word by trigram similarity, closest first, rank 0
    (migration 0031); no row where `pg_trgm` is not installed."""
    return list(await conn.fetch(FUZZY_TITLES, words, limit, kind))
