-- 0003: profiles and the learning engine tables (in dependency order: lessons before user_progress).
--
-- Progress, XP, levels, streaks, leaderboard and achievements are server-owned: users only read
-- their own rows (see 0008); the server writes them as service_role or through SECURITY DEFINER code.

CREATE TABLE public.user_profiles (
    id uuid REFERENCES auth.users (id) ON DELETE CASCADE PRIMARY KEY,
    full_name text,
    avatar_url text,
    bio text,
    timezone text NOT NULL DEFAULT 'UTC',
    preferred_language text NOT NULL DEFAULT 'en',
    trading_experience text DEFAULT 'beginner',
    trading_goals text[],
    current_level integer NOT NULL DEFAULT 1 CHECK (current_level >= 1),
    total_xp integer NOT NULL DEFAULT 0 CHECK (total_xp >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.lessons (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    level_id integer NOT NULL,
    gate_id integer NOT NULL,
    title text NOT NULL,
    subtitle text,
    description text,
    content_type text NOT NULL DEFAULT 'interactive',
    content_data jsonb NOT NULL,        -- full lesson content
    assessment_data jsonb,              -- quiz / assessment data
    xp_reward integer NOT NULL DEFAULT 0 CHECK (xp_reward >= 0),
    estimated_time interval,
    difficulty text NOT NULL DEFAULT 'intermediate' CHECK (difficulty IN ('beginner', 'intermediate', 'advanced')),
    prerequisites uuid[],               -- required lesson ids
    is_active boolean NOT NULL DEFAULT true,
    order_index integer NOT NULL DEFAULT 0,
    created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (level_id, gate_id)
);

CREATE INDEX idx_lessons_active ON public.lessons (is_active) WHERE is_active = true;
CREATE INDEX idx_lessons_level_order ON public.lessons (level_id, gate_id, order_index);
CREATE INDEX idx_lessons_content_type ON public.lessons (content_type);

CREATE TABLE public.user_progress (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE NOT NULL,
    level_id integer NOT NULL,
    gate_id integer NOT NULL,
    lesson_id uuid REFERENCES public.lessons (id),
    completed boolean NOT NULL DEFAULT false,
    score integer,
    xp_earned integer NOT NULL DEFAULT 0 CHECK (xp_earned >= 0),
    time_spent interval,
    attempts_count integer NOT NULL DEFAULT 1 CHECK (attempts_count >= 0),
    last_attempt_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, level_id, gate_id)
);

CREATE INDEX idx_user_progress_user ON public.user_progress (user_id);
CREATE INDEX idx_user_progress_level ON public.user_progress (level_id, gate_id);
CREATE INDEX idx_user_progress_completed ON public.user_progress (completed) WHERE completed = false;
CREATE INDEX idx_user_progress_lesson_completed ON public.user_progress (lesson_id) WHERE completed = true;

CREATE TABLE public.achievements (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code varchar(100) UNIQUE NOT NULL,
    title text NOT NULL,
    description text NOT NULL,
    icon_url text,
    category text NOT NULL DEFAULT 'general',
    xp_reward integer NOT NULL DEFAULT 0 CHECK (xp_reward >= 0),
    requirements jsonb,
    rarity text NOT NULL DEFAULT 'common' CHECK (rarity IN ('common', 'rare', 'epic', 'legendary')),
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.user_achievements (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE NOT NULL,
    achievement_id uuid REFERENCES public.achievements (id) ON DELETE CASCADE NOT NULL,
    unlocked_at timestamptz NOT NULL DEFAULT now(),
    progress_value integer NOT NULL DEFAULT 100,   -- percentage or count
    metadata jsonb,
    UNIQUE (user_id, achievement_id)
);

CREATE INDEX idx_user_achievements_user ON public.user_achievements (user_id);
CREATE INDEX idx_user_achievements_unlocked ON public.user_achievements (unlocked_at DESC);
CREATE INDEX idx_user_achievements_achievement ON public.user_achievements (achievement_id);

-- Leaderboard rows are written ONLY by the server's learning engine (service_role), once per first
-- completion, into all four periods (daily, weekly from Monday UTC, monthly, all_time with a fixed
-- start date). The seed's `update_leaderboard` trigger is deliberately NOT created: it re-counted XP
-- on every later update of a completed row, wrote only `weekly` and put timestamps into date columns.
-- `rank` / `percentile` are computed at read time with window functions (RANK() OVER xp_points DESC);
-- the stored columns are kept for compatibility and are never authoritative.
CREATE TABLE public.leaderboard (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE NOT NULL,
    period varchar(20) NOT NULL CHECK (period IN ('daily', 'weekly', 'monthly', 'all_time')),
    xp_points integer NOT NULL DEFAULT 0 CHECK (xp_points >= 0),
    lessons_completed integer NOT NULL DEFAULT 0 CHECK (lessons_completed >= 0),
    streak_days integer NOT NULL DEFAULT 0 CHECK (streak_days >= 0),
    rank integer,
    percentile numeric(5, 2),
    period_start_date date NOT NULL,
    period_end_date date NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, period, period_start_date)
);

CREATE INDEX idx_leaderboard_period_rank ON public.leaderboard (period, period_start_date, rank);
CREATE INDEX idx_leaderboard_user_period ON public.leaderboard (user_id, period, period_end_date DESC);
-- Ranking at read time: ORDER BY xp_points DESC, user_id within one period.
CREATE INDEX idx_leaderboard_period_xp ON public.leaderboard (period, period_start_date, xp_points DESC, user_id);

CREATE TABLE public.user_streaks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE UNIQUE NOT NULL,
    current_streak integer NOT NULL DEFAULT 0 CHECK (current_streak >= 0),
    longest_streak integer NOT NULL DEFAULT 0 CHECK (longest_streak >= 0),
    last_activity_date date,
    last_streak_reset timestamptz,
    streak_data jsonb,                  -- daily activity tracking (seed typo streak_streak_data fixed)
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_user_streaks_user ON public.user_streaks (user_id);
CREATE INDEX idx_user_streaks_reset ON public.user_streaks (last_streak_reset);

CREATE TABLE public.user_activity_log (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE NOT NULL,
    activity_type varchar(50) NOT NULL,
    entity_type varchar(50),            -- lesson, achievement, ...
    entity_id uuid,
    metadata jsonb,
    session_id uuid,
    ip_address inet,
    user_agent text,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- (user_id, created_at DESC, id DESC): the keyset order of GET /api/activity/me.
CREATE INDEX idx_activity_log_user_time ON public.user_activity_log (user_id, created_at DESC, id DESC);
CREATE INDEX idx_activity_log_type ON public.user_activity_log (activity_type);
CREATE INDEX idx_activity_log_session ON public.user_activity_log (session_id);

-- updated_at
CREATE TRIGGER trg_user_profiles_updated_at BEFORE UPDATE ON public.user_profiles
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER trg_lessons_updated_at BEFORE UPDATE ON public.lessons
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER trg_user_progress_updated_at BEFORE UPDATE ON public.user_progress
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER trg_leaderboard_updated_at BEFORE UPDATE ON public.leaderboard
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER trg_user_streaks_updated_at BEFORE UPDATE ON public.user_streaks
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- current_level always follows total_xp (whoever writes total_xp).
CREATE OR REPLACE FUNCTION public.sync_user_level() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
BEGIN
    NEW.current_level := public.calculate_user_level(NEW.total_xp);
    RETURN NEW;
END
$$;

CREATE TRIGGER trg_user_profiles_level BEFORE INSERT OR UPDATE OF total_xp, current_level ON public.user_profiles
    FOR EACH ROW EXECUTE FUNCTION public.sync_user_level();

-- A new auth.users row gets its profile and streak rows. SECURITY DEFINER so it works whoever
-- inserts the user (the hub's service_role, or GoTrue on Supabase).
CREATE OR REPLACE FUNCTION public.handle_new_user() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
AS $$
BEGIN
    INSERT INTO public.user_profiles (id, full_name)
    VALUES (NEW.id, NEW.raw_user_meta_data ->> 'full_name')
    ON CONFLICT (id) DO NOTHING;
    INSERT INTO public.user_streaks (user_id)
    VALUES (NEW.id)
    ON CONFLICT (user_id) DO NOTHING;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION public.handle_new_user() FROM PUBLIC;

CREATE TRIGGER trg_hub_user_created AFTER INSERT ON auth.users
    FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();
