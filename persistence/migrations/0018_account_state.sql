-- 0018: account state the hub enforces (bans, revocation) and the admins' audit log.
--
-- private.token_cutoffs holds, per user, the moment before which the user's access tokens no longer count
-- (a ban, a deletion, a role or password change, logout-all). PostgreSQL is the source of truth; every
-- write notifies `hub_accounts` at commit so each instance drops its cached cutoff and acts on the user's
-- live sockets within the notification's delivery time.
CREATE TABLE private.token_cutoffs (
    user_id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    valid_after timestamptz NOT NULL
);
ALTER TABLE private.token_cutoffs ENABLE ROW LEVEL SECURITY;  -- no policies: service_role only
REVOKE ALL ON private.token_cutoffs FROM PUBLIC, anon, authenticated;
GRANT ALL ON private.token_cutoffs TO service_role;

-- Every admin action (and every moderator's decision on a report): who did what to whom, why and when.
-- Read through the admin API only; `actor_id` is null for the command line (`hub grant`).
CREATE TABLE private.admin_audit (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id uuid NULL REFERENCES auth.users (id) ON DELETE SET NULL,
    action text NOT NULL CHECK (action ~ '^[a-z][a-z_.]{0,63}$'),
    target_type text NOT NULL CHECK (char_length(target_type) <= 32),
    target_id text NOT NULL CHECK (char_length(target_id) <= 64),
    reason text NULL CHECK (char_length(reason) <= 2000),
    details jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (octet_length(details::text) <= 8192),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX idx_private_admin_audit_newest ON private.admin_audit (id DESC);
ALTER TABLE private.admin_audit ENABLE ROW LEVEL SECURITY;  -- no policies: service_role only
REVOKE ALL ON private.admin_audit FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT ON private.admin_audit TO service_role;
