-- 0017: deleted text leaves the readable rows; links refuse what the REST rule refuses; definer
-- functions never resolve names in the caller's temporary schema, and clients get no temporary schema.

-- ---------------------------------------------------------------- deleted text: server-only evidence
-- REST shows a deleted comment or chat line with `content: null`, but the text stayed in the row, which
-- every signed-in user (comments) or every participant (session messages) can SELECT. The text moves to
-- a table no client role can reach, kept for moderation for DELETED_CONTENT_RETENTION_DAYS
-- (hub/retention.py), and the row keeps its place with `content` null. Posts are deleted outright.
CREATE TABLE private.deleted_content (
    target_type text NOT NULL CHECK (target_type IN ('comment', 'session_message')),
    target_id uuid NOT NULL,
    content text NOT NULL,
    deleted_by uuid,  -- auth.uid() of the deleting transaction; null when the server deleted it
    deleted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target_type, target_id)
);
CREATE INDEX idx_deleted_content_deleted_at ON private.deleted_content (deleted_at);
ALTER TABLE private.deleted_content ENABLE ROW LEVEL SECURITY;  -- no policies: service_role only
REVOKE ALL ON private.deleted_content FROM PUBLIC, anon, authenticated;
GRANT ALL ON private.deleted_content TO service_role;

-- Rows deleted before this migration: their text moves now (the row's last change is the best known
-- deletion time), and their `updated_at` stays what REST has shown.
INSERT INTO private.deleted_content (target_type, target_id, content, deleted_at)
SELECT 'comment', id, content, updated_at FROM public.community_comments WHERE is_deleted;
INSERT INTO private.deleted_content (target_type, target_id, content, deleted_at)
SELECT 'session_message', id, content, updated_at FROM public.session_messages WHERE is_deleted;

ALTER TABLE public.community_comments ALTER COLUMN content DROP NOT NULL;
ALTER TABLE public.session_messages ALTER COLUMN content DROP NOT NULL;
ALTER TABLE public.community_comments DISABLE TRIGGER trg_community_comments_updated_at;
UPDATE public.community_comments SET content = NULL WHERE is_deleted;
ALTER TABLE public.community_comments ENABLE TRIGGER trg_community_comments_updated_at;
ALTER TABLE public.session_messages DISABLE TRIGGER trg_session_messages_updated_at;
UPDATE public.session_messages SET content = NULL WHERE is_deleted;
ALTER TABLE public.session_messages ENABLE TRIGGER trg_session_messages_updated_at;
-- Only a deleted row may lack its text.
ALTER TABLE public.community_comments
    ADD CONSTRAINT community_comments_content_unless_deleted CHECK (is_deleted OR content IS NOT NULL);
ALTER TABLE public.session_messages
    ADD CONSTRAINT session_messages_content_unless_deleted CHECK (is_deleted OR content IS NOT NULL);

