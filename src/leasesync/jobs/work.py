"""The background work itself, the same for both workers.

procrastinate's tasks (:mod:`leasesync.jobs.tasks`) and the embedded in-process
worker (:mod:`leasesync.jobs.embedded`) call these functions and nothing else, so the
embedded default runs the production code (SPEC §5). Each takes ids, reloads its row,
and ends quietly when the row is gone or there is nothing left to do: a job may run
late, twice, or after someone else did its work (STYLE habit 14).

:func:`sweep` is the safety net under the commit-time enqueueing: it finds every
effect still undelivered, every unit whose instant has come and every property whose
poll is due, and defers a job for each. Polling is stateless: a property is due in
the minutes where ``(minutes since the epoch + its id) % poll_minutes == 0``, so any
number of workers agree without remembering anything, and the id spreads the
properties of a portfolio over the interval instead of polling them all at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine as Database
from sqlalchemy import select, text

from leasesync.engine.delivery import deliver_effect
from leasesync.engine.reconciliation import replan_unit
from leasesync.engine.runtime import Engine
from leasesync.engine.syncing import SyncOutcome, sync_property
from leasesync.jobs import metrics
from leasesync.store import models as m
from leasesync.store.properties import settings_of
from leasesync.store.units import lock_unit

logger = logging.getLogger(__name__)

SWEEP_LIMIT = 1000
# The first key of leasesync's two-key advisory locks on syncs; the second is the id.
SYNC_LOCK_CLASS = 0x1EA5


class Deferrer(Protocol):
    """Where the sweep puts the work it finds (a :class:`~.queueing.JobQueue`)."""

    def sync_property(self, property_id: int, trigger: str = "poll") -> bool: ...

    def replan_unit(self, unit_id: int) -> bool: ...

    def deliver_effect(
        self, effect_id: int, unit_id: int | None, kind: str
    ) -> bool: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class DueEffect:
    effect_id: int
    unit_id: int | None
    kind: str


@dataclass(frozen=True, kw_only=True, slots=True)
class SweepResult:
    """How many jobs a sweep deferred, by kind (already-waiting ones not counted)."""

    syncs: int = 0
    units: int = 0
    effects: int = 0


def run_sync(engine: Engine, property_id: int, trigger: str) -> SyncOutcome | None:
    """Sync one property; ``None`` when it no longer exists."""
    with engine.transaction() as session:
        if session.get(m.Property, property_id) is None:
            logger.info(
                "Sync of property %s skipped: it no longer exists",
                property_id,
                extra={"event": "job_target_gone", "property_id": property_id},
            )
            return None
    with metrics.timed("sync_property"), _one_sync_at_a_time(engine, property_id):
        outcome = sync_property(engine, property_id, trigger=trigger)
    metrics.record_sync(outcome.outcome, outcome.actions)
    return outcome


@contextmanager
def _one_sync_at_a_time(engine: Engine, property_id: int) -> Iterator[None]:
    """Hold the property's sync lock on PostgreSQL while the block runs.

    NB: procrastinate's ``property:<id>`` lock keeps two workers' syncs apart; this
    advisory lock also keeps out ``leasesync sync``, which runs in its own process.
    It is taken on a connection of its own, outside any transaction. SQLite has one
    writer at a time and no advisory locks; the embedded default syncs on one thread.
    """
    bind = engine.sessions.kw.get("bind")
    if not isinstance(bind, Database) or bind.dialect.name != "postgresql":
        yield
        return
    lock = {"kind": SYNC_LOCK_CLASS, "id": property_id}
    with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as held:
        held.execute(text("SELECT pg_advisory_lock(:kind, :id)"), lock)
        try:
            yield
        finally:
            held.execute(text("SELECT pg_advisory_unlock(:kind, :id)"), lock)


def replan_if_due(engine: Engine, unit_id: int) -> bool:
    """Re-plan one unit whose next instant has come; False if it is not due (now)."""
    now = engine.clock.now()
    with metrics.timed("replan_unit"), engine.transaction() as session:
        if session.get(m.Unit, unit_id) is None:
            return False
        unit = lock_unit(session, unit_id)
        # NB: checked again under the lock: another worker may have just done it.
        due = unit.next_due_at is not None and unit.next_due_at <= now
        if not due or unit.paused:
            return False
        prop = session.get_one(m.Property, unit.property_id)
        settings = settings_of(session, prop)
        replan_unit(session, unit, settings, now, verify=engine.verify_state)
    return True


def deliver(engine: Engine, effect_id: int) -> bool:
    """Deliver one effect if it is pending and due; False when there was nothing to do."""
    now = engine.clock.now()
    with engine.transaction() as session:
        effect = session.get(m.Effect, effect_id)
        if effect is None or effect.status != "pending" or effect.available_at > now:
            return False
    with metrics.timed("deliver_effect"):
        deliver_effect(engine, effect_id)
    return True


def due_effects(engine: Engine, limit: int = SWEEP_LIMIT) -> list[DueEffect]:
    now = engine.clock.now()
    with engine.transaction() as session:
        rows = session.execute(
            select(m.Effect.id, m.Effect.unit_id, m.Effect.kind)
            .where(m.Effect.status == "pending", m.Effect.available_at <= now)
            .order_by(m.Effect.id)
            .limit(limit)
        ).all()
    return [DueEffect(effect_id=i, unit_id=u, kind=k) for i, u, k in rows]


def due_units(engine: Engine, limit: int = SWEEP_LIMIT) -> list[int]:
    now = engine.clock.now()
    with engine.transaction() as session:
        return list(
            session.scalars(
                select(m.Unit.id)
                .where(
                    m.Unit.next_due_at.is_not(None),
                    m.Unit.next_due_at <= now,
                    m.Unit.paused.is_(False),
                )
                .order_by(m.Unit.next_due_at)
                .limit(limit)
            ).all()
        )


def polls_due(engine: Engine, minute: int) -> list[int]:
    """The properties whose poll falls in ``minute`` (minutes since the epoch)."""
    with engine.transaction() as session:
        rows = session.execute(
            select(m.Property.id, m.Property.poll_minutes).order_by(m.Property.id)
        ).all()
    return [pid for pid, every in rows if (minute + pid) % max(1, every) == 0]


def minute_of(instant: datetime) -> int:
    return int(instant.timestamp() // 60)


def sweep(engine: Engine, queue: Deferrer, *, poll_minute: int | None) -> SweepResult:
    """Defer every job the store says is due; polls only when ``poll_minute`` is given."""
    polls = [] if poll_minute is None else polls_due(engine, poll_minute)
    syncs = sum(queue.sync_property(pid, "poll") for pid in polls)
    units = sum(queue.replan_unit(uid) for uid in due_units(engine))
    effects = sum(
        queue.deliver_effect(e.effect_id, e.unit_id, e.kind)
        for e in due_effects(engine)
    )
    result = SweepResult(syncs=syncs, units=units, effects=effects)
    if units or effects:
        logger.info(
            "Sweep deferred %d unit and %d effect jobs",
            units,
            effects,
            extra={"event": "sweep_deferred", "units": units, "effects": effects},
        )
    return result
