-- 0033: signing the user out everywhere also voids a pending email change. A change is started with the
-- password; whoever held it could otherwise start moving the account to their own address, and the link
-- would still work after the owner reset or changed the password, signed out everywhere or was banned
-- (every one of those runs private.end_sessions; a ban through 0027's trigger).
CREATE OR REPLACE FUNCTION private.end_sessions(target uuid) RETURNS timestamptz
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    cutoff timestamptz;
BEGIN
    cutoff := private.revoke_tokens(target, 'revoked');
    UPDATE private.refresh_tokens SET revoked_at = now() WHERE user_id = target AND revoked_at IS NULL;
    UPDATE auth.users SET email_change = NULL, email_change_token_new = NULL, email_change_sent_at = NULL
    WHERE id = target AND email_change_token_new IS NOT NULL;
    RETURN cutoff;
END
$$;
