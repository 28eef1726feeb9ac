-- 0004: community posts, comments and votes, with their counter triggers.
--
-- Counters (upvotes_count, downvotes_count, comments_count, last_activity_at) are denormalised and
-- changed ONLY by the SECURITY DEFINER triggers below, atomically (x = x + 1) in the transaction
-- that writes the counted row, so each counter equals the count of its rows under any interleaving.
-- Users cannot write them: 0008 grants UPDATE on the user-editable columns only.

CREATE TABLE public.community_posts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    author_id uuid REFERENCES auth.users (id) ON DELETE CASCADE NOT NULL,
    title text NOT NULL,
    content text,
    post_type varchar(20) NOT NULL DEFAULT 'discussion' CHECK (post_type IN ('discussion', 'question', 'announcement')),
    category text,
    tags text[],
    is_pinned boolean NOT NULL DEFAULT false,
    is_locked boolean NOT NULL DEFAULT false,
    upvotes_count integer NOT NULL DEFAULT 0 CHECK (upvotes_count >= 0),
    downvotes_count integer NOT NULL DEFAULT 0 CHECK (downvotes_count >= 0),
    comments_count integer NOT NULL DEFAULT 0 CHECK (comments_count >= 0),
    views_count integer NOT NULL DEFAULT 0 CHECK (views_count >= 0),
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    metadata jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.community_comments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    post_id uuid REFERENCES public.community_posts (id) ON DELETE CASCADE NOT NULL,
    author_id uuid REFERENCES auth.users (id) ON DELETE CASCADE NOT NULL,
    parent_comment_id uuid REFERENCES public.community_comments (id) ON DELETE CASCADE,
    content text NOT NULL,
    upvotes_count integer NOT NULL DEFAULT 0 CHECK (upvotes_count >= 0),
    downvotes_count integer NOT NULL DEFAULT 0 CHECK (downvotes_count >= 0),
    is_deleted boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Polymorphic: target_id has no foreign key. Existence is checked by the counter trigger
-- (foreign_key_violation when the target is missing) and votes are deleted with their target.
CREATE TABLE public.community_votes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE NOT NULL,
    target_type varchar(20) NOT NULL CHECK (target_type IN ('post', 'comment')),
    target_id uuid NOT NULL,
    vote_type varchar(10) NOT NULL CHECK (vote_type IN ('upvote', 'downvote')),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, target_type, target_id)
);

-- Seed indexes (activity extended with id for keyset pagination).
CREATE INDEX idx_posts_author ON public.community_posts (author_id);
CREATE INDEX idx_posts_category ON public.community_posts (category);
CREATE INDEX idx_posts_pinned ON public.community_posts (is_pinned) WHERE is_pinned = true;
CREATE INDEX idx_posts_activity ON public.community_posts (last_activity_at DESC, id DESC);
CREATE INDEX idx_comments_post ON public.community_comments (post_id);
CREATE INDEX idx_comments_author ON public.community_comments (author_id);
CREATE INDEX idx_votes_target ON public.community_votes (target_type, target_id);
-- Keyset pagination: sort=new, sort=active (pinned first), sort=top, and the filtered variants.
CREATE INDEX idx_posts_created ON public.community_posts (created_at, id);
CREATE INDEX idx_posts_pinned_activity ON public.community_posts (is_pinned, last_activity_at, id);
CREATE INDEX idx_posts_category_activity ON public.community_posts (category, is_pinned, last_activity_at, id);
CREATE INDEX idx_posts_type_activity ON public.community_posts (post_type, is_pinned, last_activity_at, id);
CREATE INDEX idx_posts_author_created ON public.community_posts (author_id, created_at, id);
CREATE INDEX idx_posts_score ON public.community_posts ((upvotes_count - downvotes_count), id);
CREATE INDEX idx_posts_tags ON public.community_posts USING gin (tags);
-- Thread order (note 12: (post_id, created_at)), plus id as the keyset tiebreaker.
CREATE INDEX idx_comments_post_created ON public.community_comments (post_id, created_at, id);
CREATE INDEX idx_comments_parent ON public.community_comments (parent_comment_id);

-- updated_at: only on edits, not on counter bumps.
CREATE TRIGGER trg_community_posts_updated_at
    BEFORE UPDATE OF author_id, title, content, post_type, category, tags, is_pinned, is_locked, metadata
    ON public.community_posts
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER trg_community_comments_updated_at
    BEFORE UPDATE OF post_id, author_id, parent_comment_id, content, is_deleted
    ON public.community_comments
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- Moderation columns: only admins may change is_pinned / is_locked when running as the user.
-- SECURITY INVOKER on purpose: current_user is the caller's role.
CREATE OR REPLACE FUNCTION public.guard_post_moderation() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    IF (NEW.is_pinned IS DISTINCT FROM OLD.is_pinned OR NEW.is_locked IS DISTINCT FROM OLD.is_locked)
       AND current_user = 'authenticated' AND NOT public.is_admin() THEN
        RAISE EXCEPTION 'only admins may pin, unpin, lock or unlock a post'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER trg_community_posts_moderation BEFORE UPDATE OF is_pinned, is_locked ON public.community_posts
    FOR EACH ROW EXECUTE FUNCTION public.guard_post_moderation();

