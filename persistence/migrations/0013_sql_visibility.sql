-- 0013: what `anon` and `authenticated` may read and write in plain SQL is exactly what the REST API
-- allows them (on Supabase, PostgREST exposes `public` to the anon key and to every user's JWT).
-- The matrix is in docs/security.md; tests/integration/test_sql_visibility.py checks it row by row.
--
-- Tools: column grants (a role reads only the columns REST shows it on every row it may see); a
-- security_barrier view for the caller's own profile; SECURITY DEFINER functions (search_path pinned,
-- owned by the migration owner, EXECUTE granted by name) where what REST shows depends on the caller:
-- lesson content (the caller's plan), a session's meeting URL (host, admins, seat holders), deleting a
-- comment (author or admin; nobody un-deletes).

-- ---------------------------------------------------------------- functions: nothing by default
-- PostgreSQL grants EXECUTE on every new function to PUBLIC. From here on the migration owner's new
-- functions start with no grant at all, and every existing one in the hub's schemas loses PUBLIC's
-- (trigger functions need none: a trigger fires whoever writes). The few callable ones are granted below.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
-- Supabase grants everything new in `public` to anon and authenticated by default: not here.
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon, authenticated;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM anon, authenticated;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON FUNCTIONS FROM anon, authenticated;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public, realtime, private, billing FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.is_admin(), public.is_host(), public.calculate_user_level(integer)
    TO anon, authenticated, service_role;

-- ---------------------------------------------------------------- the event log: server only
-- A client appending to `realtime.events` could forge any channel's events (another user's `user:`
-- channel included). The hub appends as service_role inside the writer's own transaction
-- (persistence/events.py switches role for the append).
REVOKE EXECUTE ON FUNCTION realtime.append_event(text, text, jsonb) FROM PUBLIC, anon, authenticated;
REVOKE ALL ON SCHEMA realtime FROM PUBLIC, anon, authenticated;
REVOKE ALL ON SCHEMA private, billing FROM PUBLIC, anon, authenticated;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public, realtime, private, billing FROM PUBLIC, anon, authenticated;

-- Notifications on `hub_events` / `hub_state` are trusted by every instance's listener, so sending one is
-- server-owned too (the hub sends them as service_role or from definer triggers). Only the owner of
-- pg_notify (a superuser) can change its grant: on Supabase this is skipped, and PostgREST cannot call
-- pg_catalog functions anyway.
DO $notify$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        REVOKE EXECUTE ON FUNCTION pg_catalog.pg_notify(text, text) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION pg_catalog.pg_notify(text, text) TO service_role;
    ELSE
        RAISE NOTICE 'pg_notify stays executable by PUBLIC: only a superuser can revoke it';
    END IF;
END
$notify$;

-- ---------------------------------------------------------------- the free tier, as the database sees it
-- FREE_TIER_LEVEL is a hub setting; the hub writes it here at startup (persistence/plans.py), so the
-- content function below gives anonymous and plan-less callers exactly the levels REST gives them.
CREATE TABLE private.hub_settings (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    free_tier_level integer NOT NULL DEFAULT 1 CHECK (free_tier_level >= 0)
);
INSERT INTO private.hub_settings DEFAULT VALUES;
ALTER TABLE private.hub_settings ENABLE ROW LEVEL SECURITY;  -- no policies: service_role only
REVOKE ALL ON private.hub_settings FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE ON private.hub_settings TO service_role;

-- The highest lesson level the caller's plan reaches: an active or trialing subscription's plan
-- (the highest of several), never below the free tier (the rule of persistence/plans.py).
-- Internal: called only from the definer function below, so it runs as the owner.
CREATE FUNCTION private.caller_level_access_limit() RETURNS integer
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
AS $$
    SELECT greatest(
        (SELECT free_tier_level FROM private.hub_settings),
        (SELECT max(p.level_access_limit)
         FROM public.user_subscriptions s JOIN public.subscription_plans p ON p.id = s.plan_id
         WHERE s.user_id = auth.uid() AND s.status IN ('active', 'trialing')))
