"""Bad input gets a clear problem document with a stable code, never a 500 or a trace."""

from __future__ import annotations

import httpx

from tests.conftest import METRICS_HEADERS


async def test_malformed_json_is_400_bad_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/login", content=b"{not json",
                                 headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "bad_json"
    assert {"type", "title", "status", "detail"} <= body.keys()


async def test_wrong_types_are_422_with_field_errors(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/login", json={"email": 5, "password": []})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    assert response.json()["errors"]


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_health_ready_metrics_and_openapi(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    metrics = await client.get("/metrics", headers=METRICS_HEADERS)
    assert "hub_http_requests_total" in metrics.text
    spec = (await client.get("/schema/openapi.json")).json()
    assert "/api/auth/signup" in spec["paths"]


async def test_nul_characters_are_refused_as_validation_errors_not_500(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/login", json={"email": "a\u0000b@example.com", "password": "whatever1"})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_failed"
