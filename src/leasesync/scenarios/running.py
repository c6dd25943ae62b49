"""Running a scenario on the embedded stack under a virtual clock (FORMAT.md).

The run goes through production code end to end: the RealPage connector speaks SOAP
over real HTTP to the bundled simulator on loopback, the engine syncs, plans and
records into a fresh SQLite database migrated by Alembic, and the outbox is delivered
through the outbox mail gateway and the device and door simulators. Only the clock,
the PMS endpoint and the gateways are the embedded ones.

Between steps the clock jumps from one due instant to the next — a poll, an effect
that is due, a device answer, a unit's next instant — and at each instant everything
due runs until nothing more is, so the order of events is the order of time.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from sqlalchemy import func, select

from leasesync.connectors.realpage.connector import RealPageConnector
from leasesync.domain.errors import LeasesyncError
from leasesync.domain.ports import ConfigurationReport, PmsConnector
from leasesync.domain.settings import PropertySettings
from leasesync.engine import completions
from leasesync.engine.delivery import deliver_due_effects, unit_key
from leasesync.engine.linking import PropertyLink, link_property
from leasesync.engine.runtime import Engine
from leasesync.engine.states import property_state
from leasesync.engine.syncing import sync_property
from leasesync.engine.tokens import InviteTokens
from leasesync.gateways.devices import SimulatedDeviceGateway
from leasesync.gateways.doors import SimulatedDoorGateway
from leasesync.gateways.mail.outbox import OutboxMailGateway, list_outbox
from leasesync.scenarios.format import Scenario, Step, parse_move_out_time
from leasesync.simulators.realpage import SCENARIO_LICENSE_KEY, RealPageSimulator
from leasesync.simulators.serving import serve_in_thread
from leasesync.store import db
from leasesync.store import models as m

logger = logging.getLogger(__name__)

MAX_ROUNDS_PER_INSTANT = 50
CONNECTOR_TIMEOUT = 0.3


class VirtualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = max(self._now, instant)


@dataclass(kw_only=True)
class ScenarioRun:
    """One scenario's embedded stack and its progress through time."""

    scenario: Scenario
    engine: Engine
    clock: VirtualClock
    simulator: RealPageSimulator
    devices: SimulatedDeviceGateway
    outbox: Path
    simulator_url: str
    property_id: int | None = None
    next_poll: datetime | None = None
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    device_modes: list[dict[str, Any]] = field(default_factory=list)
    _connector: PmsConnector | None = None

    # --- time ------------------------------------------------------------------------

    def advance_to(self, target: datetime) -> None:
        while True:
            due = self.next_instant()
            if due is None or due > target:
                break
            self.clock.set(due)
            self.settle()
        self.clock.set(target)
        self.settle()

    def next_instant(self) -> datetime | None:
        candidates = [self.next_poll, self.devices.next_due(), *self._store_instants()]
        found = [c for c in candidates if c is not None]
        return min(found, default=None)

    def _store_instants(self) -> list[datetime | None]:
        with self.engine.transaction() as session:
            effect = session.scalar(
                select(func.min(m.Effect.available_at)).where(
                    m.Effect.status == "pending"
                )
            )
            unit = session.scalar(
                select(func.min(m.Unit.next_due_at)).where(m.Unit.paused.is_(False))
            )
        return [effect, unit]

    def settle(self) -> None:
        """Run everything due at this instant until nothing more is."""
        for _ in range(MAX_ROUNDS_PER_INSTANT):
            now = self.clock.now()
            work = deliver_due_effects(self.engine)
            work += self.devices.deliver_due(now)
            work += completions.run_due_units(self.engine)
            if self.next_poll is not None and self.next_poll <= now:
                work += self.poll()
            if not work:
                return
        raise RuntimeError(f"no quiet moment at {self.clock.now().isoformat()}")

    def poll(self) -> int:
        """Sync as a poll would; 1 when it changed something, so the instant goes on."""
        assert self.property_id is not None
        minutes = int(self.settings().poll_minutes)
        self.next_poll = self.clock.now() + timedelta(minutes=minutes)
        outcome = sync_property(self.engine, self.property_id, trigger="poll")
        return 0 if outcome.outcome in ("unchanged", "held", "failed") else 1

    # --- steps -----------------------------------------------------------------------

    def run_step(self, step: Step) -> None:
        """Carry a step out; one the engine refuses is recorded and the run goes on."""
        handler = getattr(self, f"step_{step.action}")
        try:
            handler(step.value)
        except LeasesyncError as refusal:
            self.events.append(
                {
                    "at": self.clock.now(),
                    "event": "step_refused",
                    "detail": f"steps[{step.index}].{step.action}: {refusal}",
                }
            )
            logger.warning(
                "steps[%d].%s refused: %s",
                step.index,
                step.action,
                refusal,
                extra={"event": "step_refused"},
            )
        self.settle()

    def step_pms(self, value: dict[str, Any]) -> None:
        self.simulator.set_state(units=value.get("units"), residents=value["residents"])

    def step_link(self, _value: object) -> None:
        link = PropertyLink(
            pms="realpage",
            pms_ref=self._pms_ref(),
            name=self.scenario.property["name"],
            settings=self.settings(),
            connection={"url": self.simulator_url},
        )
        self.property_id, _ = link_property(self.engine, link, self.connector())
        minutes = self.settings().poll_minutes
        self.next_poll = self.clock.now() + timedelta(minutes=minutes)
        for mode in self.device_modes:
            self._apply_device_mode(mode)

    def step_sync(self, _value: object) -> None:
        sync_property(self.engine, self._linked(), trigger="manual")

    def step_mark_installed(self, units: list[str]) -> None:
        for unit in units:
            completions.mark_installed(self.engine, self._linked(), unit, "installer")

    def step_accept_invite(self, address: str) -> None:
        wanted = address.strip().lower()
        opened = 0
        for entry in list_outbox(self.outbox):
            if entry.to.strip().lower() != wanted:
                continue
            opened += 1
            token = parse_qs(urlparse(entry.accept_url).query)["token"][0]
            try:
                completions.accept_invite(self.engine, token)
            except completions.InviteRefusedError as refusal:
                self.events.append(
                    {
                        "at": self.clock.now(),
                        "event": "invite_refused",
                        "detail": f"{address}: {refusal.reason}",
                    }
                )
        if not opened:
            raise completions.UnknownTargetError(
                f"no invite was ever sent to {address}"
            )

    def step_pms_fault(self, value: dict[str, Any]) -> None:
        self.simulator.inject_fault(value["kind"], int(value.get("calls", 1)))

    def step_devices(self, value: dict[str, Any]) -> None:
        self.device_modes.append(value)
        self._apply_device_mode(value)

    def step_approve_held_sync(self, _value: object) -> None:
        completions.approve_held_sync(self.engine, self._linked(), "staff")

    def step_snapshot(self, name: str) -> None:
        self.snapshots[name] = self.state()

    # --- helpers ---------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        now = self.clock.now().astimezone(self.scenario.zone)
        if self.property_id is None:
            return {
                "at": now.isoformat(),
                "property": {"linked": False, "sync": "ok"},
                "units": {},
            }
        with self.engine.transaction() as session:
            return property_state(session, self.property_id, now)

    def settings(self) -> PropertySettings:
        prop = self.scenario.property
        given = dict(prop.get("settings", {}))
        if "move_out_time" in given:
            given["move_out_time"] = parse_move_out_time(
                given["move_out_time"], "property.settings.move_out_time"
            )
        return PropertySettings(
            timezone=prop["timezone"],
            common_areas=tuple(prop.get("common_areas", ())),
            **given,
        )

    def connector(self, _prop: m.Property | None = None) -> PmsConnector:
        if self._connector is None:
            self._connector = self._new_connector()
        return self._connector

    def _new_connector(self) -> PmsConnector:
        prop = self.scenario.property
        return RealPageConnector(
            url=self.simulator_url,
            pmcid=str(prop["pmcid"]),
            siteid=str(prop["siteid"]),
            license_key=SCENARIO_LICENSE_KEY,
            timeout=CONNECTOR_TIMEOUT,
            retry_attempts=3,
            retry_wait=0.01,
        )

    def _pms_ref(self) -> str:
        return f"{self.scenario.property['pmcid']}/{self.scenario.property['siteid']}"

    def _linked(self) -> int:
        if self.property_id is None:
            raise RuntimeError("the scenario acts on the property before linking it")
        return self.property_id

    def _apply_device_mode(self, value: dict[str, Any]) -> None:
        units = value.get("units")
        if units is not None and self.property_id is None:
            return  # NB: applied again at link time, once unit keys are known
        keys = None if units is None else [unit_key(self._linked(), u) for u in units]
        self.devices.set_mode(value["mode"], float(value.get("minutes", 5)), keys)


