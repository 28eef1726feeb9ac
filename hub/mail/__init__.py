"""Outgoing email: queued as `mail.send` jobs in the cause's transaction, sent over SMTP by the job runner."""
