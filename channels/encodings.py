"""Wire encodings of protocol v1 and how a connection picks one (the websocket subprotocol).

``hub.v1.json`` (text frames, the default) and ``hub.v1.msgpack`` (binary frames) carry exactly the same
fields. The client offers subprotocols in its order of preference; the first the hub knows wins and is
echoed back. A client that offers none, or only ones the hub does not know, gets JSON and no subprotocol
in the answer: a browser that required one of its own then fails the connection itself (RFC 6455 4.1), and
any other client keeps working in the default encoding.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

__all__ = ["Encoding", "negotiate"]


class Encoding(Enum):
    """An encoding, named by its subprotocol."""

    JSON = "hub.v1.json"
    MSGPACK = "hub.v1.msgpack"

    @property
    def binary(self) -> bool:
        """Frames of this encoding travel as websocket binary frames (else text)."""
        return self is Encoding.MSGPACK

    @property
    def content_type(self) -> str:
        """The media type of one frame's payload (the AsyncAPI document's content types)."""
        return "application/msgpack" if self is Encoding.MSGPACK else "application/json"


_BY_NAME = {encoding.value: encoding for encoding in Encoding}


def negotiate(offered: Iterable[str]) -> tuple[Encoding, str | None]:
    """The encoding for a client that offered ``offered`` and the subprotocol to answer with (None: none)."""
    for name in offered:
        encoding = _BY_NAME.get(name.strip())
        if encoding is not None:
            return encoding, encoding.value
    return Encoding.JSON, None
