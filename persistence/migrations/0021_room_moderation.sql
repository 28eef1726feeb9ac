-- 0021: moderation of a live session's room: slow mode and a chat lock per room, mutes and kicks per user.
--
-- Written only by the hub (the host's or an admin's `participant.*` / `room.*` publishes on `session:<id>`),
-- as service_role, under the session's row lock that every room write takes first: a chat line or question
-- checks these rows after taking that lock, so no line is stored past a mute, kick or lock that committed
-- before it. Clients read what `GET /api/sessions/{id}/moderation` shows them: the room's settings and its
-- current mutes, for the host, admins and seat holders. Kicks are server-only (they bar re-registration).

CREATE TABLE public.session_room_settings (
    session_id uuid PRIMARY KEY REFERENCES public.live_sessions (id) ON DELETE CASCADE,
    slow_mode_seconds integer NOT NULL DEFAULT 0 CHECK (slow_mode_seconds BETWEEN 0 AND 3600),
    chat_locked boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.session_room_sanctions (
    session_id uuid NOT NULL REFERENCES public.live_sessions (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    muted_until timestamptz NULL,
    kicked_at timestamptz NULL,
    PRIMARY KEY (session_id, user_id)
);

-- Slow mode's spacing reads the author's last chat line of the room under the session lock.
CREATE INDEX idx_session_messages_author_chat
    ON public.session_messages (session_id, author_id, created_at DESC) WHERE kind = 'chat';

ALTER TABLE public.session_room_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.session_room_sanctions ENABLE ROW LEVEL SECURITY;
GRANT ALL ON public.session_room_settings, public.session_room_sanctions TO service_role;

GRANT SELECT ON public.session_room_settings TO authenticated;
CREATE POLICY session_room_settings_select ON public.session_room_settings
    FOR SELECT TO authenticated
    USING (public.is_admin()
           OR EXISTS (SELECT FROM public.live_sessions s
                      WHERE s.id = session_room_settings.session_id AND s.host_id = auth.uid())
           OR EXISTS (SELECT FROM public.session_participants p
                      WHERE p.session_id = session_room_settings.session_id AND p.user_id = auth.uid()
                        AND p.attendance_status IN ('registered', 'attended')));

-- Current mutes only, and not `kicked_at`: the REST view's `muted` list.
GRANT SELECT (session_id, user_id, muted_until) ON public.session_room_sanctions TO authenticated;
CREATE POLICY session_room_sanctions_select_current_mutes ON public.session_room_sanctions
    FOR SELECT TO authenticated
    USING (muted_until > now()
           AND (public.is_admin()
                OR EXISTS (SELECT FROM public.live_sessions s
                           WHERE s.id = session_room_sanctions.session_id AND s.host_id = auth.uid())
                OR EXISTS (SELECT FROM public.session_participants p
                           WHERE p.session_id = session_room_sanctions.session_id AND p.user_id = auth.uid()
                             AND p.attendance_status IN ('registered', 'attended'))));
