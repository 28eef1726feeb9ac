-- 0026: the notification inbox and each user's email preferences.
--
-- public.notifications: one row per thing that happened to a user (a reply, a promotion, a session
-- change, an achievement, a report's outcome), written by the hub (service_role) in the transaction of
-- its cause, with the `notification.created` event of the same row. In plain SQL, as over REST
-- (`GET /api/notifications`, `POST /api/notifications/read`), a user reads their own rows and can only
-- mark them read: `read_at` is the one column they may update, and the trigger below turns any write of
-- it into "read now, unless read already", which is all the REST route can do.
-- `emailed_at`: when the row went out in a digest mail (null: not yet, or its kind's email is off).
CREATE TABLE public.notifications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind ~ '^[a-z][a-z_.]{0,63}$'),
    data jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (octet_length(data::text) <= 4096),
    read_at timestamptz NULL,
    emailed_at timestamptz NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- The inbox page (newest first, keyset on (created_at, id)) and its unread filter and count.
CREATE INDEX idx_notifications_user_created ON public.notifications (user_id, created_at DESC, id DESC);
CREATE INDEX idx_notifications_user_unread ON public.notifications (user_id, created_at DESC, id DESC)
    WHERE read_at IS NULL;
-- Retention prunes by age (read rows sooner than unread ones).
CREATE INDEX idx_notifications_created ON public.notifications (created_at);
ALTER TABLE public.notifications ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.notifications FROM PUBLIC, anon, authenticated;
GRANT ALL ON public.notifications TO service_role;
GRANT SELECT ON public.notifications TO authenticated;
GRANT UPDATE (read_at) ON public.notifications TO authenticated;
CREATE POLICY notifications_select_own ON public.notifications
    FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY notifications_mark_own_read ON public.notifications
    FOR UPDATE TO authenticated USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());

CREATE FUNCTION private.notifications_read_once() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    IF NEW.read_at IS DISTINCT FROM OLD.read_at THEN
        NEW.read_at := coalesce(OLD.read_at, clock_timestamp());
    END IF;
    RETURN NEW;
END;
$$;
REVOKE ALL ON FUNCTION private.notifications_read_once() FROM PUBLIC, anon, authenticated;
CREATE TRIGGER notifications_read_once BEFORE UPDATE OF read_at ON public.notifications
    FOR EACH ROW EXECUTE FUNCTION private.notifications_read_once();

-- private.notification_settings: the kinds a user switched email on or off, against the hub's defaults
-- (`hub.domain.notifications.EMAIL_DEFAULTS`); a kind without a row has its default. Read and written
-- through `GET/PATCH /api/me/notification-settings` only.
CREATE TABLE private.notification_settings (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind ~ '^[a-z][a-z_.]{0,63}$'),
    email boolean NOT NULL,
    PRIMARY KEY (user_id, kind)
);
ALTER TABLE private.notification_settings ENABLE ROW LEVEL SECURITY;  -- no policies: service_role only
REVOKE ALL ON private.notification_settings FROM PUBLIC, anon, authenticated;
GRANT ALL ON private.notification_settings TO service_role;

-- Redaction (as 0020 does for the event log): a reply's notification quotes its post's title and the
-- reply's first characters (`post_title`, `excerpt`). Deleting the reply (soft or hard) blanks its
-- excerpt, deleting the post its title and every excerpt under it, in the inbox row and in the row's
-- logged `notification.created` on the recipient's `user:` channel, with `"redacted": true` added; no
-- new event is sent. Owner-only functions (no grant): the triggers below are their only callers, whoever
-- deletes (the hub, `public.delete_comment`, an author's own SQL, a cascade).
CREATE INDEX idx_notifications_reply_comment ON public.notifications ((data ->> 'comment_id'))
    WHERE data ? 'excerpt';
CREATE INDEX idx_notifications_reply_post ON public.notifications ((data ->> 'post_id'))
    WHERE data ? 'excerpt';

-- One statement per case, each on its own index; the logged event's `data` becomes the row's new `data`.
CREATE FUNCTION private.redact_reply_notifications(p_comment_id uuid, p_post_id uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF p_post_id IS NULL THEN
        WITH changed AS (
            UPDATE public.notifications SET data = data || '{"excerpt": null, "redacted": true}'::jsonb
            WHERE data ? 'excerpt' AND (data ->> 'comment_id') = p_comment_id::text
              AND NOT data @> '{"excerpt": null, "redacted": true}'::jsonb
            RETURNING id, user_id, data)
        UPDATE realtime.events e SET data = jsonb_set(e.data, '{data}', c.data)
        FROM changed c
        WHERE e.channel = 'user:' || c.user_id::text AND e.event = 'notification.created'
          AND (e.data ->> 'id') = c.id::text;
    ELSE
        WITH changed AS (
            UPDATE public.notifications
            SET data = data || '{"excerpt": null, "post_title": null, "redacted": true}'::jsonb
            WHERE data ? 'excerpt' AND (data ->> 'post_id') = p_post_id::text
              AND NOT data @> '{"excerpt": null, "post_title": null, "redacted": true}'::jsonb
            RETURNING id, user_id, data)
        UPDATE realtime.events e SET data = jsonb_set(e.data, '{data}', c.data)
        FROM changed c
        WHERE e.channel = 'user:' || c.user_id::text AND e.event = 'notification.created'
          AND (e.data ->> 'id') = c.id::text;
    END IF;
END
$$;

CREATE FUNCTION private.redact_comment_notifications() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    PERFORM private.redact_reply_notifications(OLD.id, NULL);
    RETURN NULL;
END
$$;

CREATE FUNCTION private.redact_post_notifications() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    PERFORM private.redact_reply_notifications(NULL, OLD.id);
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION private.redact_reply_notifications(uuid, uuid), private.redact_comment_notifications(),
    private.redact_post_notifications() FROM PUBLIC, anon, authenticated, service_role;

CREATE TRIGGER trg_community_comments_redact_notifications_on_soft_delete
    AFTER UPDATE OF is_deleted ON public.community_comments
    FOR EACH ROW WHEN (NEW.is_deleted AND NOT OLD.is_deleted) EXECUTE FUNCTION private.redact_comment_notifications();
CREATE TRIGGER trg_community_comments_redact_notifications_on_delete
    AFTER DELETE ON public.community_comments
    FOR EACH ROW WHEN (NOT OLD.is_deleted) EXECUTE FUNCTION private.redact_comment_notifications();
CREATE TRIGGER trg_community_posts_redact_notifications
    AFTER DELETE ON public.community_posts
    FOR EACH ROW EXECUTE FUNCTION private.redact_post_notifications();
