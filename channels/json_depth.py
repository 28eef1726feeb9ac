"""How deeply a client's JSON may nest: REST bodies, cursors and websocket frames share one bound.

msgspec decodes nesting recursively, guarded only by the interpreter's recursion limit: a body a few
thousand levels deep raises ``RecursionError``, and one a few hundred deep decodes in a shallow stack but
can fail later, when the stored or broadcast value is encoded again from a deeper stack. A fixed bound,
far below that guard, makes "too deeply nested" one documented number instead of a property of the stack.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_JSON_DEPTH", "nested_deeper_than"]

# Far deeper than any document the hub or its browser app builds (lesson content and quizzes nest a few
# levels, request structs at most 3) and far below the ≈ 900 levels at which the recursion guard trips.
MAX_JSON_DEPTH = 32

_CONTAINERS = (list, dict)


def nested_deeper_than(raw: bytes | str | None, value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `value` (decoded from the JSON `raw`) nests containers more than `limit` levels deep.

    A document with at most `limit` opening brackets cannot nest deeper, so almost every request is
    answered by two counts in C; only a document with more brackets is walked, level by level. With
    `raw` None (a value decoded from msgpack, which has no brackets to count) the value is always walked."""
    if raw is not None:
        text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
        if text.count("[") + text.count("{") <= limit:
            return False
    level: list[Any] = [value] if isinstance(value, _CONTAINERS) else []
    for _ in range(limit):
        level = [child for node in level for child in (node.values() if isinstance(node, dict) else node)
                 if isinstance(child, _CONTAINERS)]
        if not level:
            return False
    return True
