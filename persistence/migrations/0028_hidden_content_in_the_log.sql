-- 0028: content hidden pending review (0022) leaves the event log the way deleted content does (0020);
-- a comment on a hidden post is hidden with it; the learner's view of an assessment keeps only safe keys.
--
-- Hiding a post, comment or room message (hidden_at set) rewrites, in the same transaction, every logged
-- view of it: its author-written fields become null and `"hidden": true` is added, so the history route,
-- a websocket resume and a listener's gap fill (all read the log as service_role) no longer carry the
-- text. The text itself stays in the row, which 0022's restrictive policy shows to its author and admins
-- only. A dismissal (hidden_at cleared) writes the row's current fields back into those views and drops
-- the mark. An event appended while the row is hidden (an edit, a pin, an answer) is stored, and its
-- notification sent, already rewritten (append_event now notifies the row as stored). Redaction wins: a
-- view redacted by a delete is never rewritten back.

-- The rewrite on hide; owner-only (no grant): the triggers below are its only callers.
CREATE FUNCTION private.hide_events(p_channel text, p_id uuid, p_fields text[]) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
    UPDATE realtime.events e
    SET data = e.data || (SELECT jsonb_object_agg(f, NULL::text) FROM unnest(p_fields) f)
                      || '{"hidden": true}'::jsonb
    WHERE e.channel = p_channel
      AND e.data ? 'content'
      AND (e.data ->> 'id') = p_id::text
      AND NOT e.data @> '{"hidden": true}'::jsonb
      AND NOT e.data @> '{"redacted": true}'::jsonb
$$;

-- The rewrite on dismissal: `p_fields` holds the row's author-written fields as they are now.
CREATE FUNCTION private.unhide_events(p_channel text, p_id uuid, p_fields jsonb) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
    UPDATE realtime.events e
    SET data = (e.data - 'hidden') || p_fields
    WHERE e.channel = p_channel
      AND e.data ? 'content'
      AND (e.data ->> 'id') = p_id::text
      AND e.data @> '{"hidden": true}'::jsonb
      AND NOT e.data @> '{"redacted": true}'::jsonb
$$;
REVOKE ALL ON FUNCTION private.hide_events(text, uuid, text[]), private.unhide_events(text, uuid, jsonb)
    FROM PUBLIC, anon, authenticated, service_role;

-- Channel names and fields as in 0020: a post is logged on `feed` and `thread:<id>` with title, content,
-- category and tags; a comment on `thread:<post_id>` and a room message on `session:<id>` with content.
CREATE FUNCTION private.hide_post_events() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF NEW.hidden_at IS NOT NULL THEN
        PERFORM private.hide_events('feed', NEW.id, ARRAY['title', 'content', 'category', 'tags']);
        PERFORM private.hide_events('thread:' || NEW.id::text, NEW.id, ARRAY['title', 'content', 'category', 'tags']);
    ELSE
        PERFORM private.unhide_events(ch, NEW.id, jsonb_build_object(
                    'title', NEW.title, 'content', NEW.content, 'category', NEW.category, 'tags', to_jsonb(NEW.tags)))
        FROM unnest(ARRAY['feed', 'thread:' || NEW.id::text]) ch;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION private.hide_comment_events() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF NEW.hidden_at IS NOT NULL THEN
        PERFORM private.hide_events('thread:' || NEW.post_id::text, NEW.id, ARRAY['content']);
    ELSE
        PERFORM private.unhide_events('thread:' || NEW.post_id::text, NEW.id,
                                      jsonb_build_object('content', NEW.content));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION private.hide_session_message_events() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF NEW.hidden_at IS NOT NULL THEN
        PERFORM private.hide_events('session:' || NEW.session_id::text, NEW.id, ARRAY['content']);
    ELSE
        PERFORM private.unhide_events('session:' || NEW.session_id::text, NEW.id,
                                      jsonb_build_object('content', NEW.content));
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION private.hide_post_events(), private.hide_comment_events(),
    private.hide_session_message_events() FROM PUBLIC, anon, authenticated, service_role;

CREATE TRIGGER trg_community_posts_hide_events
    AFTER UPDATE OF hidden_at ON public.community_posts
    FOR EACH ROW WHEN ((NEW.hidden_at IS NULL) <> (OLD.hidden_at IS NULL))
    EXECUTE FUNCTION private.hide_post_events();
CREATE TRIGGER trg_community_comments_hide_events
    AFTER UPDATE OF hidden_at ON public.community_comments
    FOR EACH ROW WHEN ((NEW.hidden_at IS NULL) <> (OLD.hidden_at IS NULL))
    EXECUTE FUNCTION private.hide_comment_events();
CREATE TRIGGER trg_session_messages_hide_events
    AFTER UPDATE OF hidden_at ON public.session_messages
    FOR EACH ROW WHEN ((NEW.hidden_at IS NULL) <> (OLD.hidden_at IS NULL))
    EXECUTE FUNCTION private.hide_session_message_events();

