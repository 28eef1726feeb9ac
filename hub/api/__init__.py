"""REST controllers, one module per domain; `ROUTES` is what the app mounts."""
