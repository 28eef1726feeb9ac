"""The writer task a realtime session (a websocket's or an SSE stream's) starts when its transport cannot take
a frame at once: it drains the session's `Outbox` and is dropped when done."""

from __future__ import annotations

import asyncio

from hub.realtime.fanout import Outbox


class OutboxWriter:
    """The base of a session class that has `outbox` and `request_close`; its one slot is the writer task
    (None while idle)."""

    __slots__ = ("_writer",)

    outbox: Outbox

    def request_close(self, code: int | None, reason: str = "", *, flush: bool = True) -> None:
        raise NotImplementedError

    def __init__(self) -> None:
        self._writer: asyncio.Task[None] | None = None

    def _start_writer(self) -> None:
        self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        try:
            await self.outbox.drain()
        except asyncio.CancelledError:
            raise
        except Exception:
            self.request_close(None)  # the transport failed: the client is gone
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None  # an idle connection keeps no finished task around