$$;

-- An assessment as learners see it: the questions without their answers or explanations (keys
-- `answer`, `answers`, `correct`, `explanation`; `answers`/`explanations` at the top level too).
-- A `questions` value that is not a list, and list items that are not objects, are dropped.
CREATE FUNCTION private.assessment_for_learners(p_assessment jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog
AS $$
    SELECT CASE
        WHEN p_assessment IS NULL THEN NULL
        WHEN jsonb_typeof(p_assessment) <> 'object' THEN NULL
        WHEN jsonb_typeof(p_assessment -> 'questions') IS DISTINCT FROM 'array' THEN
            p_assessment - 'questions' - 'answers' - 'explanations'
        ELSE jsonb_set(p_assessment - 'answers' - 'explanations', '{questions}', (
            SELECT coalesce(jsonb_agg(q - 'answer' - 'answers' - 'correct' - 'explanation' ORDER BY n), '[]')
            FROM jsonb_array_elements(p_assessment -> 'questions') WITH ORDINALITY AS t(q, n)
            WHERE jsonb_typeof(q) = 'object'))
    END
$$;

-- ---------------------------------------------------------------- lessons: the catalogue, and content by plan
REVOKE SELECT ON public.lessons FROM PUBLIC, anon, authenticated;
GRANT SELECT (id, level_id, gate_id, title, subtitle, description, content_type, xp_reward, estimated_time,
              difficulty, prerequisites, is_active, order_index, created_at, updated_at)
    ON public.lessons TO anon, authenticated;

-- GET /api/lessons/{id} in SQL: the lesson if the caller may see it (active, or any for admins), with
-- `content_data`, the assessment and `created_by` only when `content_allowed` (admins, or the caller's
-- plan reaches the level; 402 otherwise); non-admins get the assessment without answers.
CREATE FUNCTION public.lesson_with_content(p_lesson_id uuid)
    RETURNS TABLE (id uuid, level_id integer, gate_id integer, title text, subtitle text, description text,
                   content_type text, content_data jsonb, assessment_data jsonb, xp_reward integer,
                   estimated_time interval, difficulty text, prerequisites uuid[], is_active boolean,
                   order_index integer, created_by uuid, created_at timestamptz, updated_at timestamptz,
                   content_allowed boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
AS $$
    SELECT l.id, l.level_id, l.gate_id, l.title, l.subtitle, l.description, l.content_type,
           CASE WHEN a.allowed THEN l.content_data END,
           CASE WHEN a.admin THEN l.assessment_data
                WHEN a.allowed THEN private.assessment_for_learners(l.assessment_data) END,
           l.xp_reward, l.estimated_time, l.difficulty, l.prerequisites, l.is_active, l.order_index,
           CASE WHEN a.allowed THEN l.created_by END, l.created_at, l.updated_at, a.allowed
    FROM public.lessons l
    CROSS JOIN LATERAL (SELECT public.is_admin() AS admin) r
    CROSS JOIN LATERAL (SELECT r.admin, r.admin OR l.level_id <= private.caller_level_access_limit() AS allowed) a
    WHERE l.id = p_lesson_id AND (l.is_active OR r.admin)
$$;
REVOKE ALL ON FUNCTION public.lesson_with_content(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.lesson_with_content(uuid) TO anon, authenticated, service_role;

-- ---------------------------------------------------------------- profiles: public fields, own row in full
-- GET /api/profiles/{id} shows these to every signed-in user; the rest (time zone, language, goals,
-- updated_at) only its owner sees, through `my_profile`.
REVOKE SELECT, UPDATE ON public.user_profiles FROM PUBLIC, anon, authenticated;
GRANT SELECT (id, full_name, avatar_url, bio, trading_experience, current_level, total_xp, created_at)
    ON public.user_profiles TO authenticated;
DROP POLICY user_profiles_update_own ON public.user_profiles;

-- The caller's own profile (GET/PATCH /api/profiles/me; service_role, which reads every row anyway, for
-- GET /api/auth/me). Runs with the owner's rights, so the row filter is the whole rule: security_barrier
-- keeps a caller's functions from seeing other rows first.
CREATE VIEW public.my_profile WITH (security_barrier = true) AS
SELECT id, full_name, avatar_url, bio, timezone, preferred_language, trading_experience, trading_goals,
       current_level, total_xp, created_at, updated_at
FROM public.user_profiles
WHERE id = auth.uid() OR auth.role() = 'service_role';
REVOKE ALL ON public.my_profile FROM PUBLIC, anon, authenticated;
GRANT SELECT ON public.my_profile TO authenticated, service_role;
GRANT UPDATE (full_name, avatar_url, bio, timezone, preferred_language, trading_experience, trading_goals)
    ON public.my_profile TO authenticated;

-- ---------------------------------------------------------------- posts: no metadata writes
-- REST neither writes nor shows `metadata`; flags stay guarded by trg_community_posts_moderation.
REVOKE INSERT, UPDATE ON public.community_posts FROM PUBLIC, anon, authenticated;
GRANT INSERT (author_id, title, content, post_type, category, tags) ON public.community_posts TO authenticated;
GRANT UPDATE (title, content, post_type, category, tags, is_pinned, is_locked)
    ON public.community_posts TO authenticated;

-- ---------------------------------------------------------------- comments: edit content, delete by function
-- Authors (and admins) edit the content of a comment that is not deleted; deleting goes through
-- delete_comment(), and nothing un-deletes. No hard DELETE: REST only soft-deletes, and a hard delete
-- would cascade to other users' replies.
REVOKE SELECT, INSERT, UPDATE, DELETE ON public.community_comments FROM PUBLIC, anon, authenticated;
GRANT SELECT (id, post_id, author_id, parent_comment_id, content, upvotes_count, downvotes_count, is_deleted,
              created_at, updated_at)
    ON public.community_comments TO authenticated;
GRANT INSERT (post_id, author_id, parent_comment_id, content) ON public.community_comments TO authenticated;
GRANT UPDATE (content) ON public.community_comments TO authenticated;
DROP POLICY community_comments_delete_own_or_admin ON public.community_comments;
-- A reply belongs to its parent's post (REST answers 422 otherwise).
ALTER POLICY community_comments_insert_own ON public.community_comments
    WITH CHECK (author_id = auth.uid()
                AND EXISTS (SELECT 1 FROM public.community_posts p
                            WHERE p.id = post_id AND (NOT p.is_locked OR public.is_admin())));
ALTER POLICY community_comments_update_own_or_admin ON public.community_comments
    USING ((author_id = auth.uid() OR public.is_admin()) AND NOT is_deleted)
    WITH CHECK (author_id = auth.uid() OR public.is_admin());

-- The thread's server-owned sort columns (migration 0012): readable, never writable.
GRANT SELECT (sort_path, depth) ON public.community_comments TO authenticated;

-- DELETE /api/comments/{id}: the author or an admin soft-deletes (the row and its text stay for
-- moderation). True when this call deleted it.
CREATE FUNCTION public.delete_comment(p_comment_id uuid) RETURNS boolean
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public
AS $$
    WITH deleted AS (
        UPDATE public.community_comments
           SET is_deleted = true
         WHERE id = p_comment_id AND NOT is_deleted AND (author_id = auth.uid() OR public.is_admin())
        RETURNING 1
    )
    SELECT EXISTS (SELECT FROM deleted)
$$;
REVOKE ALL ON FUNCTION public.delete_comment(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.delete_comment(uuid) TO authenticated, service_role;

-- ---------------------------------------------------------------- votes: on what REST lets you vote on
-- A deleted comment takes no votes (REST answers 404).
ALTER POLICY community_votes_insert_own ON public.community_votes
    WITH CHECK (user_id = auth.uid()
                AND (target_type = 'post'
                     OR EXISTS (SELECT 1 FROM public.community_comments c
                                WHERE c.id = target_id AND NOT c.is_deleted)));
ALTER POLICY community_votes_update_own ON public.community_votes
    USING (user_id = auth.uid())
    WITH CHECK (user_id = auth.uid()
                AND (target_type = 'post'
                     OR EXISTS (SELECT 1 FROM public.community_comments c
                                WHERE c.id = target_id AND NOT c.is_deleted)));

-- ---------------------------------------------------------------- live sessions: the meeting URL
-- Every signed-in user reads sessions; `meeting_url` only the host, admins and seat holders
-- (registered or attended), through session_meeting_urls(). `metadata` is neither shown nor written by REST.
REVOKE SELECT, INSERT, UPDATE ON public.live_sessions FROM PUBLIC, anon, authenticated;
GRANT SELECT (id, title, description, host_id, session_type, scheduled_at, duration, max_participants,
              current_participants, recording_url, is_recorded, status, prerequisites, tags, created_at,
              updated_at)
    ON public.live_sessions TO authenticated;
GRANT INSERT (title, description, host_id, session_type, scheduled_at, duration, max_participants,
              meeting_url, recording_url, is_recorded, prerequisites, tags)
    ON public.live_sessions TO authenticated;
GRANT UPDATE (title, description, session_type, scheduled_at, duration, max_participants,
              meeting_url, recording_url, is_recorded, prerequisites, tags)
    ON public.live_sessions TO authenticated;

-- The meeting URLs of the given sessions that the caller may have (service_role: all); one call per
-- page of sessions, not one per row.
CREATE FUNCTION public.session_meeting_urls(p_session_ids uuid[])
    RETURNS TABLE (session_id uuid, meeting_url text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
AS $$
    SELECT s.id, s.meeting_url
    FROM public.live_sessions s
    WHERE s.id = ANY (p_session_ids)
      AND (auth.role() = 'service_role'
           OR s.host_id = auth.uid()
           OR public.is_admin()
           OR EXISTS (SELECT FROM public.session_participants p
                      WHERE p.session_id = s.id AND p.user_id = auth.uid()
                        AND p.attendance_status IN ('registered', 'attended')))
$$;
REVOKE ALL ON FUNCTION public.session_meeting_urls(uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.session_meeting_urls(uuid[]) TO authenticated, service_role;

-- PATCH /api/sessions/{id}'s rules for a host editing in plain SQL: only while `scheduled`, never below
-- the seats taken, at most 24 hours long, and a new time in the future. The hub's own edits run as
-- service_role (the route checks the same, against its clock), and the seat counter trigger as the owner.
CREATE FUNCTION public.guard_session_edit() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    IF current_user = 'authenticated' THEN
        IF OLD.status <> 'scheduled' THEN
            RAISE EXCEPTION 'only a scheduled session can be edited' USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.max_participants < NEW.current_participants
           OR NEW.duration > interval '24 hours'
           OR (NEW.scheduled_at IS DISTINCT FROM OLD.scheduled_at AND NEW.scheduled_at <= now()) THEN
            RAISE EXCEPTION 'capacity below the seats taken, duration over 24 hours or a time in the past'
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER trg_live_sessions_edit_guard BEFORE UPDATE ON public.live_sessions
    FOR EACH ROW EXECUTE FUNCTION public.guard_session_edit();

-- ---------------------------------------------------------------- activity log: the columns REST shows
REVOKE SELECT ON public.user_activity_log FROM PUBLIC, anon, authenticated;
GRANT SELECT (id, user_id, activity_type, entity_type, entity_id, metadata, created_at)
    ON public.user_activity_log TO authenticated;
