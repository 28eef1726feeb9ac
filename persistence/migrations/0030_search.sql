-- 0030: full-text search over posts, comments, lessons (title and description only) and live sessions.
--
-- One text-search configuration, `simple`, for documents and queries alike: it lower-cases and does not
-- stem, so an as-you-type prefix query matches what was typed ("tradi:*" finds "trading"; under
-- `english` the document holds the stem "trade" and the prefix "tradi" misses it). Core PostgreSQL only.
-- The vectors are generated columns, kept by the database on every write (redaction included); title
-- weight A, body weight B. Reads run as the caller, so RLS decides what is found: each vector is
-- derived only from columns its readers may already read, and is granted SELECT to exactly them.
-- Generated columns cannot be written, so no INSERT/UPDATE grant is involved.

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

-- community_posts has a table-wide SELECT grant to authenticated (0008), which covers the new column.
GRANT SELECT (search_vector) ON public.community_comments TO authenticated;
GRANT SELECT (search_vector) ON public.lessons TO anon, authenticated;
GRANT SELECT (search_vector) ON public.live_sessions TO authenticated;
