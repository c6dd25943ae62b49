"""``leasesync worker``: one procrastinate worker process, and its housekeeping.

Any number of these run on any number of machines against one PostgreSQL; the locks
of :mod:`.queueing` keep one property's sync and one unit's work from ever running
twice at once. Next to procrastinate's own loop, each process keeps house:

- **Stalled jobs.** A worker killed mid-job (SIGKILL, a lost machine) leaves its job
  *doing* for ever, and with it the lock it holds. Workers beat a heartbeat every
  quarter of ``stalled_after``; a job whose worker has been silent longer is
  retried. The effect it was delivering is still *pending* in the store (its
  transaction died with the process), so the retry delivers it again under the same
  idempotency key, and the receiver drops the repeat (SPEC L13).
- **Simulated devices.** When devices are the bundled simulator, their answers
  become due on the real clock and are handed over here, once a second.

Sync tasks run in procrastinate's thread pool; ``concurrency`` is how many at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass

import procrastinate
from procrastinate import exceptions as queue_errors

from leasesync.domain.errors import NeedsHumanError
from leasesync.jobs.queueing import ensure_queue_schema
from leasesync.jobs.tasks import CONTEXT_KEY, EVERY_MINUTE, WorkContext, build_app
from leasesync.wiring import Stack

logger = logging.getLogger(__name__)

_HOUSEKEEPING_SECONDS = 1.0


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkerOptions:
    """How one worker process runs.

    ``stalled_after``: seconds of silence after which another worker takes over a
    dead worker's jobs. ``fetch_interval``: the longest wait before looking for new
    jobs when no notification came (scheduled jobs are found this way).
    """

    concurrency: int = 4
    stalled_after: float = 30.0
    fetch_interval: float = 1.0
    name: str | None = None
    tick_cron: str = EVERY_MINUTE


def run_worker(stack: Stack, options: WorkerOptions) -> None:
    """Run jobs until SIGINT or SIGTERM; raises NeedsHumanError without PostgreSQL."""
    conninfo = stack.settings.procrastinate_conninfo
    if conninfo is None or stack.queue is None:
        raise NeedsHumanError(
            "the worker needs PostgreSQL: set LEASESYNC_WORKER=procrastinate and a "
            "postgresql:// LEASESYNC_DATABASE_URL"
        )
    ensure_queue_schema(conninfo)
    app = build_app(
        conninfo,
        max_connections=options.concurrency + 4,
        tick_cron=options.tick_cron,
    )
    context = WorkContext(engine=stack.engine, queue=stack.queue)
    asyncio.run(_work(app, stack, context, options))


async def _work(
    app: procrastinate.App, stack: Stack, context: WorkContext, options: WorkerOptions
) -> None:
    name = options.name or f"leasesync@{socket.gethostname()}:{os.getpid()}"
    async with app.open_async():
        keeper = asyncio.create_task(_keep_house(app, stack, options))
        logger.info(
            "Worker %s started (concurrency %d)",
            name,
            options.concurrency,
            extra={"event": "worker_started", "worker": name},
        )
        try:
            await app.run_worker_async(
                name=name,
                concurrency=options.concurrency,
                additional_context={CONTEXT_KEY: context},
                update_heartbeat_interval=max(0.2, options.stalled_after / 4),
                stalled_worker_timeout=options.stalled_after,
                fetch_job_polling_interval=options.fetch_interval,
                delete_jobs="successful",
            )
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
    logger.info("Worker %s stopped", name, extra={"event": "worker_stopped"})


async def _keep_house(
    app: procrastinate.App, stack: Stack, options: WorkerOptions
) -> None:
    loop = asyncio.get_running_loop()
    rescue_every = max(_HOUSEKEEPING_SECONDS, options.stalled_after / 2)
    next_rescue = loop.time()
    while True:
        try:
            if stack.simulated_devices is not None:
                await asyncio.to_thread(stack.deliver_simulated_reports)
            if loop.time() >= next_rescue:
                next_rescue = loop.time() + rescue_every
                await rescue_stalled_jobs(app, options.stalled_after)
        except Exception:
            # NB: the housekeeping loop is an outer boundary; one bad round must not
            # end it, or stalled jobs would hold their locks for ever.
            logger.exception(
                "Worker housekeeping failed", extra={"event": "housekeeping_failed"}
            )
        await asyncio.sleep(_HOUSEKEEPING_SECONDS)


async def rescue_stalled_jobs(app: procrastinate.App, stalled_after: float) -> int:
    """Retry the jobs of workers silent for ``stalled_after`` seconds; returns how many."""
    manager = app.job_manager
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
    rescued = 0
    for job in stalled:
        try:
            await manager.retry_job(job)
        except queue_errors.ConnectorException:
            # NB: an identical job is already waiting (its queueing lock), or another
            # worker rescued this one first: close this one so its lock is released.
            await manager.finish_job(
                job, status=procrastinate.jobs.Status.FAILED, delete_job=False
            )
        rescued += 1
        logger.warning(
            "Job %s (%s) of a silent worker retried",
            job.id,
            job.task_name,
            extra={"event": "job_rescued", "job_id": job.id, "task": job.task_name},
        )
    return rescued
