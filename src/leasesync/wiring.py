"""Building the engine a process runs on, from its settings (SPEC §5).

Every face — ``leasesync serve``, ``leasesync worker``, the CLI's commands — opens
one :class:`Stack` with :func:`open_stack`: the database (SQLite or PostgreSQL), the
:class:`~leasesync.engine.runtime.Engine` with its clock and ports, and, when the
settings say ``worker = "procrastinate"``, the :class:`~.jobs.queueing.JobQueue`
that every commit's new effects and instants are deferred on
(:mod:`leasesync.jobs.tracking`). The scenario harness builds its own engine under
a virtual clock; everything else comes through here.

The ports follow the settings: mail to an outbox folder or SMTP, devices to the
bundled simulator or MQTT, doors to the simulator. A device report, from either
device gateway, goes straight to
:func:`~leasesync.engine.completions.device_reported`. Gateways that hold a
connection (MQTT) connect only in :meth:`Stack.start_gateways`, which the processes
that deliver effects call; a CLI command that only decides never connects.

PMS connectors are made per property from what linking stored — ``connection``
(URL, ``pmcid``, ``siteid``) and ``secret`` (the licence key) — and kept per property
while those stay the same. ``endpoints`` overrides the URL of a property by its
``pms_ref``: the embedded default's simulated RealPage listens on a new port at every
start.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Engine as Database

from leasesync.config import Settings
from leasesync.connectors.realpage.connector import RealPageConnector
from leasesync.domain.errors import NeedsHumanError
from leasesync.domain.ports import (
    Clock,
    ConfigurationReport,
    DeviceGateway,
    DoorGateway,
    MailGateway,
    PmsConnector,
)
from leasesync.domain.snapshots import PropertySnapshot
from leasesync.engine.completions import device_reported
from leasesync.engine.runtime import Engine
from leasesync.engine.tokens import InviteTokens
from leasesync.gateways.devices import SimulatedDeviceGateway
from leasesync.gateways.doors import SimulatedDoorGateway
from leasesync.gateways.mail.outbox import OutboxMailGateway
from leasesync.gateways.mail.smtp import SmtpMailGateway
from leasesync.gateways.mqtt import MqttDeviceGateway
from leasesync.jobs.queueing import JobQueue
from leasesync.jobs.tracking import CommitTracker
from leasesync.store import db
from leasesync.store import models as m

logger = logging.getLogger(__name__)

#: Worker processes share one MQTT report subscription: each report reaches one.
REPORT_GROUP = "leasesync-workers"

Role = Literal["cli", "server", "worker"]


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True, slots=True)
class Gateways:
    """Ports to use instead of the ones the settings name (tests, embedded tools)."""

    mail: MailGateway | None = None
    devices: DeviceGateway | None = None
    doors: DoorGateway | None = None


# --- PMS connectors ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class _RealPageTarget:
    url: str
    pmcid: str
    siteid: str
    username: str | None
    key_digest: str


class _UnusableConnector:
    """Stands in for a property that cannot be reached as stored; every call says why."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    def check_credentials(self) -> None:
        raise NeedsHumanError(self._reason)

    def fetch_snapshot(self) -> PropertySnapshot:
        raise NeedsHumanError(self._reason)


