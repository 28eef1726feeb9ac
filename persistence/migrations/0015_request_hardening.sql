-- An `Idempotency-Key` answers a retry of the same request only: the SHA-256 of the request's decoded
-- body is kept with the key, so the same key with another body is refused (422 idempotency_key_reused)
-- instead of silently answered with the first result. Keys stored before this migration have none and
-- keep replaying as before.
ALTER TABLE private.idempotency_keys ADD COLUMN request_hash text NULL;
