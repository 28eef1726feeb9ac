-- 0005: live sessions, participants, session messages (chat / Q&A / announcements) and question votes.

CREATE TABLE public.live_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    title text NOT NULL,
    description text,
    host_id uuid REFERENCES auth.users (id) ON DELETE CASCADE NOT NULL,
    session_type varchar(20) NOT NULL DEFAULT 'workshop' CHECK (session_type IN ('workshop', 'q&a', 'presentation')),
    scheduled_at timestamptz NOT NULL,
    duration interval NOT NULL CHECK (duration > interval '0'),
    max_participants integer CHECK (max_participants IS NULL OR max_participants >= 1),
    current_participants integer NOT NULL DEFAULT 0 CHECK (current_participants >= 0),
    meeting_url text,
    recording_url text,
    is_recorded boolean NOT NULL DEFAULT false,
    status varchar(20) NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'live', 'ended', 'cancelled')),
    prerequisites jsonb,                -- {"min_level": 2, "required_lessons": [...]}
    tags text[],
    metadata jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.session_participants (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid REFERENCES public.live_sessions (id) ON DELETE CASCADE NOT NULL,
    user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE NOT NULL,
    joined_at timestamptz,
    left_at timestamptz,
    attendance_status varchar(20) NOT NULL DEFAULT 'registered' CHECK (
        attendance_status IN ('registered', 'attended', 'missed', 'waitlisted')
    ),
    feedback_rating integer CHECK (feedback_rating >= 1 AND feedback_rating <= 5),
    feedback_text text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (session_id, user_id)
);

CREATE INDEX idx_sessions_host ON public.live_sessions (host_id);
-- (scheduled_at, id): keyset order of GET /api/sessions ("upcoming first").
CREATE INDEX idx_sessions_scheduled ON public.live_sessions (scheduled_at, id);
CREATE INDEX idx_sessions_status ON public.live_sessions (status);
CREATE INDEX idx_sessions_status_scheduled ON public.live_sessions (status, scheduled_at, id);
CREATE INDEX idx_sessions_host_scheduled ON public.live_sessions (host_id, scheduled_at, id);
CREATE INDEX idx_sessions_prerequisites ON public.live_sessions USING gin (prerequisites);
CREATE INDEX idx_session_participants_session ON public.session_participants (session_id);
-- Waitlist (FIFO) and per-status listings (note 12).
CREATE INDEX idx_session_participants_waitlist
    ON public.session_participants (session_id, attendance_status, created_at, id);
CREATE INDEX idx_session_participants_user ON public.session_participants (user_id);

CREATE TABLE public.session_messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL REFERENCES public.live_sessions (id) ON DELETE CASCADE,
    author_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('chat', 'question', 'answer', 'announcement')),
    content text NOT NULL CHECK (char_length(content) BETWEEN 1 AND 2000),
    parent_id uuid NULL REFERENCES public.session_messages (id) ON DELETE SET NULL,  -- answer -> question
    upvotes_count integer NOT NULL DEFAULT 0 CHECK (upvotes_count >= 0),
    is_answered boolean NOT NULL DEFAULT false,
    is_deleted boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_session_messages_session_created ON public.session_messages (session_id, created_at, id);
CREATE INDEX idx_session_messages_parent ON public.session_messages (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX idx_session_messages_author ON public.session_messages (author_id);

CREATE TABLE public.session_message_votes (
    message_id uuid NOT NULL REFERENCES public.session_messages (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, user_id)
);

CREATE INDEX idx_session_message_votes_user ON public.session_message_votes (user_id);

-- updated_at: only on edits, not on counter bumps.
CREATE TRIGGER trg_live_sessions_updated_at
    BEFORE UPDATE OF title, description, host_id, session_type, scheduled_at, duration, max_participants,
        meeting_url, recording_url, is_recorded, status, prerequisites, tags, metadata
    ON public.live_sessions
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER trg_session_messages_updated_at
    BEFORE UPDATE OF session_id, author_id, kind, content, parent_id, is_answered, is_deleted
    ON public.session_messages
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- current_participants = number of participants in ('registered', 'attended').
CREATE OR REPLACE FUNCTION public.session_participants_counts() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
AS $$
DECLARE
    v_old integer := 0;
    v_new integer := 0;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.attendance_status IN ('registered', 'attended') THEN
        v_old := 1;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.attendance_status IN ('registered', 'attended') THEN
        v_new := 1;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.session_id = OLD.session_id THEN
        IF v_new <> v_old THEN
            UPDATE public.live_sessions
               SET current_participants = current_participants + (v_new - v_old)
             WHERE id = NEW.session_id;
        END IF;
        RETURN NULL;
    END IF;
    IF v_old = 1 THEN
        UPDATE public.live_sessions SET current_participants = current_participants - 1 WHERE id = OLD.session_id;
    END IF;
    IF v_new = 1 THEN
        UPDATE public.live_sessions SET current_participants = current_participants + 1 WHERE id = NEW.session_id;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION public.session_participants_counts() FROM PUBLIC;

CREATE TRIGGER trg_session_participants_counts
    AFTER INSERT OR DELETE OR UPDATE OF session_id, attendance_status ON public.session_participants
    FOR EACH ROW EXECUTE FUNCTION public.session_participants_counts();

-- session_messages.upvotes_count = number of session_message_votes rows.
CREATE OR REPLACE FUNCTION public.session_message_votes_counts() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE public.session_messages SET upvotes_count = upvotes_count + 1 WHERE id = NEW.message_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE public.session_messages SET upvotes_count = upvotes_count - 1 WHERE id = OLD.message_id;
    ELSIF NEW.message_id IS DISTINCT FROM OLD.message_id THEN
        UPDATE public.session_messages SET upvotes_count = upvotes_count - 1 WHERE id = OLD.message_id;
        UPDATE public.session_messages SET upvotes_count = upvotes_count + 1 WHERE id = NEW.message_id;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION public.session_message_votes_counts() FROM PUBLIC;

CREATE TRIGGER trg_session_message_votes_counts
    AFTER INSERT OR DELETE OR UPDATE OF message_id ON public.session_message_votes
    FOR EACH ROW EXECUTE FUNCTION public.session_message_votes_counts();
