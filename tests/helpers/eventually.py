"""Waiting on a condition with a deadline: what a test does instead of sleeping and hoping.

A busy machine only makes the wait longer, never the test fail, as long as the condition comes true
within `within` seconds.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable


async def eventually(predicate: Callable[[], bool | Awaitable[bool]], within: float = 10.0, *,
                     what: str | Callable[[], str] = "the condition", every: float = 0.02) -> None:
    """Returns once `predicate()` (sync or async) is true; AssertionError naming `what` after `within` s
    (a callable `what` is asked at the deadline, to show the state that was seen)."""
    deadline = time.monotonic() + within
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what() if callable(what) else what}")
        await asyncio.sleep(every)
