"""Search: `GET /api/search`, posts, comments, lessons and live sessions by their words, best first.

Signed-in callers only, as the feed, the threads and the sessions are. The search runs in the caller's
transaction, in a function that applies the tables' visibility rules for that caller itself (PostgreSQL does
not use the GIN index under row security; `persistence.search`), so it finds what those routes show; lessons
match on title and description,
never on their (plan-gated) content. When the full-text search finds nothing for a first page and the
database has `pg_trgm` installed (detected once per process, logged), titles close to the words are the
answer instead: typo tolerance (docs/search.md).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import asyncpg
import msgspec
from litestar import get
from litestar.params import QueryParameter

from hub.auth import AppServices, Caller
from hub.budgets import SEARCHES, spend
from hub.errors import ValidationFailed
from hub.pagination import CursorQuery, Page, check_limit, cursor_key, page_of
from hub.rules.search import (
    MARK_END,
    MARK_START,
    MAX_QUERY_LENGTH,
    MAX_QUERY_WORDS,
    prefix_tsquery,
    query_words,
    safe_snippet,
)
from hub.services import Services
from persistence import search as search_sql

log = logging.getLogger("hub.search")

SearchType = Literal["comment", "lesson", "post", "session"]
# A rank is a float4 ≥ 0: a cursor holding anything outside that range was not issued here.
Rank = Annotated[float, msgspec.Meta(ge=0, le=1e38)]


class SearchHit(msgspec.Struct):
    type: SearchType
    id: UUID
    title: str | None  # the post's, lesson's or session's title; None for a comment
    snippet: str  # HTML-escaped text, the matched words in <mark>…</mark>
    rank: float
    post_id: UUID | None  # a comment's post
    created_at: datetime


@get("/api/search", tags=["search"])
async def search(
    user: Caller,
    services: AppServices,
    q: Annotated[str, QueryParameter(min_length=1, max_length=MAX_QUERY_LENGTH)],
    type: Annotated[SearchType | None, QueryParameter()] = None,
    limit: Annotated[int | None, QueryParameter()] = None,
    cursor: CursorQuery = None,
) -> Page[SearchHit]:
    size = check_limit(limit)
    words = query_words(q)
    if len(words) > MAX_QUERY_WORDS:
        raise ValidationFailed({"q": f"has more than {MAX_QUERY_WORDS} words"})
    after = cursor_key(cursor, tuple[Rank, SearchType, UUID])
    await spend(services, SEARCHES, str(user.require_user_id()))
    if not words:
        return Page(items=[], next_cursor=None)
    try:
        async with services.db.transaction(user) as conn:
            rows = await search_sql.search(conn, prefix_tsquery(words), after, kind=type, limit=size + 1,
                                           markers=(MARK_START, MARK_END))
            if not rows and after is None and type != "comment" and await _typos_tolerated(services, conn):
                # One page only, no cursor: these rows are the answer when nothing matched the words as typed.
                rows = (await search_sql.fuzzy_titles(conn, words, kind=type, limit=size))
    except search_sql.SearchTooBroad:
        raise ValidationFailed({"q": "matches too much to rank in time: type more of it"}) from None
    hits = [SearchHit(type=row["type"], id=row["id"], title=row["title"], snippet=safe_snippet(row["snippet"]),
                      rank=row["rank"], post_id=row["post_id"], created_at=row["created_at"]) for row in rows]
    return page_of(hits, size, lambda hit: [hit.rank, hit.type, str(hit.id)])


async def _typos_tolerated(services: Services, conn: asyncpg.Connection) -> bool:
    if services.search_typos is None:
        services.search_typos = await search_sql.trigrams_installed(conn)
        log.info("search typo tolerance %s (pg_trgm %s)", "on" if services.search_typos else "off",
                 "installed" if services.search_typos else "not installed")
    return services.search_typos


ROUTES = [search]
