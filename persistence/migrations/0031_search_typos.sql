-- 0031: typo-tolerant fallback of search, by trigram similarity of titles, used only where `pg_trgm` is
-- installed. The hub creates no extension (core PostgreSQL only); a deployment may install pg_trgm, before
-- or after this migration. So the function exists either way and looks for the extension when called:
-- without it, it returns no row. `similarity()`/`word_similarity()` are then resolved at run time, inside a
-- constant SQL text run by EXECUTE … USING (plpgsql checks no name of an EXECUTE text at CREATE time, which
-- is what lets this body be created without the extension); the input travels as parameters only.
-- Only an extension in `public` counts: the function keeps the definer functions' search path (pg_catalog,
-- public, pg_temp), so on Supabase, whose dashboard installs into `extensions`, install it `SCHEMA public`.
--
-- Titles only (posts, lessons, sessions; not comments, not bodies) to keep the scan cheap: there is no
-- trigram index (it would need the extension at migration time), so this reads every title, and runs only
-- when the full-text search found nothing. Every word of $1 must be close to a word of the title:
-- word_similarity ≥ 0.5 (one dropped letter in a 7-letter word scores 0.57, under pg_trgm's 0.6 for `<%`).
-- Same visibility as public.search_content, in the same structure: posts not hidden unless the caller's
-- own (or an admin's view), no post by an author the caller blocks; lessons active (admins: all);
-- sessions, all. Rank 0 for each row (below any full-text match); order: similarity, then type, id.
-- $2 the row limit, $3 the type
-- (NULL = every type). Signed-in users only, as search_content.
CREATE FUNCTION public.search_titles_fuzzy(text[], integer, text)
    RETURNS TABLE (type text, id uuid, title text, rank real, post_id uuid, created_at timestamptz,
                   snippet text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $fn$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension
                   WHERE extname = 'pg_trgm' AND extnamespace = 'public'::regnamespace) THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $sql$
    WITH viewer AS (SELECT public.is_admin() OR auth.role() = 'service_role' AS admin),
    titles AS (
      SELECT 'lesson'::text AS type, l.id, l.title, l.created_at
      FROM public.lessons l, viewer r
      WHERE ($3::text IS NULL OR $3 = 'lesson') AND (l.is_active OR r.admin)
      UNION ALL
      SELECT 'post', p.id, p.title, p.created_at
      FROM public.community_posts p, viewer r
      WHERE ($3::text IS NULL OR $3 = 'post')
        AND (p.hidden_at IS NULL OR p.author_id = auth.uid() OR r.admin)
        AND NOT EXISTS (SELECT FROM public.user_blocks b WHERE b.blocker_id = auth.uid()
                        AND b.blocked_id = p.author_id)
      UNION ALL
      SELECT 'session', s.id, s.title, s.created_at
      FROM public.live_sessions s
      WHERE ($3::text IS NULL OR $3 = 'session')
    ),
    scored AS (
      SELECT t.*, (SELECT min(word_similarity(w, t.title)) FROM unnest($1::text[]) AS w) AS score
      FROM titles t
    )
    SELECT scored.type, scored.id, scored.title, 0::real, NULL::uuid, scored.created_at, scored.title
    FROM scored
    WHERE scored.score >= 0.5
    ORDER BY scored.score DESC, scored.type, scored.id
    LIMIT $2
    $sql$ USING $1, $2, $3;
END
$fn$;
REVOKE ALL ON FUNCTION public.search_titles_fuzzy(text[], integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.search_titles_fuzzy(text[], integer, text) TO authenticated, service_role;
