-- 0016: what a client role writes in plain SQL (PostgREST on Supabase) is held to the REST API's limits:
-- the sizes of the request structs (hub/api/*.py) as CHECK constraints, the per-user creation budgets as
-- a trigger, and the reply depth cap in the placement trigger of 0012. REST checks all of these first
-- (422 for sizes, 429 from the Redis budgets); the schema's copies are the backstop for direct writes.
-- docs/security.md ("Writes in SQL") lists them.

-- ---------------------------------------------------------------- sizes
-- Rows written before these limits existed are brought within them here, before each constraint is added
-- (and validated) in one step: the migration is one transaction, so adding NOT VALID and validating later
-- in the same transaction would hold the same ACCESS EXCLUSIVE lock for the same scan and gain nothing.
-- Text is cut to its limit (the first characters are what readers saw first); an empty required text
-- gets a placeholder; a value outside a fixed list gets the column's default.

-- Posts (PostIn / PostPatch): title 1-300, content up to 20,000, category up to 100, at most 10 tags of up
-- to 50 characters.
UPDATE public.community_posts SET title = CASE WHEN title = '' THEN '(untitled)' ELSE left(title, 300) END
WHERE char_length(title) NOT BETWEEN 1 AND 300;
UPDATE public.community_posts SET content = left(content, 20000) WHERE char_length(content) > 20000;
UPDATE public.community_posts SET category = left(category, 100) WHERE char_length(category) > 100;
UPDATE public.community_posts
SET tags = ARRAY(SELECT left(t, 50) FROM unnest(tags[1:10]) WITH ORDINALITY AS u(t, n) ORDER BY n)
WHERE cardinality(tags) > 10 OR EXISTS (SELECT FROM unnest(tags) t WHERE char_length(t) > 50);

-- An array's elements cannot be checked with a subquery in a CHECK: this immutable helper can. A CHECK runs
-- its functions as the writer, so the client roles may execute it; they cannot call it by name (no USAGE
-- on `private`), and it reads nothing anyway.
CREATE FUNCTION private.text_items_fit(items text[], max_items integer, min_length integer, max_length integer)
    RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog
AS $$
    SELECT items IS NULL
        OR (cardinality(items) <= max_items
            AND NOT EXISTS (SELECT FROM unnest(items) t
                            WHERE t IS NULL OR char_length(t) NOT BETWEEN min_length AND max_length))
$$;
REVOKE ALL ON FUNCTION private.text_items_fit(text[], integer, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION private.text_items_fit(text[], integer, integer, integer)
    TO anon, authenticated, service_role;

ALTER TABLE public.community_posts
    ADD CONSTRAINT community_posts_title_length CHECK (char_length(title) BETWEEN 1 AND 300),
    ADD CONSTRAINT community_posts_content_length CHECK (char_length(content) <= 20000),
    ADD CONSTRAINT community_posts_category_length CHECK (char_length(category) <= 100),
    ADD CONSTRAINT community_posts_tags_fit CHECK (private.text_items_fit(tags, 10, 0, 50));

-- Comments (CommentIn / CommentPatch): 1-10,000.
UPDATE public.community_comments SET content = CASE WHEN content = '' THEN '(empty)' ELSE left(content, 10000) END
WHERE char_length(content) NOT BETWEEN 1 AND 10000;
ALTER TABLE public.community_comments
    ADD CONSTRAINT community_comments_content_length CHECK (char_length(content) BETWEEN 1 AND 10000);

-- Profiles, written through public.my_profile (ProfilePatch): full_name up to 200, bio up to 2,000,
-- timezone up to 64 (REST also checks it names a zone), preferred_language 2-16, trading_experience one
-- of four, at most 20 trading goals of up to 200 characters.
UPDATE public.user_profiles SET full_name = left(full_name, 200) WHERE char_length(full_name) > 200;
UPDATE public.user_profiles SET bio = left(bio, 2000) WHERE char_length(bio) > 2000;
UPDATE public.user_profiles SET timezone = 'UTC' WHERE char_length(timezone) > 64;
UPDATE public.user_profiles SET preferred_language = 'en'
WHERE char_length(preferred_language) NOT BETWEEN 2 AND 16;
UPDATE public.user_profiles SET trading_experience = 'beginner'
WHERE trading_experience NOT IN ('beginner', 'intermediate', 'advanced', 'professional');
UPDATE public.user_profiles
SET trading_goals = ARRAY(SELECT left(coalesce(g, ''), 200)
                          FROM unnest(trading_goals[1:20]) WITH ORDINALITY AS u(g, n) ORDER BY n)
WHERE NOT private.text_items_fit(trading_goals, 20, 0, 200);
ALTER TABLE public.user_profiles
    ADD CONSTRAINT user_profiles_full_name_length CHECK (char_length(full_name) <= 200),
    ADD CONSTRAINT user_profiles_bio_length CHECK (char_length(bio) <= 2000),
    ADD CONSTRAINT user_profiles_timezone_length CHECK (char_length(timezone) <= 64),
    ADD CONSTRAINT user_profiles_preferred_language_length CHECK (char_length(preferred_language) BETWEEN 2 AND 16),
    ADD CONSTRAINT user_profiles_trading_experience_known
        CHECK (trading_experience IN ('beginner', 'intermediate', 'advanced', 'professional')),
    ADD CONSTRAINT user_profiles_trading_goals_fit CHECK (private.text_items_fit(trading_goals, 20, 0, 200));

-- Live sessions, written by hosts (SessionIn / SessionPatch): title 1-200, description up to 5,000, at most
-- 20 tags of 1-50 characters, capacity up to 100,000, at most 24 hours long, prerequisites an object of
-- `min_level` and at most 100 `required_lessons`. (Links: 0015.)
UPDATE public.live_sessions SET title = CASE WHEN title = '' THEN '(untitled)' ELSE left(title, 200) END
WHERE char_length(title) NOT BETWEEN 1 AND 200;
UPDATE public.live_sessions SET description = left(description, 5000) WHERE char_length(description) > 5000;
UPDATE public.live_sessions
SET tags = ARRAY(SELECT left(t, 50) FROM unnest(tags) WITH ORDINALITY AS u(t, n)
                 WHERE t <> '' ORDER BY n LIMIT 20)
WHERE NOT private.text_items_fit(tags, 20, 1, 50);
UPDATE public.live_sessions SET max_participants = 100000 WHERE max_participants > 100000;
UPDATE public.live_sessions SET duration = interval '24 hours' WHERE duration > interval '24 hours';
UPDATE public.live_sessions SET prerequisites = NULL
WHERE jsonb_typeof(prerequisites) IS DISTINCT FROM 'object'
   OR prerequisites - 'min_level' - 'required_lessons' <> '{}'::jsonb
   OR octet_length(prerequisites::text) > 8192;
ALTER TABLE public.live_sessions
    ADD CONSTRAINT live_sessions_title_length CHECK (char_length(title) BETWEEN 1 AND 200),
    ADD CONSTRAINT live_sessions_description_length CHECK (char_length(description) <= 5000),
    ADD CONSTRAINT live_sessions_tags_fit CHECK (private.text_items_fit(tags, 20, 1, 50)),
    ADD CONSTRAINT live_sessions_capacity_bound CHECK (max_participants <= 100000),
    ADD CONSTRAINT live_sessions_duration_bound CHECK (duration <= interval '24 hours'),
    -- 100 uuids and a level fit in 4 KB of JSON; the byte bound keeps a key's value from being a blob.
    ADD CONSTRAINT live_sessions_prerequisites_shape CHECK (
        jsonb_typeof(prerequisites) = 'object'
        AND prerequisites - 'min_level' - 'required_lessons' = '{}'::jsonb
        AND octet_length(prerequisites::text) <= 8192);

-- ---------------------------------------------------------------- the hub's limits, as the database sees them
-- The hub writes these at startup (persistence/hub_settings.py), scaled by RATE_LIMIT_SCALE as
-- its REST budgets are; the defaults are the settings' defaults, for a database no hub has started on.
ALTER TABLE private.hub_settings
    ADD COLUMN posts_per_hour bigint NOT NULL DEFAULT 20 CHECK (posts_per_hour >= 1),
    ADD COLUMN comments_per_hour bigint NOT NULL DEFAULT 120 CHECK (comments_per_hour >= 1),
    ADD COLUMN votes_per_minute bigint NOT NULL DEFAULT 60 CHECK (votes_per_minute >= 1),
    ADD COLUMN max_reply_depth integer NOT NULL DEFAULT 10 CHECK (max_reply_depth BETWEEN 1 AND 20);

-- ---------------------------------------------------------------- creation budgets
-- What the budget counts: the writer's rows created in the window, newest first. Posts have theirs
-- (idx_posts_author_created, 0004); the comments one also serves every lookup by author alone.
CREATE INDEX idx_comments_author_created ON public.community_comments (author_id, created_at);
DROP INDEX public.idx_comments_author;
CREATE INDEX idx_votes_user_created ON public.community_votes (user_id, created_at);

-- A client role (the trigger's WHEN) creating a post, comment or vote past its budget is refused with
-- SQLSTATE HB429, DETAIL the whole seconds until the oldest counted row leaves the window (the hub answers
-- 429 rate_limited with that Retry-After). Rows are counted up to the budget only, on the index above; a
-- per-writer transaction lock makes concurrent inserts by one writer count each other. Rows inserted
-- earlier in the same statement (INSERT ... SELECT) are visible here and count too. Clients cannot set
-- `created_at` (no column grant), so they cannot date a row out of the window.
-- Session messages have no budget here: no client role may insert them (the hub writes them as
-- service_role, behind ROOM_MESSAGE_RATE_PER_MINUTE).
CREATE FUNCTION public.enforce_creation_budget() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    writer uuid;
    budget bigint;
    window_length interval;
    oldest_counted timestamptz;
BEGIN
    IF TG_TABLE_NAME = 'community_posts' THEN
        writer := NEW.author_id;
        SELECT posts_per_hour, interval '1 hour' INTO budget, window_length FROM private.hub_settings;
    ELSIF TG_TABLE_NAME = 'community_comments' THEN
        writer := NEW.author_id;
        SELECT comments_per_hour, interval '1 hour' INTO budget, window_length FROM private.hub_settings;
    ELSE
        writer := NEW.user_id;
        SELECT votes_per_minute, interval '1 minute' INTO budget, window_length FROM private.hub_settings;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('creation-budget:' || TG_TABLE_NAME || ':' || writer::text, 0));
    IF TG_TABLE_NAME = 'community_posts' THEN
        SELECT created_at INTO oldest_counted FROM public.community_posts
        WHERE author_id = writer AND created_at > now() - window_length
        ORDER BY created_at DESC OFFSET budget - 1 LIMIT 1;
    ELSIF TG_TABLE_NAME = 'community_comments' THEN
        SELECT created_at INTO oldest_counted FROM public.community_comments
        WHERE author_id = writer AND created_at > now() - window_length
        ORDER BY created_at DESC OFFSET budget - 1 LIMIT 1;
    ELSE
        SELECT created_at INTO oldest_counted FROM public.community_votes
        WHERE user_id = writer AND created_at > now() - window_length
        ORDER BY created_at DESC OFFSET budget - 1 LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'creation budget of % exceeded: % per %', TG_TABLE_NAME, budget, window_length
            USING ERRCODE = 'HB429',
                  DETAIL = greatest(1, ceil(extract(epoch FROM oldest_counted + window_length - now())))::text;
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION public.enforce_creation_budget() FROM PUBLIC, anon, authenticated;

CREATE TRIGGER trg_community_posts_budget BEFORE INSERT ON public.community_posts
    FOR EACH ROW WHEN (current_user IN ('anon', 'authenticated'))
    EXECUTE FUNCTION public.enforce_creation_budget();
CREATE TRIGGER trg_community_comments_budget BEFORE INSERT ON public.community_comments
    FOR EACH ROW WHEN (current_user IN ('anon', 'authenticated'))
    EXECUTE FUNCTION public.enforce_creation_budget();
CREATE TRIGGER trg_community_votes_budget BEFORE INSERT ON public.community_votes
    FOR EACH ROW WHEN (current_user IN ('anon', 'authenticated'))
    EXECUTE FUNCTION public.enforce_creation_budget();

-- ---------------------------------------------------------------- reply depth: MAX_REPLY_DEPTH, not only 20
-- As 0012's, but a reply to a comment at the configured depth attaches to that comment's ancestor one level
-- up, so it lands at the configured depth (the hub's rule, hub.rules.threads), for writers in plain SQL too.
-- Each path element is 56 characters, its id the last 36.
CREATE OR REPLACE FUNCTION public.community_comments_place() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    parent record;
    max_depth integer := coalesce((SELECT max_reply_depth FROM private.hub_settings), 10);
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
    IF parent.depth >= max_depth THEN
        NEW.parent_comment_id := substr(parent.sort_path, (max_depth - 1) * 56 + 21, 36)::uuid;
        NEW.depth := max_depth;
        NEW.sort_path := left(parent.sort_path, max_depth * 56) || private.comment_path_element(NEW.created_at, NEW.id);
    ELSE
        NEW.depth := parent.depth + 1;
        NEW.sort_path := parent.sort_path || private.comment_path_element(NEW.created_at, NEW.id);
    END IF;
    RETURN NEW;
END
$$;
