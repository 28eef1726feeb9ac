"""Decoding of JSON request bodies: malformed or too deeply nested → 400 `bad_json`, never a 500."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request

from channels.json_depth import MAX_JSON_DEPTH, nested_deeper_than
from hub.errors import BadJson

_DECODER = msgspec.json.Decoder()
_TOO_DEEP = f"JSON nests deeper than {MAX_JSON_DEPTH} levels"


class HubRequest(Request[Any, Any, Any]):
    """Litestar decodes every JSON body here before converting it to the route's struct. Its own decoding
    lets `RecursionError` (a body nested a few thousand levels) escape as a 500; this one bounds depth."""

    __slots__ = ()

    async def json(self) -> Any:
        body = await self.body() or b"null"
        try:
            value = _DECODER.decode(body)
        except msgspec.DecodeError as exc:
            raise BadJson(f"JSON is malformed: {exc}") from None
        except RecursionError:
            raise BadJson(_TOO_DEEP) from None
        if nested_deeper_than(body, value):
            raise BadJson(_TOO_DEEP)
        return value