class RealPageConnectors:
    """The engine's connector factory: one :class:`RealPageConnector` per property."""

    def __init__(
        self, *, endpoints: Mapping[str, str] | None = None, timeout: float = 60.0
    ) -> None:
        self._endpoints = dict(endpoints or {})
        self._timeout = timeout
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[_RealPageTarget, RealPageConnector]] = {}

    def __call__(self, prop: m.Property) -> PmsConnector:
        if prop.pms != "realpage":
            return _UnusableConnector(f"no connector for the PMS {prop.pms!r}")
        if not prop.secret:
            return _UnusableConnector(
                f"property {prop.id} has no licence key stored; link it again"
            )
        target = self._target(prop)
        if not target.url:
            return _UnusableConnector(f"property {prop.id} has no RPX endpoint URL")
        return self._cached(prop.id, target, prop.secret)

    def close(self) -> None:
        with self._lock:
            cached, self._cache = self._cache, {}
        for _target, connector in cached.values():
            connector.close()

    def _target(self, prop: m.Property) -> _RealPageTarget:
        connection: dict[str, Any] = prop.connection or {}
        pmcid, _, siteid = prop.pms_ref.partition("/")
        return _RealPageTarget(
            url=self._endpoints.get(prop.pms_ref) or str(connection.get("url", "")),
            pmcid=str(connection.get("pmcid") or pmcid),
            siteid=str(connection.get("siteid") or siteid),
            username=connection.get("username"),
            key_digest=hashlib.sha256((prop.secret or "").encode()).hexdigest(),
        )

    def _cached(
        self, property_id: int, target: _RealPageTarget, secret: str
    ) -> PmsConnector:
        with self._lock:
            found = self._cache.get(property_id)
            if found is not None and found[0] == target:
                return found[1]
            connector = RealPageConnector(
                url=target.url,
                pmcid=target.pmcid,
                siteid=target.siteid,
                license_key=secret,
                username=target.username,
                timeout=self._timeout,
            )
            self._cache[property_id] = (target, connector)
        if found is not None:
            found[1].close()
        return connector


# --- The stack ---------------------------------------------------------------------


@dataclass(kw_only=True)
class Stack:
    """One process's engine and what it is wired to; :meth:`close` releases it all."""

    settings: Settings
    engine: Engine
    database: Database
    queue: JobQueue | None = None
    tracker: CommitTracker | None = None
    simulated_devices: SimulatedDeviceGateway | None = None
    connectors: RealPageConnectors | None = None
    _starters: list[Callable[[], None]] = field(default_factory=list)
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def start_gateways(self) -> None:
        """Connect the gateways that hold connections (MQTT); for delivering processes."""
        for start in self._starters:
            start()

    def deliver_simulated_reports(self) -> int:
        """Hand the simulated devices' due answers to the engine; returns how many."""
        if self.simulated_devices is None:
            return 0
        return self.simulated_devices.deliver_due(self.engine.clock.now())

    def close(self) -> None:
        for close in reversed(self._closers):
            try:
                close()
            except Exception:
                logger.warning(
                    "Closing part of the stack failed",
                    exc_info=True,
                    extra={"event": "stack_close_failed"},
                )


@dataclass(frozen=True, kw_only=True, slots=True)
class _Options:
    role: Role
    clock: Clock
    gateways: Gateways
    endpoints: Mapping[str, str]
    base_url: str | None
    pool_size: int | None


@contextmanager
def open_stack(
    settings: Settings,
    *,
    role: Role = "cli",
    clock: Clock | None = None,
    gateways: Gateways | None = None,
    endpoints: Mapping[str, str] | None = None,
    base_url: str | None = None,
    pool_size: int | None = None,
) -> Iterator[Stack]:
    """Build the stack for one process, and close it when the block ends.

    ``role`` says what the process does: a ``worker`` shares the MQTT report
    subscription with the other workers. ``gateways`` replaces ports the settings
    name; ``endpoints`` maps a ``pms_ref`` to its RPX URL; ``base_url`` overrides
    the settings' for invite links; ``pool_size`` sizes the PostgreSQL pool.
    """
    options = _Options(
        role=role,
        clock=clock or SystemClock(),
        gateways=gateways or Gateways(),
        endpoints=endpoints or {},
        base_url=base_url,
        pool_size=pool_size,
    )
    stack = _build(settings, options)
    try:
        yield stack
    finally:
        stack.close()


class _ReportSink:
    """Device reports, from whichever gateway, to the engine (set once it exists)."""

    engine: Engine | None = None

    def __call__(self, report: ConfigurationReport) -> None:
        if self.engine is None:
            raise RuntimeError("a device report arrived before the engine was built")
        device_reported(self.engine, report)


