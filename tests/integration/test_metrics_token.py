"""`/metrics` only for a scraper holding METRICS_TOKEN; without one configured, it is not there at all."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import METRICS_HEADERS, TEST_METRICS_TOKEN


async def test_metrics_need_the_bearer_metrics_token(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TEST_METRICS_TOKEN},
                    {"Authorization": f"Basic {TEST_METRICS_TOKEN}"},
                    {"Authorization": f"Bearer {TEST_METRICS_TOKEN}x"}):
        refused = await client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["code"] == "unauthorized" and "hub_http_requests" not in refused.text
    scraped = await client.get("/metrics", headers=METRICS_HEADERS)
    assert scraped.status_code == 200 and "hub_http_requests_total" in scraped.text
    lower = await client.get("/metrics", headers={"Authorization": f"bearer {TEST_METRICS_TOKEN}"})
    assert lower.status_code == 200


def test_without_a_metrics_token_the_route_is_not_served(start_hub: Any) -> None:
    with start_hub(metrics_token=None) as url:
        for headers in ({}, METRICS_HEADERS):
            response = httpx.get(f"{url}/metrics", headers=headers)
            assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_each_request_is_counted_under_its_route_method_and_status(start_hub: Any) -> None:
    """The middleware keeps each series it has seen: a repeated series keeps counting, a new one starts."""
    with start_hub() as url:
        for _ in range(3):
            assert httpx.get(f"{url}/healthz").status_code == 200
        assert httpx.get(f"{url}/api/posts").status_code == 401
        scraped = httpx.get(f"{url}/metrics", headers=METRICS_HEADERS).text
    assert 'hub_http_requests_total{method="GET",route="/healthz",status="200"} 3.0' in scraped
    assert 'hub_http_request_seconds_count{method="GET",route="/healthz"} 3.0' in scraped
    assert 'hub_http_requests_total{method="GET",route="/api/posts",status="401"} 1.0' in scraped
