"""The realtime edge: everything between `/ws` sockets, PostgreSQL's LISTEN and Redis.

The protocol decisions are `channels`' (pure, I/O-free); this package fetches the facts those
decisions need and performs their effects: the listener and brokers bring events in, the fan-out and
outboxes take frames out, the websocket session runs one connection, the presence store and state
channels keep what is shared between instances.
"""
