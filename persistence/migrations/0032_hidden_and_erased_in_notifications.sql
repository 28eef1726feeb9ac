-- 0032: hidden replies leave their recipients' notifications (as 0028 has them leave the thread log), and
-- an erased account's name leaves other users' notifications and every logged view it authored.
--
-- Hiding a comment (hidden_at set) blanks `excerpt` in the reply notifications that quote it, hiding a
-- post blanks `post_title` and every excerpt under it, with `"hidden": true` added, in the inbox row and in
-- the row's logged `notification.created` on the recipient's `user:` channel. A dismissal (hidden_at
-- cleared) writes back the current title and excerpt, once neither the comment nor its post is hidden,
-- and drops the mark. Redaction wins: a notification redacted by a delete is never written back.

-- Owner-only (no grant): the triggers below are its only callers. One statement per case, each on 0026's
-- index; the logged event's `data` becomes the row's new `data`.
CREATE FUNCTION private.hide_reply_notifications(p_comment_id uuid, p_post_id uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF p_post_id IS NULL THEN
        WITH changed AS (
            UPDATE public.notifications SET data = data || '{"excerpt": null, "hidden": true}'::jsonb
            WHERE data ? 'excerpt' AND (data ->> 'comment_id') = p_comment_id::text
              AND NOT data @> '{"redacted": true}'::jsonb
              AND NOT data @> '{"excerpt": null, "hidden": true}'::jsonb
            RETURNING id, user_id, data)
        UPDATE realtime.events e SET data = jsonb_set(e.data, '{data}', c.data)
        FROM changed c
        WHERE e.channel = 'user:' || c.user_id::text AND e.event = 'notification.created'
          AND (e.data ->> 'id') = c.id::text;
    ELSE
        WITH changed AS (
            UPDATE public.notifications
            SET data = data || '{"excerpt": null, "post_title": null, "hidden": true}'::jsonb
            WHERE data ? 'excerpt' AND (data ->> 'post_id') = p_post_id::text
              AND NOT data @> '{"redacted": true}'::jsonb
              AND NOT data @> '{"excerpt": null, "post_title": null, "hidden": true}'::jsonb
            RETURNING id, user_id, data)
        UPDATE realtime.events e SET data = jsonb_set(e.data, '{data}', c.data)
        FROM changed c
        WHERE e.channel = 'user:' || c.user_id::text AND e.event = 'notification.created'
          AND (e.data ->> 'id') = c.id::text;
    END IF;
END
$$;

-- The write-back on dismissal. The excerpt is made as `hub.domain.notifications.excerpt` makes it: the
-- text on one line, cut to 200 characters with an ellipsis.
CREATE FUNCTION private.unhide_reply_notifications(p_comment_id uuid, p_post_id uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    WITH shown AS (
        SELECT n.id, p.title,
               btrim(regexp_replace(coalesce(c.content, ''), '\s+', ' ', 'g')) AS line
        FROM public.notifications n
        JOIN public.community_comments c ON c.id::text = (n.data ->> 'comment_id')
        JOIN public.community_posts p ON p.id = c.post_id
        WHERE n.data ? 'excerpt' AND n.data @> '{"hidden": true}'::jsonb
          AND NOT n.data @> '{"redacted": true}'::jsonb
          AND CASE WHEN p_post_id IS NULL THEN (n.data ->> 'comment_id') = p_comment_id::text
                   ELSE (n.data ->> 'post_id') = p_post_id::text END
          AND c.hidden_at IS NULL AND p.hidden_at IS NULL AND NOT c.is_deleted
    ), changed AS (
        UPDATE public.notifications n
        SET data = (n.data - 'hidden') || jsonb_build_object(
            'post_title', s.title,
            'excerpt', CASE WHEN char_length(s.line) <= 200 THEN s.line ELSE left(s.line, 199) || '…' END)
        FROM shown s WHERE n.id = s.id
        RETURNING n.id, n.user_id, n.data)
    UPDATE realtime.events e SET data = jsonb_set(e.data, '{data}', c.data)
    FROM changed c
    WHERE e.channel = 'user:' || c.user_id::text AND e.event = 'notification.created'
      AND (e.data ->> 'id') = c.id::text;
END
$$;

CREATE FUNCTION private.hide_comment_notifications() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF NEW.hidden_at IS NOT NULL THEN
        PERFORM private.hide_reply_notifications(NEW.id, NULL);
    ELSE
        PERFORM private.unhide_reply_notifications(NEW.id, NULL);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION private.hide_post_notifications() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF NEW.hidden_at IS NOT NULL THEN
        PERFORM private.hide_reply_notifications(NULL, NEW.id);
    ELSE
        PERFORM private.unhide_reply_notifications(NULL, NEW.id);
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION private.hide_reply_notifications(uuid, uuid), private.unhide_reply_notifications(uuid, uuid),
    private.hide_comment_notifications(), private.hide_post_notifications()
    FROM PUBLIC, anon, authenticated, service_role;

CREATE TRIGGER trg_community_comments_hide_notifications
    AFTER UPDATE OF hidden_at ON public.community_comments
    FOR EACH ROW WHEN ((NEW.hidden_at IS NULL) <> (OLD.hidden_at IS NULL))
    EXECUTE FUNCTION private.hide_comment_notifications();
CREATE TRIGGER trg_community_posts_hide_notifications
    AFTER UPDATE OF hidden_at ON public.community_posts
    FOR EACH ROW WHEN ((NEW.hidden_at IS NULL) <> (OLD.hidden_at IS NULL))
    EXECUTE FUNCTION private.hide_post_notifications();

-- What is hidden already: one pass, once.
SELECT private.hide_reply_notifications(NULL, p.id) FROM public.community_posts p WHERE p.hidden_at IS NOT NULL;
SELECT private.hide_reply_notifications(c.id, NULL) FROM public.community_comments c WHERE c.hidden_at IS NOT NULL;

-- Erasing an account (persistence.account_data.erase) renames the account in other users' reply
-- notifications and in every logged view naming it in a person object ({id, full_name[, avatar_url]}: a
-- post's, comment's or room message's `author`, a session's `host`, a participant's `user`); these
-- indexes find them without a scan.
CREATE INDEX idx_notifications_author ON public.notifications ((data ->> 'author_id')) WHERE data ? 'author_id';
CREATE INDEX idx_realtime_events_author ON realtime.events ((data -> 'author' ->> 'id')) WHERE data ? 'author';
CREATE INDEX idx_realtime_events_host ON realtime.events ((data -> 'host' ->> 'id')) WHERE data ? 'host';
CREATE INDEX idx_realtime_events_user ON realtime.events ((data -> 'user' ->> 'id')) WHERE data ? 'user';
