-- 0019: one definition of "revoke an account's tokens", and an account deletion revokes them whoever
-- deletes it.
--
-- private.revoke_tokens moves the user's cutoff (private.token_cutoffs, 0018) to clock_timestamp(), never
-- back, and notifies `hub_accounts` at commit with {"u": user, "k": kind, "a": cutoff in microseconds}.
-- The hub calls it for bans, role and password changes and logout-all (persistence.account_state); the
-- trigger below calls it when auth.users.deleted_at is first set (the hub's account deletion, or Supabase's
-- soft delete), so the user's older tokens stop counting and their sockets close on every instance.
CREATE FUNCTION private.revoke_tokens(target uuid, kind text) RETURNS timestamptz
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    cutoff timestamptz;
BEGIN
    INSERT INTO private.token_cutoffs AS c (user_id, valid_after)
    VALUES (target, clock_timestamp())
    ON CONFLICT (user_id) DO UPDATE SET valid_after = greatest(c.valid_after, excluded.valid_after)
    RETURNING valid_after INTO cutoff;
    PERFORM pg_notify('hub_accounts', json_build_object(
        'u', target, 'k', kind, 'a', (extract(epoch FROM cutoff) * 1000000)::bigint)::text);
    RETURN cutoff;
END
$$;
REVOKE ALL ON FUNCTION private.revoke_tokens(uuid, text) FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION private.revoke_tokens(uuid, text) TO service_role;

CREATE FUNCTION private.revoke_tokens_of_deleted_user() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    PERFORM private.revoke_tokens(NEW.id, 'revoked');
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION private.revoke_tokens_of_deleted_user() FROM PUBLIC, anon, authenticated;

CREATE TRIGGER revoke_tokens_on_delete
    AFTER UPDATE OF deleted_at ON auth.users
    FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
    EXECUTE FUNCTION private.revoke_tokens_of_deleted_user();
