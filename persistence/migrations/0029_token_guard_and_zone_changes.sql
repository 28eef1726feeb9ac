-- 0029: a revoked, banned or deleted account's token writes nothing in SQL; the profile's time zone changes
-- at most once a week.
--
-- REST refuses a token issued at or before its account's cutoff (private.token_cutoffs, 0018/0019) with 401
-- `token_revoked`, but the RLS policies only looked at the claims, so the same JWT kept writing through
-- PostgREST until it expired. private.require_live_token() is the database's copy of the hub's rule
-- (hub/rules/revocation.py, persistence.identity.token_issued_us): the token's `iat_us` (else the start of
-- its `iat` second) must be strictly after the cutoff, and the account must exist, not be deleted and not
-- be banned now. It raises SQLSTATE PT401 (PostgREST answers it 401; the hub `token_revoked`) rather than
-- returning false, so a write is refused loudly instead of matching no row. Reads are left alone: a token
-- reads what its role reads until it expires (docs/security.md).
CREATE FUNCTION private.require_live_token() RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    claims jsonb := coalesce(auth.jwt(), '{}'::jsonb);
    issued_us numeric;
BEGIN
    IF claims ->> 'role' = 'service_role' THEN
        RETURN true;  -- the hub's own writes (delete_comment as service_role); no user token to revoke
    END IF;
    issued_us := CASE
        WHEN jsonb_typeof(claims -> 'iat_us') = 'number'
             AND (claims ->> 'iat_us')::numeric = trunc((claims ->> 'iat_us')::numeric)
            THEN (claims ->> 'iat_us')::numeric
        WHEN jsonb_typeof(claims -> 'iat') = 'number' THEN trunc((claims ->> 'iat')::numeric) * 1000000
        ELSE 0 END;
    PERFORM 1
    FROM auth.users u LEFT JOIN private.token_cutoffs c ON c.user_id = u.id
    WHERE u.id = auth.uid()
      AND u.deleted_at IS NULL
      AND (u.banned_until IS NULL OR u.banned_until <= now())
      AND (c.valid_after IS NULL OR issued_us > extract(epoch FROM c.valid_after) * 1000000);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'token revoked: the account''s tokens issued until now no longer write'
            USING ERRCODE = 'PT401';
    END IF;
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION private.require_live_token() FROM PUBLIC, anon, authenticated;
-- The policies below run it as the writer; the writer still cannot name it (no USAGE on `private`).
GRANT EXECUTE ON FUNCTION private.require_live_token() TO authenticated;

-- Restrictive: ANDed with the permissive policies. `(SELECT …)` makes it an InitPlan, run once per
-- statement rather than once per row.
CREATE POLICY community_posts_live_token_insert ON public.community_posts AS RESTRICTIVE
    FOR INSERT TO authenticated WITH CHECK ((SELECT private.require_live_token()));
CREATE POLICY community_posts_live_token_update ON public.community_posts AS RESTRICTIVE
    FOR UPDATE TO authenticated USING ((SELECT private.require_live_token()));
CREATE POLICY community_posts_live_token_delete ON public.community_posts AS RESTRICTIVE
    FOR DELETE TO authenticated USING ((SELECT private.require_live_token()));

CREATE POLICY community_comments_live_token_insert ON public.community_comments AS RESTRICTIVE
    FOR INSERT TO authenticated WITH CHECK ((SELECT private.require_live_token()));
CREATE POLICY community_comments_live_token_update ON public.community_comments AS RESTRICTIVE
    FOR UPDATE TO authenticated USING ((SELECT private.require_live_token()));

CREATE POLICY community_votes_live_token_insert ON public.community_votes AS RESTRICTIVE
    FOR INSERT TO authenticated WITH CHECK ((SELECT private.require_live_token()));
CREATE POLICY community_votes_live_token_update ON public.community_votes AS RESTRICTIVE
    FOR UPDATE TO authenticated USING ((SELECT private.require_live_token()));
