-- The hub's refresh-token families move out of the `auth` schema: on Supabase, GoTrue already owns an
-- `auth.refresh_tokens` with other columns, so 0001 (which creates the table only when missing) would
-- have left the hub without its own. `private.refresh_tokens` is the hub's alone, everywhere.
CREATE TABLE private.refresh_tokens (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    family_id uuid NOT NULL,
    token_hash text NOT NULL UNIQUE,
    parent_id uuid NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz NULL,
    revoked_at timestamptz NULL
);
CREATE INDEX idx_private_refresh_tokens_family ON private.refresh_tokens (family_id);
CREATE INDEX idx_private_refresh_tokens_user ON private.refresh_tokens (user_id);
CREATE INDEX idx_private_refresh_tokens_expires ON private.refresh_tokens (expires_at);
ALTER TABLE private.refresh_tokens ENABLE ROW LEVEL SECURITY;  -- no policies: service_role only
REVOKE ALL ON private.refresh_tokens FROM PUBLIC, anon, authenticated;
GRANT ALL ON private.refresh_tokens TO service_role;

-- Carry over live families written by earlier versions, then drop the table 0001 created — only when it
-- is the hub's (it has `family_id`); GoTrue's table of the same name is never touched.
DO $move$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = 'auth' AND table_name = 'refresh_tokens' AND column_name = 'family_id') THEN
        INSERT INTO private.refresh_tokens (id, user_id, family_id, token_hash, parent_id, created_at, expires_at,
                                            used_at, revoked_at)
        SELECT id, user_id, family_id, token_hash, parent_id, created_at, expires_at, used_at, revoked_at
        FROM auth.refresh_tokens;
        DROP TABLE auth.refresh_tokens;
    END IF;
END
$move$;
