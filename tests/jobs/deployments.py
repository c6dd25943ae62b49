"""A production-shaped deployment for the multi-process tests, on loopback.

PostgreSQL (the test's own database), procrastinate workers as real processes, mail
over SMTP to an aiosmtpd sink, devices over MQTT through Mosquitto to the bundled
fleet simulator, and RealPage over SOAP to the bundled simulator. The test process
holds a stack of its own on the same database: it links the property, takes the
staff actions and accepts invites, exactly as the server would, and its commits
defer jobs for the workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jobs_doubles import (
    PMCID,
    SITEID,
    SmtpSink,
    license_key,
    smtp_server,
    unique_prefix,
    worker_environment,
)
from sqlalchemy import select

from leasesync.config import load_settings
from leasesync.connectors.realpage.connector import RealPageConnector
from leasesync.domain.settings import PropertySettings
from leasesync.engine.linking import PropertyLink, link_property
from leasesync.engine.states import property_state
from leasesync.gateways.mqtt import MqttLink
from leasesync.jobs.queueing import ensure_queue_schema
from leasesync.simulators.devices import DeviceFleetSimulator
from leasesync.simulators.realpage import RealPageSimulator
from leasesync.simulators.serving import serve_in_thread
from leasesync.store import db
from leasesync.store import models as m
from leasesync.wiring import Stack, open_stack

MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883


@dataclass(kw_only=True)
class Deployment:
    stack: Stack
    simulator: RealPageSimulator
    simulator_url: str
    sink: SmtpSink
    fleet: DeviceFleetSimulator
    environment: dict[str, str]
    folder: Path
    commands_seen: list[str]
    property_id: int = 0

    def link(self, *, removal_threshold_people: int = 3) -> int:
        """Link the simulated property (L1), as `leasesync property link` does."""
        link = PropertyLink(
            pms="realpage",
            pms_ref=f"{PMCID}/{SITEID}",
            name="Crash Court",
            settings=PropertySettings(
                timezone="America/Chicago",
                common_areas=("lobby",),
                removal_threshold_people=removal_threshold_people,
            ),
            connection={"url": self.simulator_url},
            secret=license_key(),
        )
        with RealPageConnector(
            url=self.simulator_url,
            pmcid=PMCID,
            siteid=SITEID,
            license_key=license_key(),
        ) as connector:
            self.property_id, _ = link_property(self.stack.engine, link, connector)
        return self.property_id

    def units(self) -> dict[str, Any]:
        engine = self.stack.engine
        with engine.transaction() as session:
            state = property_state(session, self.property_id, engine.clock.now())
        units: dict[str, Any] = state["units"]
        return units

    def device_commands(self) -> list[m.DeviceCommand]:
        with self.stack.engine.transaction() as session:
            return list(session.scalars(select(m.DeviceCommand)).all())

    def effects(self, kind: str) -> list[m.Effect]:
        with self.stack.engine.transaction() as session:
            return list(
                session.scalars(select(m.Effect).where(m.Effect.kind == kind)).all()
            )


def require_broker() -> None:
    import socket

    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=0.5):
            return
    except OSError:
        pytest.skip(f"no MQTT broker at {MQTT_HOST}:{MQTT_PORT}")


@contextmanager
def deployment(
    database_url: str,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    units: list[dict[str, Any]],
    residents: list[dict[str, Any]],
) -> Iterator[Deployment]:
    """Everything but the workers, which each test starts and kills itself."""
    require_broker()
    with ExitStack() as resources:
        sink = SmtpSink()
        smtp_port = resources.enter_context(smtp_server(sink))
        prefix = unique_prefix()
        environment = worker_environment(
            database_url=database_url,
            smtp_port=smtp_port,
            topic_prefix=prefix,
            data_dir=folder / "data",
        )
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        settings = load_settings()
        db.upgrade(settings.database_url)
        assert settings.procrastinate_conninfo is not None
        ensure_queue_schema(settings.procrastinate_conninfo)

        fleet = DeviceFleetSimulator(MQTT_HOST, MQTT_PORT, prefix, delay_seconds=0.1)
        fleet.start()
        resources.callback(fleet.stop)
        seen: list[str] = []
        spy = MqttLink(
            MQTT_HOST,
            MQTT_PORT,
            subscription=f"{prefix}/units/#",
            on_message=lambda _topic, payload: seen.append(payload.decode()),
        )
        assert spy.start(5.0)
        resources.callback(spy.stop)

        simulator = RealPageSimulator(
            pmcid=PMCID,
            siteid=SITEID,
            license_key=license_key(),
            units=units,
            residents=residents,
        )
        simulator_url = resources.enter_context(serve_in_thread(simulator))
        stack = resources.enter_context(open_stack(settings))
        yield Deployment(
            stack=stack,
            simulator=simulator,
            sink=sink,
            fleet=fleet,
            environment=environment,
            folder=folder,
            commands_seen=seen,
            simulator_url=simulator_url,
        )
