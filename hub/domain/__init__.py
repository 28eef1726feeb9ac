"""The domain layer between the routes and the SQL: workflows (XP awards and achievement unlocks, seat
filling, thread rules, ownership checks) and views, one module per concern.

Views are msgspec Structs, the one shape of a thing for REST responses and for event payloads alike, so
the OpenAPI document describes every response and an event's data is typed once. Routes (`hub.api`), the
live room and the realtime edge import from here; nothing here imports them. SQL stays in `persistence`;
pure rules stay in `hub.rules`."""
