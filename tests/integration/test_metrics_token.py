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
