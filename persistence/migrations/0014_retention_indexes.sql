-- Retention (docs/security.md): the activity log is pruned by age across all users, in batches; its only
-- index leads with user_id, so without this one every batch would scan the table.
CREATE INDEX idx_activity_log_created ON public.user_activity_log (created_at);
