"""Deeply nested JSON in a body or a cursor, and over-long cursors: a clear 400/422, never a 500.

Every route is taken from the live OpenAPI document, so a route added later is covered without edits.
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from channels.json_depth import MAX_JSON_DEPTH
from hub.api.comments import THREAD_CURSOR_MAX_LENGTH
from hub.pagination import MAX_CURSOR_LENGTH, encode_cursor
from tests.helpers.api import Account, admin, signup

# Past the decoder's recursion guard (a `RecursionError` before the fix) and just past the hub's bound.
DEEP_OBJECT = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
DEEP_ARRAY = b"[" * 100_000 + b"]" * 100_000
JUST_TOO_DEEP = b'{"email":' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}"
DEEP_BODIES = {"object_5000": DEEP_OBJECT, "array_100000": DEEP_ARRAY, "just_past_the_bound": JUST_TOO_DEEP}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


NESTED_CURSORS = {
    "nested_5000": b64(b"[" * 5_000 + b"]" * 5_000),
    "nested_in_key": encode_cursor([[[["x"]]]]),
    "over_long": encode_cursor(["x" * 600, 1]),
}


def operations(spec: dict[str, Any], wanted: str) -> list[tuple[str, str]]:
    """(method, path with sample ids) of every operation that takes a JSON body or a `cursor`."""
    return [(method, path) for method, path, _ in operations_with_required(spec, wanted)]


def operations_with_required(spec: dict[str, Any], wanted: str) -> list[tuple[str, str, dict[str, str]]]:
    """`operations`, each with a sample value for every other required query parameter (search's `q`), so
    the route reaches the part under test."""
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            takes_body = "application/json" in operation.get("requestBody", {}).get("content", {})
            parameters = operation.get("parameters", [])
            takes_cursor = any(p.get("name") == "cursor" for p in parameters)
            if (takes_body if wanted == "body" else takes_cursor):
                required = {p["name"]: "sample" for p in parameters
                            if p.get("in") == "query" and p.get("required") and p["name"] != "cursor"}
                found.append((method.upper(), re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path), required))
    return found


@pytest.fixture(scope="module")
async def account(hub_url: str) -> Account:
    async with httpx.AsyncClient(base_url=hub_url) as http:
        return await signup(http)


@pytest.fixture(scope="module")
async def spec(hub_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=hub_url) as http:
        document: dict[str, Any] = (await http.get("/schema/openapi.json")).json()
        return document


@pytest.mark.parametrize("name", sorted(DEEP_BODIES))
async def test_deeply_nested_bodies_are_400_bad_json_on_every_route(
        client: httpx.AsyncClient, owner_conn: asyncpg.Connection, spec: dict[str, Any], account: Account,
        name: str) -> None:
    routes = operations(spec, "body")
    assert {"/api/auth/signup", "/api/auth/login", "/api/posts"} <= {path for _, path in routes}
    boss = await admin(client, owner_conn)
    wrong = []
    for method, path in routes:
        # The admin routes' guard answers anyone but an admin before the body is read (test_revocation_races).
        callers = (boss.headers,) if path.startswith("/api/admin/") else ({}, account.headers)
        for headers in callers:
            response = await client.request(method, path, content=DEEP_BODIES[name],
                                            headers=headers | {"content-type": "application/json"})
            code = response.json().get("code") if response.content else None
            if response.status_code != 400 or code != "bad_json":
                wrong.append(f"{method} {path}: {response.status_code} {code}")
    assert not wrong, wrong


async def test_json_at_the_depth_bound_is_decoded(client: httpx.AsyncClient, account: Account) -> None:
    """The bound refuses only what is deeper: a document exactly MAX_JSON_DEPTH deep reaches the route."""
    at_bound = b'{"content":' + b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1) + b"}"
    response = await client.post(f"/api/posts/{uuid.uuid4()}/comments", content=at_bound,
                                 headers=account.headers | {"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["code"] == "validation_failed", response.text


@pytest.mark.parametrize("name", sorted(NESTED_CURSORS))
async def test_nested_and_over_long_cursors_are_422_on_every_list_route(
        client: httpx.AsyncClient, spec: dict[str, Any], account: Account, name: str) -> None:
    routes = operations_with_required(spec, "cursor")
    assert len(routes) >= 12, routes
    wrong = []
    for method, path, required in routes:
        for headers in ({}, account.headers):
            response = await client.request(method, path, params=required | {"cursor": NESTED_CURSORS[name]},
                                            headers=headers)
            body = response.json()
            if response.status_code == 401 and not headers:
                continue  # a signed-in route refuses the anonymous call before reading its query
            if response.status_code == 403 and path.startswith("/api/admin/"):
                continue  # so does an admin route a non-admin's (tests/integration/test_admin_api.py checks it)
            if response.status_code != 422 or body.get("code") != "validation_failed" \
                    or "cursor" not in body.get("errors", {}):
                wrong.append(f"{method} {path}: {response.status_code} {body.get('code')}")
    assert not wrong, wrong


def test_the_cursor_cap_leaves_room_for_every_issued_cursor() -> None:
    widest = encode_cursor(["x" * 200, "2026-01-01T00:00:00.000000+00:00", str(uuid.uuid4())])
    assert len(widest) < MAX_CURSOR_LENGTH


def _max_lengths(schema: Any) -> set[int]:
    if isinstance(schema, dict):
        own = {schema["maxLength"]} if "maxLength" in schema else set()
        return own.union(*(_max_lengths(value) for value in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_max_lengths(value) for value in schema))
    return set()


async def test_every_cursor_parameter_declares_the_one_cap(spec: dict[str, Any]) -> None:
    """One bound for every keyset cursor, declared on the route (and so in the OpenAPI document); only a
    comment thread's cursor, which holds one comment id, declares a shorter one."""
    declared = {f"{method.upper()} {path}": _max_lengths(parameter.get("schema"))
                for path, item in spec["paths"].items() for method, operation in item.items()
                if isinstance(operation, dict)
                for parameter in operation.get("parameters", []) if parameter.get("name") == "cursor"}
    assert len(declared) >= 12, declared
    thread = "GET /api/posts/{post_id}/comments"
    assert declared.pop(thread) == {THREAD_CURSOR_MAX_LENGTH}
    assert {route: caps for route, caps in declared.items() if caps != {MAX_CURSOR_LENGTH}} == {}
