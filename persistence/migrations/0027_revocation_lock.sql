-- 0027: revocations and token issuing ordered by one lock, and a ban ends the account's sessions however it
-- is written.
--
-- Every issuer of a token pair (signup, login, refresh, password change) reads the user's auth.users row
-- FOR SHARE and takes the token's issue time from clock_timestamp() after that lock, in the transaction
-- that issues (persistence.account_state.lock_issuer). Every revocation now first takes the same row
-- FOR NO KEY UPDATE (the lock an UPDATE of the row takes; it conflicts with FOR SHARE, not with the FOR KEY
-- SHARE of foreign-key checks), then moves the cutoff, also from clock_timestamp(). So an issuer either
-- commits before the revocation locks (its token is older than the cutoff: revoked) or waits for the
-- revocation's commit and then sees the ban, the deletion or the revoked family, or issues after the
-- cutoff. One clock, the database's, for both sides.
CREATE OR REPLACE FUNCTION private.revoke_tokens(target uuid, kind text) RETURNS timestamptz
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    cutoff timestamptz;
BEGIN
    PERFORM 1 FROM auth.users WHERE id = target FOR NO KEY UPDATE;
    INSERT INTO private.token_cutoffs AS c (user_id, valid_after)
    VALUES (target, clock_timestamp())
    ON CONFLICT (user_id) DO UPDATE SET valid_after = greatest(c.valid_after, excluded.valid_after)
    RETURNING valid_after INTO cutoff;
    PERFORM pg_notify('hub_accounts', json_build_object(
        'u', target, 'k', kind, 'a', (extract(epoch FROM cutoff) * 1000000)::bigint)::text);
    RETURN cutoff;
END
$$;

-- Signs the user out everywhere: every access token issued until now and every refresh-token family end
-- (logout-all, a password change, a ban). The families are revoked after revoke_tokens took the row lock,
-- in a statement of their own, so a refresh that committed a new token just before is seen and revoked.
CREATE FUNCTION private.end_sessions(target uuid) RETURNS timestamptz
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    cutoff timestamptz;
BEGIN
    cutoff := private.revoke_tokens(target, 'revoked');
    UPDATE private.refresh_tokens SET revoked_at = now() WHERE user_id = target AND revoked_at IS NULL;
    RETURN cutoff;
END
$$;
REVOKE ALL ON FUNCTION private.end_sessions(uuid) FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION private.end_sessions(uuid) TO service_role;

-- A ban (the admin API's, a report's ban_author, or one written straight into auth.users in SQL) ends the
-- user's sessions: otherwise the refresh tokens from before it would work again once it is lifted.
CREATE FUNCTION private.end_sessions_of_banned_user() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    PERFORM private.end_sessions(NEW.id);
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION private.end_sessions_of_banned_user() FROM PUBLIC, anon, authenticated;

CREATE TRIGGER end_sessions_on_ban
    AFTER UPDATE OF banned_until ON auth.users
    FOR EACH ROW WHEN (NEW.banned_until > now())
    EXECUTE FUNCTION private.end_sessions_of_banned_user();
