"""A simulated device fleet for the embedded stack and the scenario harness.

Real devices answer a reconfiguration minutes later, or fail, or never answer at all
(SPEC L8). :class:`SimulatedDeviceGateway` plays all three under a clock it does not
own: a request schedules its answer at a future instant of the given clock, and
nothing is reported until the owner of the clock calls :meth:`deliver_due`. The
scenario harness advances its virtual clock to :meth:`next_due` and delivers; the
embedded stack, on the system clock, calls :meth:`deliver_due` from its worker tick.

How the devices answer is set per unit, the way FORMAT.md's ``devices`` step says:
``ok`` completes after some minutes (default 5), ``fail`` reports a failure after as
long, ``silent`` never answers. The behaviour in force when a request arrives decides
its answer. A repeated idempotency key is dropped, as a real fleet would: a retry of
a failed or silent reconfiguration therefore needs a key of its own.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from leasesync.domain.ports import (
    Clock,
    CommandOutcome,
    ConfigurationReport,
    ConfigurationRequest,
    ReportSink,
)

logger = logging.getLogger(__name__)


class DeviceMode(StrEnum):
    """How simulated devices answer a reconfiguration (FORMAT.md ``devices``)."""

    OK = "ok"
    FAIL = "fail"
    SILENT = "silent"


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceBehaviour:
    """A mode and how long the devices take to answer in it."""

    mode: DeviceMode
    minutes: float = 5.0

    def answer(
        self, request: ConfigurationRequest, at: datetime
    ) -> ConfigurationReport | None:
        """The report to a request received at ``at``; ``None`` when silent."""
        if self.mode is DeviceMode.SILENT:
            return None
        completed = self.mode is DeviceMode.OK
        return ConfigurationReport(
            idempotency_key=request.idempotency_key,
            outcome=CommandOutcome.COMPLETED if completed else CommandOutcome.FAILED,
            at=at + timedelta(minutes=self.minutes),
            detail="" if completed else "simulated device failure",
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SimulatedCommand:
    """One request the simulated devices accepted, and the answer they will give.

    ``report`` is ``None`` for a silent unit; its ``at`` is when it is due, which may
    still be in the future of the clock.
    """

    request: ConfigurationRequest
    requested_at: datetime
    report: ConfigurationReport | None


class SimulatedDeviceGateway:
    """A :class:`~leasesync.domain.ports.DeviceGateway` answering under a given clock.

    Thread-safe: workers may request while the harness delivers. The sink is called
    outside the lock, so it may itself request another reconfiguration.
    """

    def __init__(self, sink: ReportSink, clock: Clock) -> None:
        self._sink = sink
        self._clock = clock
        self._lock = threading.Lock()
        self._default = DeviceBehaviour(mode=DeviceMode.OK)
        self._by_unit: dict[str, DeviceBehaviour] = {}
        self._seen: set[str] = set()
        self._due: list[tuple[datetime, int, ConfigurationReport]] = []
        self._order = itertools.count()
        self._commands: list[SimulatedCommand] = []
        self._delivered: list[ConfigurationReport] = []

    @property
    def commands(self) -> list[SimulatedCommand]:
        """Every accepted request in arrival order (repeats are not listed)."""
        with self._lock:
            return list(self._commands)

    @property
    def delivered(self) -> list[ConfigurationReport]:
        """Every report handed to the sink so far, in delivery order."""
        with self._lock:
            return list(self._delivered)

    def set_mode(
        self,
        mode: DeviceMode | str,
        minutes: float = 5.0,
        unit_keys: Iterable[str] | None = None,
    ) -> None:
        """Answer later requests of ``unit_keys`` (``None``: every unit) this way.

        Setting every unit also forgets the per-unit modes set before: "from now on,
        all units" (FORMAT.md). Requests already received keep their answer.
        """
        if minutes < 0:
            raise ValueError("devices cannot answer before they are asked")
        behaviour = DeviceBehaviour(mode=DeviceMode(mode), minutes=minutes)
        with self._lock:
            if unit_keys is None:
                self._default = behaviour
                self._by_unit.clear()
            else:
                self._by_unit.update(dict.fromkeys(unit_keys, behaviour))

    def request(self, request: ConfigurationRequest) -> None:
        """Accept the request and schedule its answer; drop a repeated key."""
        now = self._clock.now()
        with self._lock:
            if request.idempotency_key in self._seen:
                logger.debug(
                    "Repeated device request %s dropped", request.idempotency_key
                )
                return
            self._seen.add(request.idempotency_key)
            behaviour = self._by_unit.get(request.unit_key, self._default)
            report = behaviour.answer(request, now)
            self._commands.append(
                SimulatedCommand(request=request, requested_at=now, report=report)
            )
            if report is not None:
                heapq.heappush(self._due, (report.at, next(self._order), report))

    def next_due(self) -> datetime | None:
        """When the earliest undelivered report is due; ``None`` if none is."""
        with self._lock:
            return self._due[0][0] if self._due else None

    def deliver_due(self, now: datetime) -> int:
        """Hand every report due at or before ``now`` to the sink, in time order.

        Returns how many were delivered. If the sink raises, the report it refused
        stays due and the error propagates: the next call delivers it again.
        """
        delivered = 0
        while (entry := self._pop_due(now)) is not None:
            try:
                self._sink(entry[2])
            except Exception:
                with self._lock:
                    heapq.heappush(self._due, entry)
                raise
            with self._lock:
                self._delivered.append(entry[2])
            delivered += 1
        return delivered

    def _pop_due(
        self, now: datetime
    ) -> tuple[datetime, int, ConfigurationReport] | None:
        with self._lock:
            if self._due and self._due[0][0] <= now:
                return heapq.heappop(self._due)
            return None