-- Every writer (delete_comment, the hub's chat-line removal as service_role, an owner's own SQL) goes
-- through this: a row that is or becomes deleted keeps no text; the first text it had when deleted is
-- the evidence. Definer: the callers (service_role, delete_comment's owner) need no grant on the table.
CREATE FUNCTION private.keep_deleted_content() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF NEW.is_deleted AND NEW.content IS NOT NULL THEN
        INSERT INTO private.deleted_content (target_type, target_id, content, deleted_by)
        VALUES (TG_ARGV[0], NEW.id, NEW.content, auth.uid())
        ON CONFLICT (target_type, target_id) DO NOTHING;
        NEW.content := NULL;
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION private.keep_deleted_content() FROM PUBLIC, anon, authenticated;

CREATE TRIGGER trg_community_comments_keep_deleted_content
    BEFORE INSERT OR UPDATE OF is_deleted, content ON public.community_comments
    FOR EACH ROW EXECUTE FUNCTION private.keep_deleted_content('comment');
CREATE TRIGGER trg_session_messages_keep_deleted_content
    BEFORE INSERT OR UPDATE OF is_deleted, content ON public.session_messages
    FOR EACH ROW EXECUTE FUNCTION private.keep_deleted_content('session_message');

-- ---------------------------------------------------------------- links: the REST rule, exactly
-- 0015's rule let through what hub/fields.py's HttpUrl refuses only in part: a C1 control (U+0080 to
-- U+009F), Unicode spaces, and invisible or bidirectional formatting characters that make a link read
-- as another (U+202E). Both rules now refuse the same characters, listed explicitly (no locale-dependent
-- classes): U+0001–U+0020, U+007F–U+00A0, U+061C, U+1680, U+2000–U+200F, U+2028–U+202F, U+205F–U+206F,
-- U+3000, U+FEFF. Links that break it are set to null first, as 0015 did.
UPDATE public.user_profiles SET avatar_url = NULL
WHERE avatar_url !~* '^https?://[^\u0001-\u0020\u007f-\u00a0\u061c\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff/?#@]+([/?#][^\u0001-\u0020\u007f-\u00a0\u061c\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]*)?$';
UPDATE public.live_sessions SET meeting_url = NULL
WHERE meeting_url !~* '^https?://[^\u0001-\u0020\u007f-\u00a0\u061c\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff/?#@]+([/?#][^\u0001-\u0020\u007f-\u00a0\u061c\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]*)?$';
UPDATE public.live_sessions SET recording_url = NULL
WHERE recording_url !~* '^https?://[^\u0001-\u0020\u007f-\u00a0\u061c\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff/?#@]+([/?#][^\u0001-\u0020\u007f-\u00a0\u061c\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]*)?$';
ALTER TABLE public.user_profiles DROP CONSTRAINT user_profiles_avatar_url_http;
ALTER TABLE public.user_profiles ADD CONSTRAINT user_profiles_avatar_url_http CHECK (
    avatar_url ~* '^https?://[^\u0001-\u0020\u007f-\u00a0\u061c\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff/?#@]+([/?#][^\u0001-\u0020\u007f-\u00a0\u061c\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]*)?$'
    AND length(avatar_url) <= 2048);
ALTER TABLE public.live_sessions DROP CONSTRAINT live_sessions_meeting_url_http;
ALTER TABLE public.live_sessions ADD CONSTRAINT live_sessions_meeting_url_http CHECK (
    meeting_url ~* '^https?://[^\u0001-\u0020\u007f-\u00a0\u061c\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff/?#@]+([/?#][^\u0001-\u0020\u007f-\u00a0\u061c\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]*)?$'
    AND length(meeting_url) <= 2048);
ALTER TABLE public.live_sessions DROP CONSTRAINT live_sessions_recording_url_http;
ALTER TABLE public.live_sessions ADD CONSTRAINT live_sessions_recording_url_http CHECK (
    recording_url ~* '^https?://[^\u0001-\u0020\u007f-\u00a0\u061c\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff/?#@]+([/?#][^\u0001-\u0020\u007f-\u00a0\u061c\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]*)?$'
    AND length(recording_url) <= 2048);

-- ---------------------------------------------------------------- definer functions: pg_temp last
-- With `pg_temp` absent from a function's search_path PostgreSQL searches the caller's temporary schema
-- FIRST, so a client that may create temporary tables could shadow `public.x` inside a definer function
-- that runs with the owner's rights. Every definer function of the hub's schemas that this role owns
-- gets pg_temp last (functions of other owners, Supabase's own, are not ours to change); other settings
-- of the function (append_event's TimeZone) stay.
DO $definers$
DECLARE
    fn regprocedure;
BEGIN
    FOR fn IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prosecdef
          AND n.nspname IN ('public', 'realtime', 'private', 'billing', 'auth')
          AND pg_catalog.pg_has_role(current_user, p.proowner, 'USAGE')
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, public, pg_temp', fn);
    END LOOP;
END
$definers$;

-- ...and no client gets a temporary schema at all (PostgreSQL grants TEMPORARY to PUBLIC by default).
-- The database's owner keeps it (0012 creates a temporary table as the migration owner), as does any
-- superuser; no hub role needs one at run time. Only the database's owner (or a superuser) can revoke it.
DO $temp$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
       OR pg_catalog.pg_has_role(current_user, (SELECT datdba FROM pg_catalog.pg_database
                                               WHERE datname = pg_catalog.current_database()), 'USAGE') THEN
        EXECUTE pg_catalog.format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC, anon, authenticated, service_role',
                                  pg_catalog.current_database());
    ELSE
        RAISE NOTICE 'TEMPORARY stays granted to PUBLIC: only the database owner can revoke it';
    END IF;
END
$temp$;
