"""Full-text search over posts, comments, lessons and live sessions, read as the caller (RLS decides).

The vectors and their GIN indexes are migration 0030's (configuration `simple`, see there). `SEARCH` is
one statement for one type or all: each branch is switched off by `$6` (the type, NULL = every type),
which a custom plan folds away, so a one-type search touches one index only. Each branch applies the
keyset bound and its own limit before the union, so the union holds the global next page: the
rank-ordered rows after the cursor, `$5` of them at most per type. The bound is `(rank, type, id)` after
`($2, $3, $4)` in the order rank DESC, type, id (NULL `$2` = the first page). Ranks are `real`, and
travel through the cursor exactly (a float4 is a double, and back).

Hidden content and inactive lessons are left out by RLS; deleted comments, comments on posts the caller
cannot see and the posts and comments of authors the caller blocked by the statement, as the feed does.
Snippets (`ts_headline`) are computed for the page's rows only; the text goes in with `$7`/`$8` (the
highlight markers) removed, so a marker in the output is always one the headline put there.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

# Indexes: idx_posts_search, idx_comments_search, idx_lessons_search, idx_live_sessions_search.
SEARCH = """
WITH q AS (SELECT to_tsquery('simple', $1) AS q),
hits AS (
  (SELECT 'comment'::text AS type, c.id, NULL::text AS title, c.content AS body,
          ts_rank_cd(c.search_vector, q.q)::real AS rank, c.post_id, c.created_at
   FROM public.community_comments c, q
   WHERE ($6::text IS NULL OR $6 = 'comment') AND c.search_vector @@ q.q AND NOT c.is_deleted
     AND ($2::real IS NULL OR ts_rank_cd(c.search_vector, q.q)::real < $2
          OR (ts_rank_cd(c.search_vector, q.q)::real = $2 AND ('comment', c.id) > ($3::text, $4::uuid)))
     AND EXISTS (SELECT FROM public.community_posts p WHERE p.id = c.post_id)
     AND NOT EXISTS (SELECT FROM public.user_blocks b WHERE b.blocker_id = auth.uid()
                     AND b.blocked_id = c.author_id OFFSET 0)
   ORDER BY 5 DESC, 2 LIMIT $5)
  UNION ALL
  (SELECT 'lesson', l.id, l.title, l.description, ts_rank_cd(l.search_vector, q.q)::real, NULL, l.created_at
   FROM public.lessons l, q
   WHERE ($6::text IS NULL OR $6 = 'lesson') AND l.search_vector @@ q.q
     AND ($2::real IS NULL OR ts_rank_cd(l.search_vector, q.q)::real < $2
          OR (ts_rank_cd(l.search_vector, q.q)::real = $2 AND ('lesson', l.id) > ($3::text, $4::uuid)))
   ORDER BY 5 DESC, 2 LIMIT $5)
  UNION ALL
  (SELECT 'post', p.id, p.title, p.content, ts_rank_cd(p.search_vector, q.q)::real, NULL, p.created_at
   FROM public.community_posts p, q
   WHERE ($6::text IS NULL OR $6 = 'post') AND p.search_vector @@ q.q
     AND ($2::real IS NULL OR ts_rank_cd(p.search_vector, q.q)::real < $2
          OR (ts_rank_cd(p.search_vector, q.q)::real = $2 AND ('post', p.id) > ($3::text, $4::uuid)))
     AND NOT EXISTS (SELECT FROM public.user_blocks b WHERE b.blocker_id = auth.uid()
                     AND b.blocked_id = p.author_id OFFSET 0)
   ORDER BY 5 DESC, 2 LIMIT $5)
  UNION ALL
  (SELECT 'session', s.id, s.title, s.description, ts_rank_cd(s.search_vector, q.q)::real, NULL, s.created_at
   FROM public.live_sessions s, q
   WHERE ($6::text IS NULL OR $6 = 'session') AND s.search_vector @@ q.q
     AND ($2::real IS NULL OR ts_rank_cd(s.search_vector, q.q)::real < $2
          OR (ts_rank_cd(s.search_vector, q.q)::real = $2 AND ('session', s.id) > ($3::text, $4::uuid)))
   ORDER BY 5 DESC, 2 LIMIT $5)
),
page AS (SELECT * FROM hits ORDER BY rank DESC, type, id LIMIT $5)
SELECT page.type, page.id, page.title, page.rank, page.post_id, page.created_at,
       ts_headline('simple',
                   translate(concat_ws(' — ', page.title, page.body), $7 || $8, ''),
                   q.q,
                   'StartSel=' || $7 || ', StopSel=' || $8 || ', MaxWords=30, MinWords=10, MaxFragments=2')
           AS snippet
FROM page, q
ORDER BY page.rank DESC, page.type, page.id
"""


async def search(conn: asyncpg.Connection, query: str, after: tuple[float, str, UUID] | None, *,
                 kind: str | None, limit: int, markers: tuple[str, str]) -> list[asyncpg.Record]:
    """One page of matches of the tsquery text `query`, best first. Custom plans only: a generic plan
    cannot see which branches `$6` switches off."""
    await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
    bound: tuple[Any, ...] = after if after is not None else (None, None, None)
    return list(await conn.fetch(SEARCH, query, *bound, limit, kind, *markers))
