-- 0001: database roles, schemas and the `auth` schema (Supabase-compatible).
--
-- Roles are cluster-global: they are created only when missing, and a concurrent migration in
-- another database of the same cluster may create them between our check and our CREATE, so
-- duplicate_object / unique_violation are swallowed. On Supabase every object created here
-- already exists and is left untouched.

DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            BEGIN
                IF r = 'service_role' THEN
                    CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
                ELSE
                    EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', r);
                END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created concurrently by another migration run
            END;
        END IF;
    END LOOP;

    -- hub_app: the login role of DATABASE_URL. Owns nothing and inherits nothing: every
    -- transaction must SET LOCAL ROLE anon|authenticated|service_role (Supabase's `authenticator`).
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'hub_app') THEN
        BEGIN
            CREATE ROLE hub_app LOGIN NOINHERIT NOSUPERUSER;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;

    FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF NOT EXISTS (
            SELECT 1
            FROM pg_catalog.pg_auth_members m
            JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
            JOIN pg_catalog.pg_roles u ON u.oid = m.member
            WHERE g.rolname = r AND u.rolname = 'hub_app'
        ) THEN
            BEGIN
                EXECUTE format('GRANT %I TO hub_app', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END
$roles$;

CREATE SCHEMA IF NOT EXISTS auth;
CREATE SCHEMA IF NOT EXISTS realtime;
CREATE SCHEMA IF NOT EXISTS billing;
CREATE SCHEMA IF NOT EXISTS private;

-- auth.users: created (with its constraints) only when missing; Supabase already has it.
-- Email is plain text stored lower-cased; uniqueness is case-insensitive through lower(email).
DO $users$
BEGIN
    IF to_regclass('auth.users') IS NULL THEN
        CREATE TABLE auth.users (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            email text NOT NULL CONSTRAINT users_email_lower_check CHECK (email = lower(email)),
            encrypted_password text,
            email_confirmed_at timestamptz,
            invited_at timestamptz,
            confirmation_token text,
            confirmation_sent_at timestamptz,
            recovery_token text,
            recovery_sent_at timestamptz,
            email_change_token_new text,
            email_change text,
            email_change_sent_at timestamptz,
            last_sign_in_at timestamptz,
            raw_app_meta_data jsonb,
            raw_user_meta_data jsonb,
            is_super_admin boolean,
            created_at timestamptz DEFAULT now(),
            updated_at timestamptz DEFAULT now(),
            phone text DEFAULT NULL,
            phone_confirmed_at timestamptz,
            phone_change text DEFAULT '',
            phone_change_token text DEFAULT '',
            phone_change_sent_at timestamptz,
            email_change_token_current text DEFAULT '',
            email_change_confirm_status smallint DEFAULT 0,
            banned_until timestamptz,
            reauthentication_token text DEFAULT '',
            reauthentication_sent_at timestamptz,
            is_sso_user boolean DEFAULT false,
            deleted_at timestamptz,
            is_anonymous boolean DEFAULT false
        );
        CREATE UNIQUE INDEX users_email_lower_key ON auth.users (lower(email));
    END IF;
END
$users$;

-- Stripe customer of the user (one per user). Added only when missing: on Supabase the migrating
-- role does not own auth.users, so an operator may have to add it once as the table owner.
DO $stripe$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = 'auth' AND table_name = 'users' AND column_name = 'stripe_customer_id'
    ) THEN
        ALTER TABLE auth.users ADD COLUMN stripe_customer_id text UNIQUE;
    END IF;
END
$stripe$;

-- auth.uid() / auth.role() / auth.jwt(): Supabase's definitions, created only when missing.
-- They read the transaction-local `request.jwt.claims` set by the hub; NULL when unset or empty.
DO $fns$
BEGIN
    IF to_regprocedure('auth.jwt()') IS NULL THEN
        CREATE FUNCTION auth.jwt() RETURNS jsonb
            LANGUAGE sql STABLE
        AS $f$
            SELECT coalesce(
                nullif(current_setting('request.jwt.claim', true), ''),
                nullif(current_setting('request.jwt.claims', true), '')
            )::jsonb
        $f$;
    END IF;
    IF to_regprocedure('auth.uid()') IS NULL THEN
        CREATE FUNCTION auth.uid() RETURNS uuid
            LANGUAGE sql STABLE
        AS $f$
            SELECT coalesce(
                nullif(current_setting('request.jwt.claim.sub', true), ''),
                (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
            )::uuid
        $f$;
    END IF;
    IF to_regprocedure('auth.role()') IS NULL THEN
        CREATE FUNCTION auth.role() RETURNS text
            LANGUAGE sql STABLE
        AS $f$
            SELECT coalesce(
                nullif(current_setting('request.jwt.claim.role', true), ''),
                (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
            )::text
        $f$;
    END IF;
END
$fns$;

-- Hashed refresh tokens with rotation (parent_id) and reuse detection (family_id).
-- NOTE: Supabase's GoTrue has its own auth.refresh_tokens; this one is created only when missing.
DO $rt$
BEGIN
    IF to_regclass('auth.refresh_tokens') IS NULL THEN
        CREATE TABLE auth.refresh_tokens (
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
        CREATE INDEX idx_refresh_tokens_family ON auth.refresh_tokens (family_id);
        CREATE INDEX idx_refresh_tokens_user ON auth.refresh_tokens (user_id);
        CREATE INDEX idx_refresh_tokens_expires ON auth.refresh_tokens (expires_at);
        ALTER TABLE auth.refresh_tokens ENABLE ROW LEVEL SECURITY;  -- no policies: service_role only
    END IF;
END
$rt$;
