"""PostgreSQL: migrations, the pool, identity-carrying transactions, queries per domain, the event log."""
