-- 0030: full-text search over posts, comments, lessons (title and description only) and live sessions.
--
-- One text-search configuration, `simple`, for documents and queries alike: it lower-cases and does not
-- stem, so an as-you-type prefix query matches what was typed ("tradi:*" finds "trading"; under
-- `english` the document holds the stem "trade" and the prefix "tradi" misses it). Core PostgreSQL only.
-- The vectors are generated columns, kept by the database on every write (redaction included); title
-- weight A, body weight B. Generated columns cannot be written by anyone.

ALTER TABLE public.community_posts ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple'::regconfig, title), 'A')
    || setweight(to_tsvector('simple'::regconfig, coalesce(content, '')), 'B')) STORED;
ALTER TABLE public.community_comments ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple'::regconfig, content), 'B')) STORED;
-- Not content_data: lesson bodies are plan-gated, their titles and descriptions are the public catalogue.
ALTER TABLE public.lessons ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple'::regconfig, title), 'A')
    || setweight(to_tsvector('simple'::regconfig, coalesce(description, '')), 'B')) STORED;
ALTER TABLE public.live_sessions ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple'::regconfig, title), 'A')
    || setweight(to_tsvector('simple'::regconfig, coalesce(description, '')), 'B')) STORED;

CREATE INDEX idx_posts_search ON public.community_posts USING gin (search_vector);
CREATE INDEX idx_comments_search ON public.community_comments USING gin (search_vector);
CREATE INDEX idx_lessons_search ON public.lessons USING gin (search_vector);
CREATE INDEX idx_live_sessions_search ON public.live_sessions USING gin (search_vector);