CREATE POLICY community_votes_live_token_delete ON public.community_votes AS RESTRICTIVE
    FOR DELETE TO authenticated USING ((SELECT private.require_live_token()));

CREATE POLICY live_sessions_live_token_insert ON public.live_sessions AS RESTRICTIVE
    FOR INSERT TO authenticated WITH CHECK ((SELECT private.require_live_token()));
CREATE POLICY live_sessions_live_token_update ON public.live_sessions AS RESTRICTIVE
    FOR UPDATE TO authenticated USING ((SELECT private.require_live_token()));

-- Admin-only tables: a demoted admin's older token still says `admin` in its claims.
CREATE POLICY lessons_live_token_insert ON public.lessons AS RESTRICTIVE
    FOR INSERT TO authenticated WITH CHECK ((SELECT private.require_live_token()));
CREATE POLICY lessons_live_token_update ON public.lessons AS RESTRICTIVE
    FOR UPDATE TO authenticated USING ((SELECT private.require_live_token()));
CREATE POLICY lessons_live_token_delete ON public.lessons AS RESTRICTIVE
    FOR DELETE TO authenticated USING ((SELECT private.require_live_token()));

CREATE POLICY notifications_live_token_update ON public.notifications AS RESTRICTIVE
    FOR UPDATE TO authenticated USING ((SELECT private.require_live_token()));

CREATE POLICY subscription_plans_live_token_insert ON public.subscription_plans AS RESTRICTIVE
    FOR INSERT TO authenticated WITH CHECK ((SELECT private.require_live_token()));
CREATE POLICY subscription_plans_live_token_update ON public.subscription_plans AS RESTRICTIVE
    FOR UPDATE TO authenticated USING ((SELECT private.require_live_token()));

-- delete_comment() runs with its owner's rights, past RLS: it checks the token itself.
CREATE OR REPLACE FUNCTION public.delete_comment(p_comment_id uuid) RETURNS boolean
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
    WITH deleted AS (
        UPDATE public.community_comments
           SET is_deleted = true
         WHERE id = p_comment_id AND NOT is_deleted AND (author_id = auth.uid() OR public.is_admin())
           AND private.require_live_token()
        RETURNING 1
    )
    SELECT EXISTS (SELECT FROM deleted)
$$;

-- ---------------------------------------------------------------- profiles: the token, the time zone
-- `my_profile` writes with its owner's rights (no RLS), so the profile's guards are a trigger on the table,
-- for the client roles.
--
-- A streak day is a day in the profile's zone (hub/rules/streak.py): moving from Etc/GMT+12 to
-- Pacific/Kiritimati jumps the local date by up to two days, so changing the zone at will adds streak days.
-- The zone may change once in 7 days (the first change, from the signup default, any time); sooner is
-- SQLSTATE HB429 with the seconds to wait as DETAIL, which the hub answers 429 `rate_limited` with
-- Retry-After, as 0016's budgets.
ALTER TABLE public.user_profiles ADD COLUMN timezone_changed_at timestamptz NULL;

CREATE FUNCTION private.guard_profile_write() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    next_change timestamptz := OLD.timezone_changed_at + interval '7 days';
BEGIN
    PERFORM private.require_live_token();
    IF NEW.timezone IS DISTINCT FROM OLD.timezone THEN
        IF next_change > now() THEN
            RAISE EXCEPTION 'the time zone changes at most once in 7 days'
                USING ERRCODE = 'HB429',
                      DETAIL = greatest(1, ceil(extract(epoch FROM next_change - now())))::text;
        END IF;
        NEW.timezone_changed_at := now();
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION private.guard_profile_write() FROM PUBLIC, anon, authenticated;

CREATE TRIGGER trg_user_profiles_client_write BEFORE UPDATE ON public.user_profiles
    FOR EACH ROW WHEN (current_user IN ('anon', 'authenticated'))
    EXECUTE FUNCTION private.guard_profile_write();
