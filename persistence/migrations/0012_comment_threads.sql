-- 0012: a comment's place in its thread is stored when it is written, so a thread page is an index
-- range scan instead of a walk over the whole tree (which cost O(depth²) per page).
--
-- `sort_path` is the comment's ancestors' path elements followed by its own, each element
-- `YYYYMMDDHH24MISSUS` (UTC) || id: 56 characters, fixed width, so byte order ("C" collation) of the
-- concatenation is depth-first display order with siblings by (created_at, id) (`hub.rules.threads`).
-- `depth` is the number of ancestors. Both are server-owned: the BEFORE INSERT trigger below always
-- computes them from the parent's stored values, and no client role is granted INSERT or UPDATE on
-- them (0008 grants INSERT (post_id, author_id, parent_comment_id, content), UPDATE (content, is_deleted)).
--
-- The hub caps reply depth at MAX_REPLY_DEPTH (at most 20) before inserting; the CHECK is the schema's
-- own bound for writers that bypass the hub, and keeps every index entry far below btree's limit
-- (21 × 56 bytes). Existing replies deeper than 20 are re-attached the way the hub attaches a reply
-- past its cap: to their ancestor at depth 19, so they land at depth 20 as siblings there.

-- STABLE, as to_char is (only its locale-dependent patterns vary; these digits never do).
CREATE FUNCTION private.comment_path_element(created_at timestamptz, id uuid) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog
AS $$
    SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISSUS') || id::text
$$;
REVOKE ALL ON FUNCTION private.comment_path_element(timestamptz, uuid) FROM PUBLIC;

ALTER TABLE public.community_comments
    ADD COLUMN sort_path text COLLATE "C",
    ADD COLUMN depth smallint;

-- The old schema let a reply sit on another post than its parent; such a reply becomes a top-level comment
-- of its own post (its place cannot be under a comment of another thread). Not an edit of its content.
ALTER TABLE public.community_comments DISABLE TRIGGER trg_community_comments_updated_at;
UPDATE public.community_comments c
SET parent_comment_id = NULL
FROM public.community_comments parent
WHERE parent.id = c.parent_comment_id AND parent.post_id <> c.post_id;
ALTER TABLE public.community_comments ENABLE TRIGGER trg_community_comments_updated_at;

-- Backfill. Paths are built with the depth bound applied on the way down, so even a chain thousands
-- deep costs linear work here (no path grows past 21 elements).
CREATE TEMPORARY TABLE comment_places ON COMMIT DROP AS
WITH RECURSIVE placed (id, parent_id, depth, sort_path) AS (
    SELECT c.id, NULL::uuid, 0, private.comment_path_element(c.created_at, c.id) COLLATE "C"
    FROM public.community_comments c
    WHERE c.parent_comment_id IS NULL
  UNION ALL
    SELECT c.id,
           CASE WHEN p.depth < 20 THEN p.id ELSE substr(p.sort_path, 19 * 56 + 21, 36)::uuid END,
           least(p.depth + 1, 20),
           (left(p.sort_path, least(p.depth + 1, 20) * 56) || private.comment_path_element(c.created_at, c.id))
               COLLATE "C"
    FROM placed p JOIN public.community_comments c ON c.parent_comment_id = p.id
)
SELECT id, parent_id, depth, sort_path FROM placed;

-- Filling the new columns is not an edit: no column of the updated_at trigger is set here.
UPDATE public.community_comments c
SET depth = p.depth, sort_path = p.sort_path
FROM comment_places p
WHERE c.id = p.id;

-- Only replies that were deeper than 20 move; moving one is not an edit of its content either.
ALTER TABLE public.community_comments DISABLE TRIGGER trg_community_comments_updated_at;
UPDATE public.community_comments c
SET parent_comment_id = p.parent_id
FROM comment_places p
WHERE c.id = p.id AND c.parent_comment_id IS DISTINCT FROM p.parent_id;
ALTER TABLE public.community_comments ENABLE TRIGGER trg_community_comments_updated_at;

ALTER TABLE public.community_comments
    ALTER COLUMN sort_path SET NOT NULL,
    ALTER COLUMN depth SET NOT NULL,
    ADD CONSTRAINT community_comments_depth_bound CHECK (depth BETWEEN 0 AND 20);

-- A thread page and the votes snapshot: WHERE post_id = $1 AND sort_path > $2 ORDER BY sort_path LIMIT n.
CREATE INDEX idx_comments_post_sort_path ON public.community_comments (post_id, sort_path);

-- SECURITY DEFINER: the parent's stored place must be readable whatever the caller's column grants.
CREATE FUNCTION public.community_comments_place() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
AS $$
DECLARE
    parent record;
BEGIN
    IF NEW.parent_comment_id IS NULL THEN
        NEW.depth := 0;
        NEW.sort_path := private.comment_path_element(NEW.created_at, NEW.id);
        RETURN NEW;
    END IF;
    SELECT c.post_id, c.depth, c.sort_path INTO parent
    FROM public.community_comments c WHERE c.id = NEW.parent_comment_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'parent comment % does not exist', NEW.parent_comment_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF parent.post_id <> NEW.post_id THEN
        RAISE EXCEPTION 'a reply must be in its parent''s post' USING ERRCODE = 'check_violation';
    END IF;
    NEW.depth := parent.depth + 1;
    NEW.sort_path := parent.sort_path || private.comment_path_element(NEW.created_at, NEW.id);
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION public.community_comments_place() FROM PUBLIC, anon, authenticated;

CREATE TRIGGER trg_community_comments_place BEFORE INSERT ON public.community_comments
    FOR EACH ROW EXECUTE FUNCTION public.community_comments_place();

-- The stored place is only right while what it was computed from stays put.
CREATE FUNCTION public.community_comments_place_fixed() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog
AS $$
BEGIN
    RAISE EXCEPTION 'a comment''s post, parent, creation time and place in its thread are fixed'
        USING ERRCODE = 'check_violation';
END
$$;
REVOKE ALL ON FUNCTION public.community_comments_place_fixed() FROM PUBLIC, anon, authenticated;

CREATE TRIGGER trg_community_comments_place_fixed
    BEFORE UPDATE OF post_id, parent_comment_id, created_at, sort_path, depth ON public.community_comments
    FOR EACH ROW
    WHEN (OLD.post_id IS DISTINCT FROM NEW.post_id OR OLD.parent_comment_id IS DISTINCT FROM NEW.parent_comment_id
          OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.sort_path IS DISTINCT FROM NEW.sort_path
          OR OLD.depth IS DISTINCT FROM NEW.depth)
    EXECUTE FUNCTION public.community_comments_place_fixed();
