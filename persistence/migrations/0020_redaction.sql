-- 0020: a deleted post, comment or room message leaves the event log too.
--
-- Each of them was announced with its whole view (`post.created`, `comment.created`, `chat.message`, …),
-- and the log keeps those rows for resume and the history route. Deleting the row (soft or hard, by any
-- writer: the hub, `public.delete_comment`, an author's own SQL, a cascade from a post, session or account)
-- now rewrites, in the same transaction, every logged view of it: its author-written fields become null
-- and `"redacted": true` is added. Ids, authors, parents and times stay, so a thread still renders;
-- rows, order and sequence numbers stay, so resume has no gap. No notification is sent: the rewrite is
-- not a new event, and every later read of the log (resume, history, a listener's gap fill) sees it.
-- Moderation evidence stays where 0017 put it (`private.deleted_content`, service_role only).

-- Every view an entity is announced with carries `content` (posts, comments, room messages), and only
-- those are ever redacted: the index holds just them, found by channel and the view's `id`, so a delete
-- reads its own rows instead of a channel's whole log (the feed's grows with every post).
CREATE INDEX idx_realtime_events_view_id ON realtime.events (channel, (data ->> 'id')) WHERE data ? 'content';

-- The rewrite itself; owner-only (no grant): the triggers below are its only callers.
CREATE FUNCTION private.redact_events(p_channel text, p_id uuid, p_fields text[]) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
    UPDATE realtime.events e
    SET data = e.data || (SELECT jsonb_object_agg(f, NULL::text) FROM unnest(p_fields) f)
                      || '{"redacted": true}'::jsonb
    WHERE e.channel = p_channel
      AND e.data ? 'content'
      AND (e.data ->> 'id') = p_id::text
      AND NOT e.data @> '{"redacted": true}'::jsonb
$$;
REVOKE ALL ON FUNCTION private.redact_events(text, uuid, text[]) FROM PUBLIC, anon, authenticated, service_role;

-- Channel names as `channels.names.ChannelName` prints them: `feed`, `thread:<uuid>`, `session:<uuid>`
-- (uuid::text is the canonical lower-case form). A post's author-written fields: title, content,
-- category, tags; a comment's and a room message's: content.
CREATE FUNCTION private.redact_post_events() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    PERFORM private.redact_events('feed', OLD.id, ARRAY['title', 'content', 'category', 'tags']);
    PERFORM private.redact_events('thread:' || OLD.id::text, OLD.id, ARRAY['title', 'content', 'category', 'tags']);
    RETURN NULL;
END
$$;

CREATE FUNCTION private.redact_comment_events() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    PERFORM private.redact_events('thread:' || OLD.post_id::text, OLD.id, ARRAY['content']);
    RETURN NULL;
END
$$;

CREATE FUNCTION private.redact_session_message_events() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    PERFORM private.redact_events('session:' || OLD.session_id::text, OLD.id, ARRAY['content']);
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION private.redact_post_events(), private.redact_comment_events(),
    private.redact_session_message_events() FROM PUBLIC, anon, authenticated, service_role;

-- A soft delete (the row stays, `is_deleted` turns true) and a hard one (the row goes, e.g. with its post
-- or session) both redact; a row deleted already was redacted then.
CREATE TRIGGER trg_community_posts_redact_events
    AFTER DELETE ON public.community_posts
    FOR EACH ROW EXECUTE FUNCTION private.redact_post_events();
CREATE TRIGGER trg_community_comments_redact_events_on_soft_delete
    AFTER UPDATE OF is_deleted ON public.community_comments
    FOR EACH ROW WHEN (NEW.is_deleted AND NOT OLD.is_deleted) EXECUTE FUNCTION private.redact_comment_events();
CREATE TRIGGER trg_community_comments_redact_events_on_delete
    AFTER DELETE ON public.community_comments
    FOR EACH ROW WHEN (NOT OLD.is_deleted) EXECUTE FUNCTION private.redact_comment_events();
CREATE TRIGGER trg_session_messages_redact_events_on_soft_delete
    AFTER UPDATE OF is_deleted ON public.session_messages
    FOR EACH ROW WHEN (NEW.is_deleted AND NOT OLD.is_deleted) EXECUTE FUNCTION private.redact_session_message_events();
CREATE TRIGGER trg_session_messages_redact_events_on_delete
    AFTER DELETE ON public.session_messages
    FOR EACH ROW WHEN (NOT OLD.is_deleted) EXECUTE FUNCTION private.redact_session_message_events();

-- What was deleted before this migration: every logged view of a post, comment or room message that is
-- gone or deleted now (a deleted post's comments went with it). One pass over the log, once.
UPDATE realtime.events e
SET data = e.data || '{"title": null, "content": null, "category": null, "tags": null, "redacted": true}'::jsonb
WHERE (e.channel = 'feed' OR e.channel LIKE 'thread:%') AND e.event LIKE 'post.%' AND e.data ? 'content'
  AND NOT EXISTS (SELECT FROM public.community_posts p WHERE p.id::text = e.data ->> 'id');
UPDATE realtime.events e
SET data = e.data || '{"content": null, "redacted": true}'::jsonb
WHERE e.channel LIKE 'thread:%' AND e.event LIKE 'comment.%' AND e.data ? 'content'
  AND NOT EXISTS (SELECT FROM public.community_comments c WHERE c.id::text = e.data ->> 'id' AND NOT c.is_deleted);
UPDATE realtime.events e
SET data = e.data || '{"content": null, "redacted": true}'::jsonb
WHERE e.channel LIKE 'session:%' AND e.data ? 'content'
  AND NOT EXISTS (SELECT FROM public.session_messages m WHERE m.id::text = e.data ->> 'id' AND NOT m.is_deleted);
