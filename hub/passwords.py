"""argon2id password hashing (argon2-cffi's defaults follow RFC 9106's recommendations), on bounded pools.

One argon2id run takes tens of milliseconds of CPU and 64 MiB. On the event loop's default executor (shared
with everything that uses `asyncio.to_thread`) a burst of signups queued without bound and logins waited
behind them. Signups hash on one `HashPool`, logins verify on another, each with a few threads and a short
waiting line: a signup flood cannot delay a login, and a flood of either is refused at once (503
`not_ready` with `Retry-After`) instead of piling up.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.errors import NotReady

T = TypeVar("T")

_hasher = PasswordHasher()
# Verifying against this when the email is unknown costs the same time as a real check,
# so response time does not reveal which emails have accounts.
_DUMMY_HASH = _hasher.hash("timing-equaliser-not-a-password")


class HashPool:
    """`threads` worker threads and at most `queue` jobs waiting for one; more are refused.

    A job is admitted until it finishes in its thread (not until its caller stops waiting), so a client
    that disconnects mid-hash still holds its place: the bound is on work really queued.
    """

    def __init__(self, name: str, threads: int, queue: int) -> None:
        self.name = name
        self.threads = threads
        self.capacity = threads + queue
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"argon2-{name}")
        self._lock = threading.Lock()  # jobs finish in worker threads
        self._admitted = 0

    @property
    def admitted(self) -> int:
        return self._admitted

    @property
    def queued(self) -> int:
        """Jobs admitted and waiting for a thread (not yet running)."""
        return max(0, self._admitted - self.threads)

    async def run(self, job: Callable[[], T]) -> T:
        with self._lock:
            if self._admitted >= self.capacity:
                raise NotReady(f"Too many {self.name}s in progress; retry shortly", headers={"Retry-After": "1"})
            self._admitted += 1
        try:
            future = self._executor.submit(job)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _release(self, _: Future[T] | None = None) -> None:
        with self._lock:
            self._admitted -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


async def hash_password(pool: HashPool, password: str) -> str:
    return await pool.run(lambda: _hasher.hash(password))


async def verify_password(pool: HashPool, stored_hash: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await pool.run(check)
