"""Whether an OpenAPI document names the shape of every success response (used by
tests/integration/test_openapi_responses.py; its own behaviour is pinned in tests/unit/test_openapi_types.py)."""

from __future__ import annotations

from typing import Any

# Success answers that carry no body by design.
NO_BODY = {"204", "301", "302", "303", "307", "308"}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    return set(kind) if isinstance(kind, list) else {kind} if kind else set()


def _is_typed(document: dict[str, Any], schema: dict[str, Any] | None, *, top: bool = True) -> bool:
    """A schema naming a shape: not missing, not `{}`, not an object of anything (`dict[str, Any]`). At the top
    level, the arrays among an object's properties (a page's `items`) must name their items' shape too;
    deeper down a free-form JSON column (`features`, `metadata`) is the contract."""
    if not schema:
        return False
    schema = _resolve(document, schema)
    for union in ("oneOf", "anyOf"):
        if union in schema:
            return all(_is_typed(document, s, top=top) for s in schema[union] if s.get("type") != "null")
    kinds = _types(schema) - {"null"}
    if "object" in kinds or "properties" in schema:
        properties: dict[str, Any] = schema.get("properties") or {}
        if properties:
            arrays = [_resolve(document, p) for p in properties.values()] if top else []
            return all(_is_typed(document, a, top=False) for a in arrays if "array" in _types(a))
        extra = schema.get("additionalProperties")
        return isinstance(extra, dict) and _is_typed(document, extra, top=False)
    if "array" in kinds:
        return _is_typed(document, schema.get("items"), top=False)
    return bool(kinds) or "const" in schema or "enum" in schema


def untyped_operations(document: dict[str, Any]) -> list[str]:
    untyped = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            successes = {code: r for code, r in operation["responses"].items() if code.startswith(("2", "3"))}
            if not successes:
                untyped.append(f"{method.upper()} {path}: no success response")
            for code, response in successes.items():
                if code in NO_BODY:
                    continue
                content = response.get("content") or {}
                schemas = [media.get("schema") for media in content.values()]
                if not schemas or not all(_is_typed(document, s) for s in schemas):
                    untyped.append(f"{method.upper()} {path} {code}")
    return untyped
