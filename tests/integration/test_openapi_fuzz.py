"""Every route of the live OpenAPI document, fuzzed: no 5xx, and every error is problem+json with a code.

The schema is read from the running server, so routes added later are covered without edits here.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.api import signup
from tests.integration.test_nested_json import DEEP_BODIES, NESTED_CURSORS

EXAMPLES = int(os.environ.get("HUB_FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module")
async def fuzz_headers(hub_url: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=hub_url) as http:
        return (await signup(http)).headers


def test_every_route_survives_generated_requests(hub_url: str, fuzz_headers: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_url(f"{hub_url}/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8, "the document lists the routes"
    failures: list[str] = []
    for operation in operations:
        check_operation(operation, hub_url, fuzz_headers, failures)
    assert not failures, "\n".join(sorted(set(failures))[:30])


def test_every_route_survives_nested_json_and_hostile_cursors(hub_url: str, fuzz_headers: dict[str, str]) -> None:
    """Generated requests with a deeply nested JSON body or a nested / over-long `cursor` in place of theirs."""
    schema = schemathesis.openapi.from_url(f"{hub_url}/schema/openapi.json")
    failures: list[str] = []
    for operation in (result.ok() for result in schema.get_all_operations()):
        check_hostile_input(operation, hub_url, fuzz_headers, failures)
    assert not failures, "\n".join(sorted(set(failures))[:30])


def check_hostile_input(operation: Any, hub_url: str, fuzz_headers: dict[str, str], failures: list[str]) -> None:
    label = f"{operation.method.upper()} {operation.path}"
    hostile = [("body", body) for body in DEEP_BODIES.values()] + [("cursor", c) for c in NESTED_CURSORS.values()]

    @settings(max_examples=max(EXAMPLES // 2, 2 * len(hostile)), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(), attack=st.sampled_from(hostile), authed=st.booleans())
    def fuzz(case: schemathesis.Case, attack: tuple[str, str | bytes], authed: bool) -> None:
        where, value = attack
        query = dict(case.query or {})
        headers = (fuzz_headers if authed else {}) | {"content-type": "application/json"}
        content = None  # a cursor goes to list routes, which take no body
        if where == "cursor":
            query["cursor"] = value
        else:
            content = value if isinstance(value, bytes) else value.encode()
        response = httpx.request(case.method, hub_url + case.formatted_path, params=query, content=content,
                                 headers=headers, timeout=30)
        if response.status_code >= 500 and not documented_unavailable(response):
            failures.append(f"{label} ({where}): {response.status_code} {response.text[:200]}")
        elif response.status_code >= 400 and "code" not in response.json():
            failures.append(f"{label} ({where}): {response.status_code} not a problem document")

    fuzz()


def documented_unavailable(response: Any) -> bool:
    """503 with a documented code (billing without keys) is the contract, not a server error."""
    return response.status_code == 503 and response.json().get("code") in ("billing_not_configured", "not_ready")


def check_operation(operation: Any, hub_url: str, fuzz_headers: dict[str, str], failures: list[str]) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(), authed=st.booleans())
    def fuzz(case: schemathesis.Case, authed: bool) -> None:
        response = case.call(base_url=hub_url, headers=fuzz_headers if authed else None, timeout=30)
        if response.status_code >= 500 and not documented_unavailable(response):
            failures.append(f"{label}: {response.status_code} {response.text[:200]}")
        elif response.status_code >= 400:
            value = response.headers.get("content-type") or ""
            content_type = value[0] if isinstance(value, list) else value
            body = response.json() if "json" in content_type else {}
            if not content_type.startswith("application/problem+json") or "code" not in body:
                failures.append(f"{label}: {response.status_code} not a problem document: {response.text[:200]}")

    fuzz()
