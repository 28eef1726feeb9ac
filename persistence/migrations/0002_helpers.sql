-- 0002: helper functions shared by every later migration.

-- The one trigger function that maintains `updated_at` (attached to every table that has it).
-- Tables with denormalised counters attach it with `BEFORE UPDATE OF <edited columns>`, so a counter
-- bump (vote, comment, registration) does not look like an edit.
CREATE OR REPLACE FUNCTION public.set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- Level from total XP: level 1 from 0 XP, level n+1 once total XP reaches 1000 * (2^n - 1),
-- i.e. floor(log2(total_xp / 1000.0 + 1)) + 1. Since 2^n is an integer,
-- floor(log2(x / 1000.0 + 1)) = floor(log2(x / 1000 + 1)) with integer division, which is the
-- bit length of (x / 1000 + 1) minus one: computed exactly, with no floating point.
-- 0 -> 1, 999 -> 1, 1000 -> 2, 2999 -> 2, 3000 -> 3, 6999 -> 3, 7000 -> 4. NULL/negative -> 1.
CREATE OR REPLACE FUNCTION public.calculate_user_level(total_xp integer) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN total_xp IS NULL OR total_xp < 1000 THEN 1
        ELSE 33 - position('1' IN ((total_xp / 1000 + 1)::bit(32))::text)
    END
$$;

-- Application roles live in the token's app_metadata.role ('admin' | 'host').
CREATE OR REPLACE FUNCTION public.is_admin() RETURNS boolean
    LANGUAGE sql STABLE SECURITY INVOKER
AS $$
    SELECT coalesce(auth.jwt() -> 'app_metadata' ->> 'role', '') = 'admin'
$$;

CREATE OR REPLACE FUNCTION public.is_host() RETURNS boolean
    LANGUAGE sql STABLE SECURITY INVOKER
AS $$
    SELECT coalesce(auth.jwt() -> 'app_metadata' ->> 'role', '') IN ('host', 'admin')
$$;

-- auth.users.updated_at is maintained too, but only when this project owns the table
-- (on Supabase, GoTrue owns and maintains it).
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pg_catalog.pg_tables
        WHERE schemaname = 'auth' AND tablename = 'users' AND tableowner = current_user
    ) AND NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_trigger
        WHERE tgrelid = 'auth.users'::regclass AND tgname = 'trg_users_updated_at'
    ) THEN
        CREATE TRIGGER trg_users_updated_at BEFORE UPDATE ON auth.users
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
    END IF;
END
$$;
