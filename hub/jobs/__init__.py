"""The durable job runner: handlers by kind (`registry`), and the per-instance runner (`runner`)."""
