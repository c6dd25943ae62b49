"""Putting work on procrastinate's queue: task names, locks, and the queue's schema.

Every process that decides something — a worker, the server, a CLI command — defers
jobs through one :class:`JobQueue`. It speaks to PostgreSQL through procrastinate's
synchronous connector, so any thread may defer: a task's thread, the MQTT network
thread that receives device reports, a request handler. The worker that *runs* the
jobs has its own asynchronous connector (:mod:`leasesync.jobs.worker`).

Jobs carry ids only; their locks say what must never run at once (SPEC §5):

- ``property:<id>`` — one sync of a property at a time; ``sync:<id>`` as queueing
  lock keeps at most one waiting.
- ``unit:<id>`` — one unit's work at a time: re-planning it, and delivering the
  effects that touch its devices and doors. Invite e-mails go unlocked: they touch
  nothing of the unit, and a slow mail server must not hold its doors back.

NB: procrastinate runs the jobs of one lock in the order they were deferred and
counts a job scheduled for later as waiting in line. A job deferred for a future
instant therefore never takes a lock: it is a *wake-up* that, when due, defers the
locked job it stands for.

The queue's own tables come from procrastinate's schema, which
:func:`ensure_queue_schema` applies once (``leasesync worker --init``, and every
worker and server at start); leasesync's Alembic migrations stay its own.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import procrastinate
import psycopg
from procrastinate import exceptions as queue_errors
from procrastinate.schema import SchemaManager

from leasesync.jobs.tracking import CommitNotes, EffectNote

logger = logging.getLogger(__name__)

SYNC_TASK = "leasesync.sync_property"
REPLAN_TASK = "leasesync.replan_unit"
DELIVER_TASK = "leasesync.deliver_effect"
WAKE_TASK = "leasesync.wake"
TICK_TASK = "leasesync.tick"

#: Effects delivered under their unit's lock: they act on its devices and doors.
UNIT_LOCKED_EFFECTS = frozenset({"device_command", "door_grant", "door_revoke"})

# Any fixed number; only leasesync takes this advisory lock.
_SCHEMA_LOCK = 0x1EA5E5C0
# An instant this close is "now": a wake-up job would only add a round trip.
_SOON = timedelta(seconds=1)


def property_lock(property_id: int) -> str:
    return f"property:{property_id}"


def unit_lock(unit_id: int) -> str:
    return f"unit:{unit_id}"


def effect_lock(unit_id: int | None, kind: str) -> str | None:
    """The lock an effect is delivered under (see the module's notes)."""
    if unit_id is None or kind not in UNIT_LOCKED_EFFECTS:
        return None
    return unit_lock(unit_id)


def ensure_queue_schema(conninfo: str) -> bool:
    """Apply procrastinate's schema unless the database has it; True if applied now.

    An advisory lock makes workers starting together agree: one applies, the others
    find it there.
    """
    with psycopg.connect(conninfo) as connection:
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        row = connection.execute(
            "SELECT to_regclass('procrastinate_jobs') IS NOT NULL"
        ).fetchone()
        if row is not None and row[0]:
            return False
        connection.execute(SchemaManager.get_schema())
    logger.info(
        "Job queue schema applied",
        extra={"event": "queue_schema_applied"},
    )
    return True


def queue_schema_present(conninfo: str) -> bool:
    with psycopg.connect(conninfo, connect_timeout=5) as connection:
        row = connection.execute(
            "SELECT to_regclass('procrastinate_jobs') IS NOT NULL"
        ).fetchone()
    return bool(row and row[0])


class JobQueue:
    """Defers leasesync's jobs; thread-safe. :meth:`open` before the first defer.

    Each method returns False when an identical job was already waiting (its
    queueing lock), which is never an error: the waiting job will do the work.
    """

    def __init__(self, conninfo: str, *, max_connections: int = 4) -> None:
        connector = procrastinate.SyncPsycopgConnector(
            conninfo=conninfo, min_size=1, max_size=max_connections
        )
        self._app = procrastinate.App(connector=connector)

    def open(self) -> None:
        self._app.open()

    def close(self) -> None:
        self._app.close()

    def sync_property(self, property_id: int, trigger: str = "poll") -> bool:
        return self._defer(
            SYNC_TASK,
            lock=property_lock(property_id),
            queueing_lock=f"sync:{property_id}",
            property_id=property_id,
            trigger=trigger,
        )

    def replan_unit(self, unit_id: int) -> bool:
        return self._defer(
            REPLAN_TASK,
            lock=unit_lock(unit_id),
            queueing_lock=f"replan:{unit_id}",
            unit_id=unit_id,
        )

    def deliver_effect(self, effect_id: int, unit_id: int | None, kind: str) -> bool:
        return self._defer(
            DELIVER_TASK,
            lock=effect_lock(unit_id, kind),
            queueing_lock=f"effect:{effect_id}",
            effect_id=effect_id,
        )

    def wake(self, target: str, target_id: int, at: datetime) -> bool:
        """At ``at``, defer the locked job for a ``unit`` or an ``effect``."""
        stamp = int(at.timestamp())
        return self._defer(
            WAKE_TASK,
            queueing_lock=f"wake:{target}:{target_id}:{stamp}",
            at=at,
            target=target,
            target_id=target_id,
        )

    def dispatch(self, notes: CommitNotes, now: datetime) -> None:
        """Defer what a commit made due now, and wake-ups for what is due later."""
        for effect in notes.effects:
            self._dispatch_effect(effect, now)
        for unit in notes.units:
            if unit.due_at <= now + _SOON:
                self.replan_unit(unit.unit_id)
            else:
                self.wake("unit", unit.unit_id, unit.due_at)

    def _dispatch_effect(self, effect: EffectNote, now: datetime) -> None:
        if effect.available_at <= now + _SOON:
            self.deliver_effect(effect.effect_id, effect.unit_id, effect.kind)
        else:
            self.wake("effect", effect.effect_id, effect.available_at)

    def _defer(
        self,
        task: str,
        *,
        lock: str | None = None,
        queueing_lock: str | None = None,
        at: datetime | None = None,
        **arguments: int | str,
    ) -> bool:
        deferrer = self._app.configure_task(
            task, lock=lock, queueing_lock=queueing_lock, schedule_at=at
        )
        try:
            deferrer.defer(**arguments)
        except queue_errors.AlreadyEnqueued:
            return False
        return True
