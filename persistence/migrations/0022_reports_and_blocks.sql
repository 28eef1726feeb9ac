-- 0022: reports and their moderation queue, content hidden pending review, and blocks between users.
--
-- private.reports: what users reported and what a moderator decided. Written and read by the hub only
-- (service_role): REST lets a user file a report but not read one back, and the queue is for admins.
-- One report per reporter and target, ever (409 `already_reported`). `target_id` names a post, comment,
-- session message or user without a foreign key: a report outlives the content it is about.
CREATE TABLE private.reports (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reporter_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    target_type text NOT NULL CHECK (target_type IN ('post', 'comment', 'session_message', 'user')),
    target_id uuid NOT NULL,
    reason text NOT NULL CHECK (reason IN ('spam', 'abuse', 'off_topic', 'other')),
    details text NULL CHECK (char_length(details) <= 1000),
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    resolved_at timestamptz NULL,
    resolved_by uuid NULL REFERENCES auth.users (id) ON DELETE SET NULL,
    outcome text NULL CHECK (outcome IN ('dismiss', 'remove_content', 'ban_author')),
    note text NULL CHECK (char_length(note) <= 1000),
    CONSTRAINT reports_once_per_reporter UNIQUE (reporter_id, target_type, target_id),
    CHECK ((status = 'open') = (resolved_at IS NULL))
);
-- The open reports of one target: the hiding threshold's count and a resolve's update.
CREATE INDEX idx_private_reports_open_target ON private.reports (target_type, target_id) WHERE status = 'open';
CREATE INDEX idx_private_reports_status_created ON private.reports (status, created_at DESC);
ALTER TABLE private.reports ENABLE ROW LEVEL SECURITY;  -- no policies: service_role only
REVOKE ALL ON private.reports FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE ON private.reports TO service_role;

-- Hidden pending review: set by the hub when REPORT_HIDE_THRESHOLD distinct users have open reports on
-- the row, cleared when a moderator dismisses them. A hidden row is gone for every reader but its author
-- and admins, in plain SQL as over REST: a restrictive policy, so it holds whatever the permissive
-- policies of the table say now or later.
ALTER TABLE public.community_posts ADD COLUMN hidden_at timestamptz NULL;
ALTER TABLE public.community_comments ADD COLUMN hidden_at timestamptz NULL;
ALTER TABLE public.session_messages ADD COLUMN hidden_at timestamptz NULL;
CREATE POLICY community_posts_hidden_pending_review ON public.community_posts
    AS RESTRICTIVE FOR SELECT TO authenticated
    USING (hidden_at IS NULL OR author_id = auth.uid() OR public.is_admin());
CREATE POLICY community_comments_hidden_pending_review ON public.community_comments
    AS RESTRICTIVE FOR SELECT TO authenticated
    USING (hidden_at IS NULL OR author_id = auth.uid() OR public.is_admin());
CREATE POLICY session_messages_hidden_pending_review ON public.session_messages
    AS RESTRICTIVE FOR SELECT TO authenticated
    USING (hidden_at IS NULL OR author_id = auth.uid() OR public.is_admin());

-- Blocks: the blocker no longer sees the blocked user's posts and comments in feeds and threads. The
-- feed and thread statements probe the primary key (blocker_id, blocked_id) once per row they return.
-- Users read their own blocks (GET /api/me/blocks); only the hub writes them (POST/DELETE
-- /api/users/{id}/block, behind the per-user cap), as service_role.
CREATE TABLE public.user_blocks (
    blocker_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    blocked_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);
CREATE INDEX idx_user_blocks_blocker_created ON public.user_blocks (blocker_id, created_at DESC, blocked_id);
ALTER TABLE public.user_blocks ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.user_blocks FROM PUBLIC, anon, authenticated;
GRANT ALL ON public.user_blocks TO service_role;
GRANT SELECT ON public.user_blocks TO authenticated;
CREATE POLICY user_blocks_select_own ON public.user_blocks
    FOR SELECT TO authenticated USING (blocker_id = auth.uid());