-- comments_count and last_activity_at of the post.
CREATE OR REPLACE FUNCTION public.community_comments_counts() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE public.community_posts
           SET comments_count = comments_count + 1,
               last_activity_at = greatest(last_activity_at, now())
         WHERE id = NEW.post_id;
    ELSIF TG_OP = 'DELETE' THEN
        -- a hard delete (soft delete keeps the row); no-op when the post itself is being deleted
        UPDATE public.community_posts
           SET comments_count = comments_count - 1
         WHERE id = OLD.post_id;
    ELSIF NEW.post_id IS DISTINCT FROM OLD.post_id THEN
        UPDATE public.community_posts SET comments_count = comments_count - 1 WHERE id = OLD.post_id;
        UPDATE public.community_posts SET comments_count = comments_count + 1 WHERE id = NEW.post_id;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION public.community_comments_counts() FROM PUBLIC;

CREATE TRIGGER trg_community_comments_counts
    AFTER INSERT OR DELETE OR UPDATE OF post_id ON public.community_comments
    FOR EACH ROW EXECUTE FUNCTION public.community_comments_counts();

-- Applies a vote delta to a post or comment and notifies `hub_state` with the new absolute counts.
-- Not SECURITY DEFINER and not executable by any client role: only called from the definer trigger.
CREATE OR REPLACE FUNCTION private.apply_vote_delta(
    p_target_type text, p_target_id uuid, p_up integer, p_down integer, p_require boolean
) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
DECLARE
    v_post uuid;
    v_up integer;
    v_down integer;
BEGIN
    IF p_target_type = 'post' THEN
        UPDATE public.community_posts
           SET upvotes_count = upvotes_count + p_up,
               downvotes_count = downvotes_count + p_down
         WHERE id = p_target_id
        RETURNING id, upvotes_count, downvotes_count INTO v_post, v_up, v_down;
    ELSE
        UPDATE public.community_comments
           SET upvotes_count = upvotes_count + p_up,
               downvotes_count = downvotes_count + p_down
         WHERE id = p_target_id
        RETURNING post_id, upvotes_count, downvotes_count INTO v_post, v_up, v_down;
    END IF;
    IF NOT FOUND THEN
        IF p_require THEN
            RAISE EXCEPTION 'vote target %/% does not exist', p_target_type, p_target_id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN;  -- the target is being deleted in this transaction
    END IF;
    PERFORM pg_notify('hub_state', json_build_object(
        'k', 'votes', 'post_id', v_post, 'target_type', p_target_type, 'target_id', p_target_id,
        'up', v_up, 'down', v_down)::text);
END
$$;
REVOKE ALL ON FUNCTION private.apply_vote_delta(text, uuid, integer, integer, boolean) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.community_votes_counts() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.target_type = OLD.target_type AND NEW.target_id = OLD.target_id THEN
        IF NEW.vote_type <> OLD.vote_type THEN  -- switch
            PERFORM private.apply_vote_delta(NEW.target_type, NEW.target_id,
                (NEW.vote_type = 'upvote')::int - (OLD.vote_type = 'upvote')::int,
                (NEW.vote_type = 'downvote')::int - (OLD.vote_type = 'downvote')::int,
                true);
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM private.apply_vote_delta(OLD.target_type, OLD.target_id,
            -(OLD.vote_type = 'upvote')::int, -(OLD.vote_type = 'downvote')::int, false);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM private.apply_vote_delta(NEW.target_type, NEW.target_id,
            (NEW.vote_type = 'upvote')::int, (NEW.vote_type = 'downvote')::int, true);
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION public.community_votes_counts() FROM PUBLIC;

CREATE TRIGGER trg_community_votes_counts AFTER INSERT OR UPDATE OR DELETE ON public.community_votes
    FOR EACH ROW EXECUTE FUNCTION public.community_votes_counts();

-- Deleting a post or comment deletes its votes. A post's comments go by ON DELETE CASCADE, which
-- fires this trigger for each of them, so their votes go too.
CREATE OR REPLACE FUNCTION public.community_delete_target_votes() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
AS $$
BEGIN
    DELETE FROM public.community_votes
     WHERE target_type = TG_ARGV[0] AND target_id = OLD.id;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION public.community_delete_target_votes() FROM PUBLIC;

CREATE TRIGGER trg_community_posts_delete_votes AFTER DELETE ON public.community_posts
    FOR EACH ROW EXECUTE FUNCTION public.community_delete_target_votes('post');
CREATE TRIGGER trg_community_comments_delete_votes AFTER DELETE ON public.community_comments
    FOR EACH ROW EXECUTE FUNCTION public.community_delete_target_votes('comment');
