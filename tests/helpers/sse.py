"""A `GET /sse` client for the tests: httpx streaming, parsing the messages as the SSE spec says (`id:`,
`event:`, `data:` lines, a blank line ends a message, `:` starts a comment)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.helpers.eventually import eventually

Frame = dict[str, Any]


@dataclass
class Message:
    id: str | None
    event: str
    data: Frame


async def ticket(base_url: str, token: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.post("/api/realtime/tickets", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    return str(response.json()["ticket"])


@dataclass
class SseClient:
    http: httpx.AsyncClient
    response: httpx.Response
    messages: list[Message] = field(default_factory=list)
    comments: int = 0
    ended: bool = False
    _task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, base_url: str, token: str, channels: list[str], *, since: dict[str, int] | None = None,
                   last_event_id: str | None = None, ticket_from: str | None = None) -> SseClient:
        """A stream on `base_url`, its ticket fetched from `ticket_from` (default: the same instance)."""
        issued = await ticket(ticket_from or base_url, token)
        params: list[tuple[str, str]] = [("ticket", issued)] + [("channel", c) for c in channels]
        params += [("since", f"{c}:{s}") for c, s in (since or {}).items()]
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        http = httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(30, read=None))
        response = await http.send(http.build_request("GET", "/sse", params=params, headers=headers), stream=True)
        assert response.status_code == 200, (await response.aread()).decode()
        client = cls(http, response)
        client._task = asyncio.create_task(client._read())
        return client

    async def _read(self) -> None:
        event_id: str | None = None
        event = "message"
        data: list[str] = []
        try:
            async for line in self.response.aiter_lines():
                if line == "":
                    if data:
                        self.messages.append(Message(event_id, event, json.loads("\n".join(data))))
                    event_id, event, data = None, "message", []
                elif line.startswith(":"):
                    self.comments += 1
                else:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "id":
                        event_id = value
                    elif name == "event":
                        event = value
                    elif name == "data":
                        data.append(value)
        except httpx.HTTPError:
            pass
        finally:
            self.ended = True

    def frames(self, op: str) -> list[Frame]:
        return [m.data for m in self.messages if m.event == op]

    def events(self, channel: str) -> list[Frame]:
        return [f for f in self.frames("event") if f["channel"] == channel]

    @property
    def errors(self) -> list[Frame]:
        return self.frames("error")

    @property
    def close_code(self) -> int | None:
        closes = self.frames("close")
        return int(closes[-1]["code"]) if closes else None

    @property
    def last_id(self) -> str | None:
        ids = [m.id for m in self.messages if m.id is not None]
        return ids[-1] if ids else None

    async def until(self, done: Any, within: float = 15.0, what: str = "the stream's messages") -> None:
        await eventually(done, within=within, what=lambda: f"{what}; got {[m.data for m in self.messages][-5:]}")

    async def wait_events(self, channel: str, count: int, within: float = 15.0) -> list[Frame]:
        await self.until(lambda: len(self.events(channel)) >= count, within, f"{count} events on {channel}")
        return self.events(channel)

    async def wait_ended(self, within: float = 15.0) -> int | None:
        await self.until(lambda: self.ended, within, "the stream to end")
        return self.close_code

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.response.aclose()
        await self.http.aclose()
