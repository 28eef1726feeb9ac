"""Every REST route in `/schema/openapi.json` documents a typed success response: clients and the fuzz test
read the shape from the document, so a handler returning an untyped dict is a hole in the contract."""

from __future__ import annotations

import httpx

from tests.helpers.openapi_types import untyped_operations


async def test_every_route_documents_a_typed_success_response(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    assert document["paths"]
    assert untyped_operations(document) == []