-- Search runs in this SECURITY DEFINER function, not under the caller's RLS: `@@` is not leakproof, so
-- under a row-security policy the planner may not use it as an index condition and scans every row
-- (checked by tests/integration/test_search_explain.py). The function applies the same visibility as
-- the policies and the REST pages instead, for the caller of the transaction (auth.uid(), is_admin()):
-- posts and comments not hidden unless the caller's own (or an admin); comments not deleted and on such
-- a post; lessons active (admins: all), matched on title and description only, never content_data;
-- sessions, like every signed-in user reads them; no post or comment by an author the caller blocks.
-- Signed-in users only (as GET /api/search): anon reads none of posts, comments or sessions.
-- The vectors stay ungranted to anon and authenticated on comments, lessons and sessions (posts have a
-- table-wide SELECT grant since 0008, so their vector is readable there: it says nothing the title and
-- content do not). Parameters: $1 tsquery text (`simple`), $2-$4 the keyset bound (rank, type, id; NULL
-- rank = first page) in the order rank DESC, type, id, $5 the row limit (per type and in all), $6 the
-- type (NULL = every type; its branches are gated by one-time filters), $7/$8 the highlight markers,
-- removed from the text before the headline so each one in a snippet is a real match. Positional
-- parameters, so the body (pg_proc.prosrc) can be EXPLAINed as it is.
CREATE FUNCTION public.search_content(text, real, text, uuid, integer, text, text, text)
    RETURNS TABLE (type text, id uuid, title text, rank real, post_id uuid, created_at timestamptz,
                   snippet text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
    WITH viewer AS (SELECT public.is_admin() OR auth.role() = 'service_role' AS admin),
    hits AS (
      (SELECT 'comment'::text AS type, c.id, NULL::text AS title, c.content AS body,
              ts_rank_cd(c.search_vector, to_tsquery('simple', $1))::real AS rank, c.post_id, c.created_at
       FROM public.community_comments c, viewer r
       WHERE ($6::text IS NULL OR $6 = 'comment') AND c.search_vector @@ to_tsquery('simple', $1) AND NOT c.is_deleted
         AND (c.hidden_at IS NULL OR c.author_id = auth.uid() OR r.admin)
         AND ($2::real IS NULL OR ts_rank_cd(c.search_vector, to_tsquery('simple', $1))::real < $2
              OR (ts_rank_cd(c.search_vector, to_tsquery('simple', $1))::real = $2 AND ('comment', c.id) > ($3::text, $4::uuid)))
         AND EXISTS (SELECT FROM public.community_posts p WHERE p.id = c.post_id
                     AND (p.hidden_at IS NULL OR p.author_id = auth.uid() OR r.admin))
         AND NOT EXISTS (SELECT FROM public.user_blocks b WHERE b.blocker_id = auth.uid()
                         AND b.blocked_id = c.author_id OFFSET 0)
       ORDER BY 5 DESC, 2 LIMIT $5)
      UNION ALL
      (SELECT 'lesson', l.id, l.title, l.description, ts_rank_cd(l.search_vector, to_tsquery('simple', $1))::real, NULL, l.created_at
       FROM public.lessons l, viewer r
       WHERE ($6::text IS NULL OR $6 = 'lesson') AND l.search_vector @@ to_tsquery('simple', $1)
         AND (l.is_active OR r.admin)
         AND ($2::real IS NULL OR ts_rank_cd(l.search_vector, to_tsquery('simple', $1))::real < $2
              OR (ts_rank_cd(l.search_vector, to_tsquery('simple', $1))::real = $2 AND ('lesson', l.id) > ($3::text, $4::uuid)))
       ORDER BY 5 DESC, 2 LIMIT $5)
      UNION ALL
      (SELECT 'post', p.id, p.title, p.content, ts_rank_cd(p.search_vector, to_tsquery('simple', $1))::real, NULL, p.created_at
       FROM public.community_posts p, viewer r
       WHERE ($6::text IS NULL OR $6 = 'post') AND p.search_vector @@ to_tsquery('simple', $1)
         AND (p.hidden_at IS NULL OR p.author_id = auth.uid() OR r.admin)
         AND ($2::real IS NULL OR ts_rank_cd(p.search_vector, to_tsquery('simple', $1))::real < $2
              OR (ts_rank_cd(p.search_vector, to_tsquery('simple', $1))::real = $2 AND ('post', p.id) > ($3::text, $4::uuid)))
         AND NOT EXISTS (SELECT FROM public.user_blocks b WHERE b.blocker_id = auth.uid()
                         AND b.blocked_id = p.author_id OFFSET 0)
       ORDER BY 5 DESC, 2 LIMIT $5)
      UNION ALL
      (SELECT 'session', s.id, s.title, s.description, ts_rank_cd(s.search_vector, to_tsquery('simple', $1))::real, NULL, s.created_at
       FROM public.live_sessions s, viewer r
       WHERE ($6::text IS NULL OR $6 = 'session') AND s.search_vector @@ to_tsquery('simple', $1)
         AND ($2::real IS NULL OR ts_rank_cd(s.search_vector, to_tsquery('simple', $1))::real < $2
              OR (ts_rank_cd(s.search_vector, to_tsquery('simple', $1))::real = $2 AND ('session', s.id) > ($3::text, $4::uuid)))
       ORDER BY 5 DESC, 2 LIMIT $5)
    ),
    page AS (SELECT * FROM hits ORDER BY rank DESC, type, id LIMIT $5)
    SELECT page.type, page.id, page.title, page.rank, page.post_id, page.created_at,
           ts_headline('simple',
                       translate(concat_ws(' — ', page.title, page.body), $7 || $8, ''),
                       to_tsquery('simple', $1),
                       'StartSel=' || $7 || ', StopSel=' || $8 || ', MaxWords=30, MinWords=10, MaxFragments=2')
               AS snippet
    FROM page
    ORDER BY page.rank DESC, page.type, page.id
$$;
REVOKE ALL ON FUNCTION public.search_content(text, real, text, uuid, integer, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.search_content(text, real, text, uuid, integer, text, text, text)
    TO authenticated, service_role;
