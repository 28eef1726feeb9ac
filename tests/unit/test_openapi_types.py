"""The typed-response check can fail: untyped shapes are reported, typed ones pass."""

from __future__ import annotations

from typing import Any

from tests.helpers.openapi_types import untyped_operations


def document(schema: dict[str, Any] | None, *, code: str = "200", **components: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {"description": "ok"}
    if schema is not None:
        response["content"] = {"application/json": {"schema": schema}}
    return {"paths": {"/x": {"get": {"responses": {code: response}}}}, "components": {"schemas": components}}


def test_untyped_success_responses_are_reported() -> None:
    for schema in [None, {}, {"type": "object"}, {"type": "object", "additionalProperties": {}},
                   {"type": "array", "items": {}},
                   {"type": "object", "properties": {"items": {"type": "array", "items": {}}}},
                   {"oneOf": [{"$ref": "#/components/schemas/View"}, {}]}]:
        doc = document(schema, View={"type": "object", "properties": {"id": {"type": "string"}}})
        assert untyped_operations(doc) == ["GET /x 200"], schema


def test_typed_responses_and_bodiless_codes_pass() -> None:
    view = {"type": "object", "properties": {"id": {"type": "string"}}}
    ref = {"$ref": "#/components/schemas/View"}
    for schema in [ref, {"type": "array", "items": ref},
                   {"type": "object", "properties": {"items": {"type": "array", "items": view}}},
                   {"type": "string"}]:
        assert untyped_operations(document(schema, View=view)) == [], schema
    assert untyped_operations(document(None, code="204")) == []


def test_an_operation_without_a_success_response_is_reported() -> None:
    doc = {"paths": {"/x": {"get": {"responses": {"404": {"description": "no"}}}}}, "components": {}}
    assert untyped_operations(doc) == ["GET /x: no success response"]
