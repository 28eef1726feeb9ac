"""What every scenario gets: the size, the run's infrastructure, the report it adds rows to, and the
answer to "does the hub's websocket endpoint work yet?" (asked once per run)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.infra import Infra
from bench.report import Report
from bench.servers import Server
from bench.sizes import Size
from channels.names import ChannelName


@dataclass
class Context:
    size: Size
    infra: Infra
    report: Report
    sink: Callable[[str], None]  # where progress lines go
    repeat: int = 1  # repetitions of each scenario …
    repetition: int = 1  # … and which one is running
    cache: dict[str, Any] = field(default_factory=dict)  # results one scenario reuses from another
    _hub_problem: str | None = None
    _hub_checked: bool = False

    def log(self, message: str) -> None:
        """A progress line, saying which repetition it belongs to when the scenario is repeated."""
        self.sink(f"[{self.repetition}/{self.repeat}] {message}" if self.repeat > 1 else message)

    async def hub_problem(self, server: Server) -> str | None:
        """None when `/ws` on `server` takes an `auth` and a `subscribe`; otherwise why not."""
        if not self._hub_checked:
            self._hub_problem = await _probe_ws(server.ws_url(), (await self.infra.tokens(1))[0])
            self._hub_checked = True
            if self._hub_problem:
                self.log(f"hub: not available ({self._hub_problem})")
                self.report.notes.append(f"hub websocket endpoint not available: {self._hub_problem}")
        return self._hub_problem


async def _probe_ws(url: str, token: str) -> str | None:
    from hub.client import Disconnect, Fatal, HubClient, HubError, RequestError

    attempts: list[Disconnect] = []
    hub = HubClient(url, token=token, open_timeout=10, request_timeout=10, on_disconnect=attempts.append)
    try:
        await hub.connect()
        await hub.subscribe(str(ChannelName.feed()))
    except (Fatal, RequestError) as exc:
        return f"{'subscribe' if isinstance(exc, RequestError) else 'auth'} refused: {exc.code}: {exc.message}"
    except HubError as exc:
        # Still no connection after 10 s of retries: why the last attempt failed (an HTTP status, a refusal).
        return attempts[-1].reason if attempts else f"{exc.code}: {exc.message}"
    finally:
        await hub.close()
    return None