def _build(settings: Settings, options: _Options) -> Stack:
    database = _database(settings, options.pool_size)
    closers: list[Callable[[], None]] = [database.dispose]
    sink = _ReportSink()
    simulated, devices, starters = _devices(settings, options, sink)
    closers.extend(_stoppers(devices))
    connectors = RealPageConnectors(endpoints=options.endpoints)
    closers.append(connectors.close)
    sink.engine = engine = Engine(
        sessions=db.session_factory(database),
        clock=options.clock,
        connectors=connectors,
        mail=options.gateways.mail or _mail(settings, options.clock),
        devices=devices,
        doors=options.gateways.doors or SimulatedDoorGateway(),
        tokens=InviteTokens(settings.secret_key.get_secret_value()),
        base_url=options.base_url or settings.base_url,
    )
    stack = Stack(
        settings=settings,
        engine=engine,
        database=database,
        simulated_devices=simulated,
        connectors=connectors,
        _starters=starters,
        _closers=closers,
    )
    _attach_queue(stack)
    return stack


def _database(settings: Settings, pool_size: int | None) -> Database:
    options: dict[str, Any] = {}
    if pool_size is not None and not settings.is_sqlite:
        options = {"pool_size": pool_size, "max_overflow": pool_size}
    return db.create_engine_for(settings.database_url, **options)


def _mail(settings: Settings, clock: Clock) -> MailGateway:
    mail = settings.mail
    if mail.backend == "outbox":
        return OutboxMailGateway(
            settings.outbox_dir, clock=clock, sender=mail.from_address
        )
    return SmtpMailGateway(
        mail.smtp_host,
        mail.smtp_port,
        sender=mail.from_address,
        starttls=mail.smtp_starttls,
        use_tls=mail.smtp_tls,
        username=mail.smtp_username,
        password=mail.smtp_password,
        timeout=mail.smtp_timeout_seconds,
        clock=clock,
    )


def _devices(
    settings: Settings, options: _Options, report: _ReportSink
) -> tuple[SimulatedDeviceGateway | None, DeviceGateway, list[Callable[[], None]]]:
    if options.gateways.devices is not None:
        return None, options.gateways.devices, []
    devices = settings.devices
    if devices.backend == "simulated":
        simulated = SimulatedDeviceGateway(report, options.clock)
        simulated.set_mode("ok", minutes=devices.simulated_delay_seconds / 60)
        return simulated, simulated, []
    mqtt = MqttDeviceGateway(
        devices.mqtt_host,
        devices.mqtt_port,
        devices.mqtt_topic_prefix,
        report,
        clock=options.clock,
        shared_group=REPORT_GROUP if options.role == "worker" else None,
        username=devices.mqtt_username,
        password=devices.mqtt_password,
    )
    return None, mqtt, [mqtt.start]


def _stoppers(devices: DeviceGateway) -> list[Callable[[], None]]:
    return [devices.stop] if isinstance(devices, MqttDeviceGateway) else []


def _attach_queue(stack: Stack) -> None:
    """Defer jobs after each commit, when procrastinate runs the background work."""
    conninfo = stack.settings.procrastinate_conninfo
    if stack.settings.worker != "procrastinate" or conninfo is None:
        return
    queue = JobQueue(conninfo)
    queue.open()
    stack.queue = queue
    stack._closers.append(queue.close)
    tracker = CommitTracker(stack.engine.sessions)
    stack.tracker = tracker
    stack.engine.on_commit.append(lambda: _dispatch(stack, queue, tracker))


def _dispatch(stack: Stack, queue: JobQueue, tracker: CommitTracker) -> None:
    notes = tracker.drain()
    if not notes:
        return
    try:
        queue.dispatch(notes, stack.engine.clock.now())
    except Exception:
        # NB: the unit of work is already committed; failing here would tell the
        # caller it was not. The sweep defers whatever this missed.
        logger.warning(
            "Deferring jobs after a commit failed; the sweep will catch up",
            exc_info=True,
            extra={"event": "defer_failed"},
        )
