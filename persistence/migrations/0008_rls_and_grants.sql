-- 0008: row level security, policies and privileges.
--
-- Model (docs/design.md): anon / authenticated are the caller's role inside a request transaction,
-- subject to RLS and to COLUMN grants (RLS alone cannot stop a user writing a counter on a row they
-- may update); service_role (BYPASSRLS) is the hub's privileged path; hub_app can only SET ROLE.
-- Everything is first revoked so the result is the same on Supabase, whose default privileges
-- grant ALL on new public tables to anon and authenticated.

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, anon, authenticated;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, anon, authenticated;
REVOKE ALL ON ALL TABLES IN SCHEMA realtime, billing, private FROM PUBLIC, anon, authenticated;
REVOKE ALL ON auth.users, auth.refresh_tokens FROM PUBLIC, anon, authenticated;
-- SECURITY DEFINER and internal functions: never callable by clients (trigger functions cannot be
-- called directly anyway; this also undoes Supabase's default EXECUTE grants).
REVOKE ALL ON FUNCTION
    public.handle_new_user(), public.community_comments_counts(), public.community_votes_counts(),
    public.community_delete_target_votes(), public.session_participants_counts(),
    public.session_message_votes_counts(),
    private.apply_vote_delta(text, uuid, integer, integer, boolean),
    realtime.append_event(text, text, jsonb), realtime.prune_events(interval, integer)
FROM PUBLIC, anon, authenticated;

-- ---------------------------------------------------------------- schemas and functions
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA realtime TO authenticated, service_role;
GRANT USAGE ON SCHEMA billing, private TO service_role;

GRANT EXECUTE ON FUNCTION auth.uid(), auth.role(), auth.jwt() TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.is_admin(), public.is_host(), public.calculate_user_level(integer)
    TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION realtime.append_event(text, text, jsonb) TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION realtime.prune_events(interval, integer) TO service_role;

-- ---------------------------------------------------------------- service_role: everything
GRANT ALL ON ALL TABLES IN SCHEMA public, realtime, billing, private TO service_role;
GRANT ALL ON auth.users, auth.refresh_tokens TO service_role;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public, realtime, billing, private TO service_role;

-- ---------------------------------------------------------------- RLS on every table
ALTER TABLE public.user_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.lessons ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.user_progress ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.achievements ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.user_achievements ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.leaderboard ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.user_streaks ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.user_activity_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.community_posts ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.community_comments ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.community_votes ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.live_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.session_participants ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.session_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.session_message_votes ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.subscription_plans ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.user_subscriptions ENABLE ROW LEVEL SECURITY;
-- Outside public: no policies at all, so only service_role (BYPASSRLS) and the owner see rows.
ALTER TABLE realtime.channel_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE realtime.events ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing.stripe_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE private.idempotency_keys ENABLE ROW LEVEL SECURITY;

-- ---------------------------------------------------------------- profiles
GRANT SELECT ON public.user_profiles TO authenticated;
GRANT UPDATE (full_name, avatar_url, bio, timezone, preferred_language, trading_experience, trading_goals)
    ON public.user_profiles TO authenticated;
CREATE POLICY user_profiles_select ON public.user_profiles
    FOR SELECT TO authenticated USING (true);
CREATE POLICY user_profiles_update_own ON public.user_profiles
    FOR UPDATE TO authenticated USING (id = auth.uid()) WITH CHECK (id = auth.uid());

-- ---------------------------------------------------------------- lessons (active: everyone; writes: admin)
GRANT SELECT ON public.lessons TO anon, authenticated;
GRANT INSERT (level_id, gate_id, title, subtitle, description, content_type, content_data, assessment_data,
              xp_reward, estimated_time, difficulty, prerequisites, is_active, order_index, created_by)
    ON public.lessons TO authenticated;
GRANT UPDATE (level_id, gate_id, title, subtitle, description, content_type, content_data, assessment_data,
              xp_reward, estimated_time, difficulty, prerequisites, is_active, order_index)
    ON public.lessons TO authenticated;
GRANT DELETE ON public.lessons TO authenticated;
CREATE POLICY lessons_select ON public.lessons
    FOR SELECT TO anon, authenticated USING (is_active OR public.is_admin());
CREATE POLICY lessons_insert_admin ON public.lessons
    FOR INSERT TO authenticated WITH CHECK (public.is_admin());
CREATE POLICY lessons_update_admin ON public.lessons
    FOR UPDATE TO authenticated USING (public.is_admin()) WITH CHECK (public.is_admin());
CREATE POLICY lessons_delete_admin ON public.lessons
    FOR DELETE TO authenticated USING (public.is_admin());

-- ---------------------------------------------------------------- server-owned learning state: read own only
-- No INSERT/UPDATE/DELETE grants or policies for clients (note 8): written by service_role only.
GRANT SELECT ON public.user_progress, public.user_streaks, public.user_activity_log,
    public.user_subscriptions, public.user_achievements TO authenticated;
CREATE POLICY user_progress_select_own ON public.user_progress
    FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY user_streaks_select_own ON public.user_streaks
    FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY user_activity_log_select_own ON public.user_activity_log
    FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY user_subscriptions_select_own ON public.user_subscriptions
    FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY user_achievements_select_own ON public.user_achievements
    FOR SELECT TO authenticated USING (user_id = auth.uid());

GRANT SELECT ON public.leaderboard TO authenticated;
CREATE POLICY leaderboard_select ON public.leaderboard
    FOR SELECT TO authenticated USING (true);

GRANT SELECT ON public.achievements TO anon, authenticated;
CREATE POLICY achievements_select ON public.achievements
    FOR SELECT TO anon, authenticated USING (is_active OR public.is_admin());

-- ---------------------------------------------------------------- community
GRANT SELECT ON public.community_posts TO authenticated;
GRANT INSERT (author_id, title, content, post_type, category, tags, metadata)
    ON public.community_posts TO authenticated;
-- is_pinned / is_locked are guarded by trg_community_posts_moderation (admins only).
GRANT UPDATE (title, content, post_type, category, tags, metadata, is_pinned, is_locked)
    ON public.community_posts TO authenticated;
GRANT DELETE ON public.community_posts TO authenticated;
CREATE POLICY community_posts_select ON public.community_posts
    FOR SELECT TO authenticated USING (true);
CREATE POLICY community_posts_insert_own ON public.community_posts
    FOR INSERT TO authenticated
    WITH CHECK (author_id = auth.uid() AND (post_type <> 'announcement' OR public.is_admin()));
CREATE POLICY community_posts_update_own_or_admin ON public.community_posts
    FOR UPDATE TO authenticated
    USING (author_id = auth.uid() OR public.is_admin())
    WITH CHECK ((author_id = auth.uid() OR public.is_admin())
                AND (post_type <> 'announcement' OR public.is_admin()));
CREATE POLICY community_posts_delete_own_or_admin ON public.community_posts
    FOR DELETE TO authenticated USING (author_id = auth.uid() OR public.is_admin());

GRANT SELECT ON public.community_comments TO authenticated;
GRANT INSERT (post_id, author_id, parent_comment_id, content) ON public.community_comments TO authenticated;
GRANT UPDATE (content, is_deleted) ON public.community_comments TO authenticated;
GRANT DELETE ON public.community_comments TO authenticated;
CREATE POLICY community_comments_select ON public.community_comments
    FOR SELECT TO authenticated USING (true);
-- Own comments only, and not on a locked post (admins excepted).
CREATE POLICY community_comments_insert_own ON public.community_comments
    FOR INSERT TO authenticated
    WITH CHECK (author_id = auth.uid() AND EXISTS (
        SELECT 1 FROM public.community_posts p
        WHERE p.id = post_id AND (NOT p.is_locked OR public.is_admin())));
CREATE POLICY community_comments_update_own_or_admin ON public.community_comments
    FOR UPDATE TO authenticated
    USING (author_id = auth.uid() OR public.is_admin())
    WITH CHECK (author_id = auth.uid() OR public.is_admin());
CREATE POLICY community_comments_delete_own_or_admin ON public.community_comments
    FOR DELETE TO authenticated USING (author_id = auth.uid() OR public.is_admin());

GRANT SELECT ON public.community_votes TO authenticated;
GRANT INSERT (user_id, target_type, target_id, vote_type) ON public.community_votes TO authenticated;
GRANT UPDATE (vote_type) ON public.community_votes TO authenticated;
GRANT DELETE ON public.community_votes TO authenticated;
CREATE POLICY community_votes_select_own ON public.community_votes
    FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY community_votes_insert_own ON public.community_votes
    FOR INSERT TO authenticated WITH CHECK (user_id = auth.uid());
CREATE POLICY community_votes_update_own ON public.community_votes
    FOR UPDATE TO authenticated USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
CREATE POLICY community_votes_delete_own ON public.community_votes
    FOR DELETE TO authenticated USING (user_id = auth.uid());

-- ---------------------------------------------------------------- live sessions
GRANT SELECT ON public.live_sessions TO authenticated;
-- Not status (transitions are server-side) and not current_participants (trigger-maintained).
GRANT INSERT (title, description, host_id, session_type, scheduled_at, duration, max_participants,
              meeting_url, recording_url, is_recorded, prerequisites, tags, metadata)
    ON public.live_sessions TO authenticated;
GRANT UPDATE (title, description, session_type, scheduled_at, duration, max_participants,
              meeting_url, recording_url, is_recorded, prerequisites, tags, metadata)
    ON public.live_sessions TO authenticated;
CREATE POLICY live_sessions_select ON public.live_sessions
    FOR SELECT TO authenticated USING (true);
CREATE POLICY live_sessions_insert_host ON public.live_sessions
    FOR INSERT TO authenticated WITH CHECK (host_id = auth.uid() AND public.is_host());
CREATE POLICY live_sessions_update_host_or_admin ON public.live_sessions
    FOR UPDATE TO authenticated
    USING (host_id = auth.uid() OR public.is_admin())
    WITH CHECK (host_id = auth.uid() OR public.is_admin());

-- Participants: own rows, the host's sessions' rows, admins. Written by service_role only.
GRANT SELECT ON public.session_participants TO authenticated;
CREATE POLICY session_participants_select ON public.session_participants
    FOR SELECT TO authenticated
    USING (user_id = auth.uid()
           OR public.is_admin()
           OR EXISTS (SELECT 1 FROM public.live_sessions s
                      WHERE s.id = session_id AND s.host_id = auth.uid()));

-- Session messages: the host, admins and registered/attended participants. Written by service_role only.
GRANT SELECT ON public.session_messages TO authenticated;
CREATE POLICY session_messages_select ON public.session_messages
    FOR SELECT TO authenticated
    USING (public.is_admin()
           OR EXISTS (SELECT 1 FROM public.live_sessions s
                      WHERE s.id = session_id AND s.host_id = auth.uid())
           OR EXISTS (SELECT 1 FROM public.session_participants sp
                      WHERE sp.session_id = session_messages.session_id
                        AND sp.user_id = auth.uid()
                        AND sp.attendance_status IN ('registered', 'attended')));

GRANT SELECT ON public.session_message_votes TO authenticated;
CREATE POLICY session_message_votes_select_own ON public.session_message_votes
    FOR SELECT TO authenticated USING (user_id = auth.uid());

-- ---------------------------------------------------------------- billing
GRANT SELECT ON public.subscription_plans TO anon, authenticated;
GRANT INSERT (name, description, plan_type, price, currency, stripe_price_id, features, is_active,
              trial_days, max_users, level_access_limit)
    ON public.subscription_plans TO authenticated;
GRANT UPDATE (name, description, plan_type, price, currency, stripe_price_id, features, is_active,
              trial_days, max_users, level_access_limit)
    ON public.subscription_plans TO authenticated;
CREATE POLICY subscription_plans_select ON public.subscription_plans
    FOR SELECT TO anon, authenticated USING (is_active OR public.is_admin());
CREATE POLICY subscription_plans_insert_admin ON public.subscription_plans
    FOR INSERT TO authenticated WITH CHECK (public.is_admin());
CREATE POLICY subscription_plans_update_admin ON public.subscription_plans
    FOR UPDATE TO authenticated USING (public.is_admin()) WITH CHECK (public.is_admin());
-- user_subscriptions: own SELECT only (above); written by the Stripe webhook as service_role.

-- ---------------------------------------------------------------- migration ledger (created by migrate.py)
DO $$
BEGIN
    IF to_regclass('private.schema_migrations') IS NOT NULL THEN
        REVOKE ALL ON private.schema_migrations FROM PUBLIC, anon, authenticated;
        GRANT SELECT ON private.schema_migrations TO service_role;
    END IF;
END
$$;