-- A view appended while its row is hidden is stored rewritten. Only views (they carry `content` and a
-- uuid `id`) are looked up, by primary key, in the table the channel and event name point at.
CREATE FUNCTION realtime.hide_new_event() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_id uuid;
BEGIN
    IF NOT NEW.data ? 'content' OR NEW.data @> '{"redacted": true}'::jsonb
       OR coalesce(NEW.data ->> 'id', '') !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        RETURN NEW;
    END IF;
    v_id := (NEW.data ->> 'id')::uuid;
    IF (NEW.channel = 'feed' OR NEW.channel LIKE 'thread:%') AND NEW.event LIKE 'post.%'
       AND EXISTS (SELECT FROM public.community_posts WHERE id = v_id AND hidden_at IS NOT NULL) THEN
        NEW.data := NEW.data || '{"title": null, "content": null, "category": null, "tags": null, "hidden": true}'::jsonb;
    ELSIF NEW.channel LIKE 'thread:%' AND NEW.event LIKE 'comment.%'
       AND EXISTS (SELECT FROM public.community_comments WHERE id = v_id AND hidden_at IS NOT NULL) THEN
        NEW.data := NEW.data || '{"content": null, "hidden": true}'::jsonb;
    ELSIF NEW.channel LIKE 'session:%'
       AND EXISTS (SELECT FROM public.session_messages WHERE id = v_id AND hidden_at IS NOT NULL) THEN
        NEW.data := NEW.data || '{"content": null, "hidden": true}'::jsonb;
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION realtime.hide_new_event() FROM PUBLIC, anon, authenticated, service_role;
CREATE TRIGGER trg_realtime_events_hide_new
    BEFORE INSERT ON realtime.events
    FOR EACH ROW EXECUTE FUNCTION realtime.hide_new_event();

-- As 0007's (with 0017's search_path), but the notification carries the data as stored (rewritten by the trigger above).
CREATE OR REPLACE FUNCTION realtime.append_event(p_channel text, p_event text, p_data jsonb)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    SET "TimeZone" = 'UTC'
AS $$
DECLARE
    v_seq bigint;
    v_created timestamptz;
    v_data jsonb;
    v_payload text;
BEGIN
    INSERT INTO realtime.channel_heads AS h (channel, seq)
    VALUES (p_channel, 1)
    ON CONFLICT (channel) DO UPDATE SET seq = h.seq + 1
    RETURNING h.seq INTO v_seq;

    INSERT INTO realtime.events (channel, seq, event, data)
    VALUES (p_channel, v_seq, p_event, p_data)
    RETURNING created_at, data INTO v_created, v_data;

    v_payload := json_build_object('c', p_channel, 's', v_seq, 'e', p_event, 'd', v_data, 't', v_created)::text;
    IF octet_length(v_payload) > 7900 THEN
        v_payload := json_build_object('c', p_channel, 's', v_seq)::text;
    END IF;
    PERFORM pg_notify('hub_events', v_payload);
    RETURN v_seq;
END
$$;

-- What is hidden already: one pass over the log, once.
SELECT private.hide_events('feed', p.id, ARRAY['title', 'content', 'category', 'tags']),
       private.hide_events('thread:' || p.id::text, p.id, ARRAY['title', 'content', 'category', 'tags'])
FROM public.community_posts p WHERE p.hidden_at IS NOT NULL;
SELECT private.hide_events('thread:' || c.post_id::text, c.id, ARRAY['content'])
FROM public.community_comments c WHERE c.hidden_at IS NOT NULL;
SELECT private.hide_events('session:' || m.session_id::text, m.id, ARRAY['content'])
FROM public.session_messages m WHERE m.hidden_at IS NOT NULL;

-- A comment is visible only with its post: a hidden post's comments are gone for every reader its post
-- is gone for (the parent's own policies decide, under the reader's RLS), as the thread is.
CREATE POLICY community_comments_post_visible ON public.community_comments
    AS RESTRICTIVE FOR SELECT TO authenticated
    USING (EXISTS (SELECT FROM public.community_posts p WHERE p.id = community_comments.post_id));

-- The learner's view of an assessment: an allowlist. Top level: `pass_score` and `questions`; per
-- question: `q`, `choices`, `tolerance` and the derived `kind`. Any other key an author's SQL puts in
-- (`correct_answer`, `solution`, an `answer_key`) stays server-side.
CREATE OR REPLACE FUNCTION private.assessment_for_learners(p_assessment jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog
AS $$
    SELECT CASE
        WHEN p_assessment IS NULL THEN NULL
        WHEN jsonb_typeof(p_assessment) <> 'object' THEN NULL
        ELSE jsonb_strip_nulls(jsonb_build_object('pass_score', p_assessment -> 'pass_score'))
             || CASE WHEN jsonb_typeof(p_assessment -> 'questions') = 'array' THEN jsonb_build_object('questions', (
                SELECT coalesce(jsonb_agg(
                           jsonb_strip_nulls(jsonb_build_object('q', q -> 'q', 'choices', q -> 'choices',
                                                                'tolerance', q -> 'tolerance'))
                           || CASE
                                  WHEN jsonb_typeof(q -> 'answer') = 'array' THEN '{"kind": "multiple"}'
                                  WHEN jsonb_typeof(q -> 'answer') = 'number'
                                       AND jsonb_typeof(q -> 'choices') = 'array' THEN '{"kind": "single"}'
                                  WHEN jsonb_typeof(q -> 'answer') = 'number' THEN '{"kind": "numeric"}'
                                  ELSE '{}'
                              END::jsonb
                           ORDER BY n), '[]')
                FROM jsonb_array_elements(p_assessment -> 'questions') WITH ORDINALITY AS t(q, n)
                WHERE jsonb_typeof(q) = 'object'))
                ELSE '{}'::jsonb END
    END
$$;
