"""The hub's own app plus one minimal route, so REST reads are compared on the very same server
(same middleware, same uvicorn, same process): `uvicorn bench.baselines.hub_probe:create --factory`."""

from __future__ import annotations

from litestar import Litestar, get

from hub.asgi import create as create_hub

PROBE_PATH = "/bench/probe"


@get(PROBE_PATH, include_in_schema=False, security=[])
async def probe() -> dict[str, bool]:
    return {"ok": True}


def create() -> Litestar:
    app = create_hub()
    app.register(probe)
    return app
