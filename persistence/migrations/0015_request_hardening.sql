-- An `Idempotency-Key` answers a retry of the same request only: the SHA-256 of the request's decoded
-- body is kept with the key, so the same key with another body is refused (422 idempotency_key_reused)
-- instead of silently answered with the first result. Keys stored before this migration have none and
-- keep replaying as before.
ALTER TABLE private.idempotency_keys ADD COLUMN request_hash text NULL;

-- Links other users open (an avatar, a meeting, a recording) are http(s) only, also when written with
-- plain SQL through PostgREST: the same rule as the REST structs (`hub/fields.py`). A link stored before
-- that breaks the rule (`javascript:`, `data:`) is dropped rather than kept for the next viewer.
UPDATE public.user_profiles SET avatar_url = NULL
WHERE avatar_url !~* '^https?://[^[:space:][:cntrl:]/?#@]+([/?#][^[:space:][:cntrl:]]*)?$'
   OR length(avatar_url) > 2048;
ALTER TABLE public.user_profiles ADD CONSTRAINT user_profiles_avatar_url_http CHECK (
    avatar_url ~* '^https?://[^[:space:][:cntrl:]/?#@]+([/?#][^[:space:][:cntrl:]]*)?$'
    AND length(avatar_url) <= 2048);
UPDATE public.live_sessions SET meeting_url = NULL
WHERE meeting_url !~* '^https?://[^[:space:][:cntrl:]/?#@]+([/?#][^[:space:][:cntrl:]]*)?$'
   OR length(meeting_url) > 2048;
UPDATE public.live_sessions SET recording_url = NULL
WHERE recording_url !~* '^https?://[^[:space:][:cntrl:]/?#@]+([/?#][^[:space:][:cntrl:]]*)?$'
   OR length(recording_url) > 2048;
ALTER TABLE public.live_sessions ADD CONSTRAINT live_sessions_meeting_url_http CHECK (
    meeting_url ~* '^https?://[^[:space:][:cntrl:]/?#@]+([/?#][^[:space:][:cntrl:]]*)?$' AND length(meeting_url) <= 2048);
ALTER TABLE public.live_sessions ADD CONSTRAINT live_sessions_recording_url_http CHECK (
    recording_url ~* '^https?://[^[:space:][:cntrl:]/?#@]+([/?#][^[:space:][:cntrl:]]*)?$' AND length(recording_url) <= 2048);
