-- 0025: lookups of mailed-link tokens (persistence/account_links.py). auth.users keeps the SHA-256 of a
-- verification, recovery or email-change token in GoTrue's columns, and a link is found by that hash: one
-- index per column, over the rows that hold one. Created only where the hub made auth.users (0001); on
-- Supabase the table belongs to GoTrue, which indexes these columns itself.
DO $links$
BEGIN
    IF (SELECT relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
        FROM pg_class WHERE oid = 'auth.users'::regclass) THEN
        CREATE UNIQUE INDEX IF NOT EXISTS users_confirmation_token_hash
            ON auth.users (confirmation_token) WHERE confirmation_token IS NOT NULL AND confirmation_token <> '';
        CREATE UNIQUE INDEX IF NOT EXISTS users_recovery_token_hash
            ON auth.users (recovery_token) WHERE recovery_token IS NOT NULL AND recovery_token <> '';
        CREATE UNIQUE INDEX IF NOT EXISTS users_email_change_token_hash
            ON auth.users (email_change_token_new)
            WHERE email_change_token_new IS NOT NULL AND email_change_token_new <> '';
    END IF;
END
$links$;
