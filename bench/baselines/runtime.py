"""How the baseline and peer processes run: uvloop when present (uvicorn uses it for the hub too,
so the comparison is between servers, not event loops), the full file-descriptor allowance."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from bench.load import raise_fd_limit


def run_forever(main: Coroutine[Any, Any, None]) -> None:
    raise_fd_limit()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