@contextmanager
def embedded_run(
    scenario: Scenario, workdir: Path | None = None
) -> Iterator[ScenarioRun]:
    """Build the embedded stack for one scenario in a fresh folder."""
    with ExitStack() as stack:
        folder = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = f"sqlite:///{folder / 'leasesync.sqlite3'}"
        db.upgrade(url)
        engine_db = db.create_engine_for(url)
        stack.callback(engine_db.dispose)
        clock = VirtualClock(scenario.start)
        prop = scenario.property
        simulator = RealPageSimulator(
            pmcid=str(prop["pmcid"]),
            siteid=str(prop["siteid"]),
            license_key=SCENARIO_LICENSE_KEY,
            units=prop["units"],
            residents=[],
            timeout_seconds=CONNECTOR_TIMEOUT * 2,
        )
        simulator_url = stack.enter_context(serve_in_thread(simulator))
        run_box: list[ScenarioRun] = []

        def report_sink(report: ConfigurationReport) -> None:
            completions.device_reported(run_box[0].engine, report)

        devices = SimulatedDeviceGateway(report_sink, clock)
        outbox = folder / "outbox"
        engine = Engine(
            sessions=db.session_factory(engine_db),
            clock=clock,
            connectors=lambda _prop: run_box[0].connector(),
            mail=OutboxMailGateway(outbox, clock=clock),
            devices=devices,
            doors=SimulatedDoorGateway(),
            tokens=InviteTokens("scenario-secret"),
            verify_state=True,
        )
        run = ScenarioRun(
            scenario=scenario,
            engine=engine,
            clock=clock,
            simulator=simulator,
            devices=devices,
            outbox=outbox,
            simulator_url=simulator_url,
        )
        run_box.append(run)
        yield run


def play(run: ScenarioRun) -> None:
    """Run every step at its time, then let the clock run to the end."""
    for step in run.scenario.steps:
        run.advance_to(step.at)
        run.run_step(step)
    run.advance_to(run.scenario.end)
    run.snapshots["end"] = run.state()
