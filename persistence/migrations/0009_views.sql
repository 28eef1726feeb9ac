-- 0009: views.

-- The caller's own learning statistics: security_invoker, so user_progress RLS (own rows) applies.
CREATE VIEW public.user_learning_stats WITH (security_invoker = true) AS
SELECT
    up.user_id,
    COUNT(*) AS completed_lessons,
    SUM(up.xp_earned) AS total_xp,
    MAX(up.completed_at) AS last_activity
FROM public.user_progress up
WHERE up.completed = true
GROUP BY up.user_id;

-- Popular lessons. This one is deliberately NOT security_invoker: it aggregates every user's
-- progress, which anon cannot read at all and authenticated can read only for itself (RLS), so as
-- an invoker view it would fail for anon and show each caller only their own completions. It runs
-- with the owner's rights and exposes only per-lesson aggregates of active lessons (no user data).
CREATE VIEW public.lesson_popularity AS
SELECT
    l.id,
    l.title,
    COUNT(up.id) AS completions,
    AVG(up.score) AS avg_score,
    RANK() OVER (ORDER BY COUNT(up.id) DESC) AS popularity_rank
FROM public.lessons l
LEFT JOIN public.user_progress up ON l.id = up.lesson_id AND up.completed = true
WHERE l.is_active = true
GROUP BY l.id, l.title;

REVOKE ALL ON public.user_learning_stats, public.lesson_popularity FROM PUBLIC, anon, authenticated;
GRANT SELECT ON public.user_learning_stats TO authenticated, service_role;
GRANT SELECT ON public.lesson_popularity TO anon, authenticated, service_role;
