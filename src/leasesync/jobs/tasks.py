"""leasesync's procrastinate tasks: thin wrappers that hand ids to :mod:`.work`.

:func:`build_app` makes the :class:`procrastinate.App` a worker runs, with its
asynchronous connector and these tasks. A task finds what it works with — the
engine and the queue to defer follow-up jobs on — in the worker's
``additional_context`` under ``"leasesync"`` (:class:`WorkContext`), set by
:func:`leasesync.jobs.worker.run_worker`; tasks hold no global state.

Retries: the engine already retries what the outside world refuses (a mail server
that is down postpones the effect with capped backoff, SPEC L8/L13), so a task only
raises for the unexpected — a database that went away, a bug. procrastinate retries
those a bounded number of times with exponential backoff, then marks the job failed;
the sweep defers the work again a minute later if it is still due.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import procrastinate
from procrastinate import JobContext, RetryStrategy

from leasesync.engine.runtime import Engine
from leasesync.jobs import metrics, work
from leasesync.jobs.queueing import (
    DELIVER_TASK,
    REPLAN_TASK,
    SYNC_TASK,
    TICK_TASK,
    WAKE_TASK,
    JobQueue,
)
from leasesync.store import models as m
from leasesync.store.properties import count_pending_effects

logger = logging.getLogger(__name__)

CONTEXT_KEY = "leasesync"
EVERY_MINUTE = "* * * * *"

_DELIVERY_RETRY = RetryStrategy(max_attempts=5, exponential_wait=2)
_UNIT_RETRY = RetryStrategy(max_attempts=5, exponential_wait=2)
_SYNC_RETRY = RetryStrategy(max_attempts=3, exponential_wait=5)
_HOUSEKEEPING_RETRY = RetryStrategy(max_attempts=3, wait=5)


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkContext:
    """What a task needs, handed to the worker as additional context."""

    engine: Engine
    queue: JobQueue


def _work(context: JobContext) -> WorkContext:
    found = context.additional_context.get(CONTEXT_KEY)
    if not isinstance(found, WorkContext):
        raise RuntimeError("leasesync tasks need a worker started by run_worker")
    return found


def sync_property_task(
    context: JobContext, property_id: int, trigger: str = "poll"
) -> None:
    work.run_sync(_work(context).engine, property_id, trigger)


def replan_unit_task(context: JobContext, unit_id: int) -> None:
    work.replan_if_due(_work(context).engine, unit_id)


def deliver_effect_task(context: JobContext, effect_id: int) -> None:
    work.deliver(_work(context).engine, effect_id)


def wake_task(context: JobContext, target: str, target_id: int) -> None:
    """A unit's instant or an effect's retry has come: defer its locked job."""
    found = _work(context)
    _record_lateness(context, target)
    if target == "unit":
        found.queue.replan_unit(target_id)
        return
    with found.engine.transaction() as session:
        effect = session.get(m.Effect, target_id)
        if effect is None or effect.status != "pending":
            return
        unit_id, kind = effect.unit_id, effect.kind
    found.queue.deliver_effect(target_id, unit_id, kind)


def tick_task(context: JobContext, timestamp: int) -> None:
    """Every minute: polls that are due, the sweep of missed work, the gauge."""
    found = _work(context)
    work.sweep(found.engine, found.queue, poll_minute=timestamp // 60)
    with found.engine.transaction() as session:
        metrics.PENDING_EFFECTS.set(count_pending_effects(session))


def _record_lateness(context: JobContext, task: str) -> None:
    scheduled = context.job.scheduled_at
    if scheduled is not None:
        late = (datetime.now(UTC) - scheduled).total_seconds()
        metrics.record_lateness(f"wake_{task}", late)


def build_app(
    conninfo: str, *, max_connections: int = 10, tick_cron: str = EVERY_MINUTE
) -> procrastinate.App:
    """The App a worker runs: an asynchronous connector and every leasesync task."""
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo, min_size=1, max_size=max_connections
    )
    app = procrastinate.App(connector=connector)
    _register(app, tick_cron)
    return app


def _register(app: procrastinate.App, tick_cron: str) -> None:
    app.task(name=SYNC_TASK, pass_context=True, retry=_SYNC_RETRY)(sync_property_task)
    app.task(name=REPLAN_TASK, pass_context=True, retry=_UNIT_RETRY)(replan_unit_task)
    app.task(name=DELIVER_TASK, pass_context=True, retry=_DELIVERY_RETRY)(
        deliver_effect_task
    )
    app.task(name=WAKE_TASK, pass_context=True, retry=_HOUSEKEEPING_RETRY)(wake_task)
    tick = app.task(
        name=TICK_TASK,
        pass_context=True,
        retry=_HOUSEKEEPING_RETRY,
        queueing_lock=TICK_TASK,
    )(tick_task)
    app.periodic(cron=tick_cron, periodic_id="sweep")(tick)
