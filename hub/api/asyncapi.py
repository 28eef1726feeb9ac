"""`GET /schema/asyncapi.json`: the websocket protocol as an AsyncAPI 3.0.0 document (`channels.asyncapi`),
next to the OpenAPI document of the REST routes (`/schema/openapi.json`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar import get

from channels.asyncapi import asyncapi_document
from hub.auth import AppServices


@get("/schema/asyncapi.json", tags=["realtime"], security=[], include_in_schema=False)
async def asyncapi(services: AppServices) -> dict[str, Any]:
    public = urlsplit(services.settings.public_url)
    return asyncapi_document(host=public.netloc, protocol="wss" if public.scheme == "https" else "ws")


ROUTES = [asyncapi]
