"""One instance's job runner: claims due jobs from `private.jobs` and runs their handlers, at most
JOB_CONCURRENCY at once.

Waking: a LISTEN on `hub_jobs` (the note `persistence.jobs.enqueue` sends at commit) wakes the claim loop
at once, so a job queued by a request starts within about a round trip on some instance. It rides on the
realtime listener's connection (`Listener.wake_on`, which also wakes the loop on every reconnect): a
listening connection of its own would run a database transaction for every NOTIFY of the database (every
vote's `hub_state` note). Without a note the loop looks again when the soonest scheduled job is due, and
at least every JOB_POLL seconds (a note missed while the LISTEN connection was down, a lease that ran out
elsewhere).

Leases: a claim holds a job for JOB_LEASE seconds, renewed every third of it while the handler runs. An
instance that dies stops renewing, and once the lease ends any instance claims the job again. Finishing
writes carry the claim's attempt number, so a late finisher whose lease was taken over changes nothing.

Stopping drains: no new claims, running handlers get DRAIN_TIMEOUT to finish, and those still running are
cancelled and handed back (queued, due now, the attempt not counted) for another instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable

import asyncpg

from hub.jobs.registry import HANDLERS, JobHandler
from hub.realtime.instance import Realtime
from hub.services import Services
from hub.tasks import cancel_and_wait
from persistence import jobs
from persistence.db import DatabaseUnavailable
from persistence.identity import SERVICE

log = logging.getLogger("hub.jobs")

_RETRY_CAP_S = 3600.0


def retry_delay(base_s: float, attempts: int) -> float:
    """Seconds before the retry after failed attempt `attempts` (1-based): the base, twice it, four times it …"""
    return float(min(_RETRY_CAP_S, base_s * 2 ** min(attempts - 1, 30)))


def worker_name() -> str:
    """Names the claims of this process in `locked_by`: host and pid (what an operator, or a test, kills)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class JobRunner:
    def __init__(self, services: Services, handlers: dict[str, JobHandler] | None = None) -> None:
        self._services = services
        self._settings = services.settings
        self._handlers = HANDLERS if handlers is None else handlers
        self.worker = worker_name()
        self._wake = asyncio.Event()
        self._running: dict[int, tuple[jobs.ClaimedJob, asyncio.Task[None]]] = {}
        self._feeders: list[asyncio.Task[None]] = []
        self._renewer: asyncio.Task[None] | None = None
        self._stopping = False

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        self._services.started.get(Realtime).listener.wake_on(jobs.WAKE_CHANNEL, self._wake.set)
        self._feeders = [asyncio.create_task(self._claim_loop(), name="jobs-claim")]
        self._renewer = asyncio.create_task(self._renew_loop(), name="jobs-renew")

    async def stop(self) -> None:
        """Claims nothing more, lets running jobs finish within DRAIN_TIMEOUT (their leases still renewed),
        then cancels and hands back the rest."""
        self._stopping = True
        await cancel_and_wait(self._feeders)
        in_flight = [task for _, task in self._running.values()]
        if in_flight:
            await asyncio.wait(in_flight, timeout=self._settings.drain_timeout_s)
        unfinished = list(self._running.values())
        await cancel_and_wait([task for _, task in unfinished])
        for job, _ in unfinished:
            await self._finish(functools.partial(jobs.release, job=job, worker=self.worker))
        await cancel_and_wait([self._renewer])

    # --- claiming ----------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            wait_s = self._settings.job_poll_s
            try:
                free = self._settings.job_concurrency - len(self._running)
                if free > 0:
                    async with self._services.db.transaction(SERVICE) as conn:
                        claimed = await jobs.claim(conn, self.worker, free, self._settings.job_lease_s)
                        due_in = None if len(claimed) == free else await jobs.next_due_in(conn)
                    for job in claimed:
                        self._running[job.id] = (job, asyncio.create_task(self._run(job), name=f"job-{job.id}"))
                    if len(claimed) == free:
                        continue  # maybe more due: claim again once a slot is free
                    if due_in is not None:
                        wait_s = max(0.0, min(wait_s, due_in))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("claiming jobs failed: %s", exc if isinstance(exc, DatabaseUnavailable) else repr(exc))
            # asyncio.timeout, not wait_for: on 3.11 wait_for runs the wait as a task of its own, one more task
            # for every idle instance, and can swallow a cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._wake.wait()

    async def _renew_loop(self) -> None:
        every = self._settings.job_lease_s / 3
        while True:
            await asyncio.sleep(every)
            claims = [(job.id, job.attempts) for job, _ in self._running.values()]
            if not claims:
                continue
            try:
                async with self._services.db.transaction(SERVICE) as conn:
                    await jobs.extend(conn, self.worker, claims, self._settings.job_lease_s)
            except Exception as exc:
                log.warning("renewing job leases failed: %s", type(exc).__name__)

    # --- running -----------------------------------------------------------------

    async def _run(self, job: jobs.ClaimedJob) -> None:
        try:
            if job.attempts > self._settings.job_max_attempts:
                # Its last attempt's instance died holding it: not run again.
                await self._failed(job, "lease expired on the last attempt", final=True)
                return
            handler = self._handlers.get(job.kind)
            try:
                if handler is None:
                    raise LookupError(f"no handler for job kind {job.kind!r}")
                async with asyncio.timeout(self._settings.job_timeout_s):
                    await handler(self._services, job.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                final = job.attempts >= self._settings.job_max_attempts
                log.warning("job %d (%s) attempt %d failed%s: %r", job.id, job.kind, job.attempts,
                            ", giving up" if final else "", exc)
                await self._failed(job, repr(exc), final=final)
                return
            if not await self._finish(functools.partial(jobs.mark_done, job=job, worker=self.worker)):
                log.warning("job %d (%s) finished after its lease was taken over", job.id, job.kind)
        finally:
            self._running.pop(job.id, None)
            self._wake.set()  # a slot is free

    async def _failed(self, job: jobs.ClaimedJob, error: str, *, final: bool) -> None:
        delay = None if final else retry_delay(self._settings.job_retry_base_s, job.attempts)
        await self._finish(functools.partial(jobs.mark_failed_attempt, job=job, worker=self.worker, error=error,
                                             retry_in_s=delay))

    async def _finish(self, write: Callable[[asyncpg.Connection], Awaitable[object]]) -> bool:
        """Commits a finishing write, retrying through a short database outage for up to a lease: giving up
        earlier would let the lease lapse and the job (a sent mail, say) run again."""
        deadline = asyncio.get_running_loop().time() + self._settings.job_lease_s
        pause = 0.05
        while True:
            try:
                async with self._services.db.transaction(SERVICE) as conn:
                    return await write(conn) is not False
            except DatabaseUnavailable:
                if asyncio.get_running_loop().time() + pause > deadline:
                    log.error("could not record a job's outcome: database unavailable")
                    return False
                await asyncio.sleep(pause)
                pause = min(1.0, pause * 2)


async def start_jobs(services: Services) -> Callable[[], Awaitable[None]]:
    """The app's starter (`hub.app.STARTERS`): the runner, found by others as `services.started.get(JobRunner)`."""
    runner = JobRunner(services)
    runner.start()
    services.started.add(runner)

    async def stop() -> None:
        services.started.remove(JobRunner)
        await runner.stop()

    return stop
