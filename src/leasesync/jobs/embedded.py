"""The embedded default's worker: the same work, on a thread of the server's process.

Without PostgreSQL there is no procrastinate, so ``leasesync serve`` runs the
functions of :mod:`.work` itself, on one background thread and the real clock. Each
round it runs the syncs staff asked for, the polls that are due this minute, every
effect that is due, the simulated devices' answers, and every unit whose instant has
come — and repeats while a round still found work, so that a chain (an accepted
invite, then the reconfiguration it asks for, then its answer) runs out at once. It
sleeps a second between rounds, or less when a commit wakes it (the engine's
``on_commit`` hook).

One thread is enough for one embedded property and keeps SQLite to one writer of
background work; it is not meant to scale, which is what procrastinate is for.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from leasesync.engine.runtime import Engine
from leasesync.jobs import work

logger = logging.getLogger(__name__)

MAX_ROUNDS = 20


class EmbeddedWorker:
    """Runs background work on a daemon thread; :meth:`run_once` runs one round."""

    def __init__(
        self,
        engine: Engine,
        *,
        simulated_reports: Callable[[], int] | None = None,
        tick_seconds: float = 1.0,
    ) -> None:
        self._engine = engine
        self._simulated_reports = simulated_reports
        self._tick = tick_seconds
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._requested: dict[int, str] = {}
        self._polled_minute: int | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._engine.on_commit.append(self.wake)
        self._thread = threading.Thread(
            target=self._loop, name="leasesync-embedded-worker", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.wake in self._engine.on_commit:
            self._engine.on_commit.remove(self.wake)

    def wake(self) -> None:
        """Run a round soon: a commit may have made something due."""
        self._wakeup.set()

    def request_sync(self, property_id: int, trigger: str = "manual") -> bool:
        """Sync a property in the next round; False when one is already asked for."""
        with self._lock:
            fresh = property_id not in self._requested
            self._requested.setdefault(property_id, trigger)
        self.wake()
        return fresh

    def run_once(self) -> int:
        """One round of everything that is due; returns how much work it found."""
        found = self._run_syncs()
        for effect in work.due_effects(self._engine):
            found += _guarded(work.deliver, self._engine, effect.effect_id)
        if self._simulated_reports is not None:
            found += self._simulated_reports()
        for unit_id in work.due_units(self._engine):
            found += _guarded(work.replan_if_due, self._engine, unit_id)
        return found

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.wait(self._tick)
            self._wakeup.clear()
            for _ in range(MAX_ROUNDS):
                if self._stopping.is_set() or not self._guarded_round():
                    break

    def _guarded_round(self) -> int:
        try:
            return self.run_once()
        except Exception:
            # NB: the thread is the outer boundary; the next round tries again.
            logger.exception(
                "Embedded worker round failed",
                extra={"event": "embedded_round_failed"},
            )
            return 0

    def _run_syncs(self) -> int:
        minute = work.minute_of(self._engine.clock.now())
        with self._lock:
            asked, self._requested = self._requested, {}
        if minute != self._polled_minute:
            self._polled_minute = minute
            for property_id in work.polls_due(self._engine, minute):
                asked.setdefault(property_id, "poll")
        for property_id, trigger in asked.items():
            work.run_sync(self._engine, property_id, trigger)
        return len(asked)


def _guarded(task: Callable[[Engine, int], bool], engine: Engine, target: int) -> int:
    """Run one piece of work; a failure is logged and leaves the rest to run."""
    try:
        return int(task(engine, target))
    except Exception:
        logger.exception(
            "Embedded %s(%s) failed; retried next round",
            task.__name__,
            target,
            extra={"event": "embedded_task_failed", "task": task.__name__},
        )
        return 0
