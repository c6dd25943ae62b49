"""The production stack as the benchmark runs it: PostgreSQL, RPX over HTTP, gateways.

Everything here is leasesync's own code — :class:`~leasesync.engine.runtime.Engine`,
the RealPage connector, the SMTP gateway, the simulated devices and doors — wired
the way a worker would wire it, with two benchmark choices: the clock is the real
one, and the simulated devices answer at once, so that a turnover's latency is
leasesync's and not a device's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine as SqlEngine

from leasesync.connectors.realpage.connector import RealPageConnector
from leasesync.domain.ports import (
    ConfigurationReport,
    DeviceGateway,
    InviteMessage,
    MailGateway,
    PmsConnector,
)
from leasesync.domain.settings import PropertySettings
from leasesync.engine import completions
from leasesync.engine.linking import PropertyLink
from leasesync.engine.runtime import Engine
from leasesync.engine.tokens import InviteTokens
from leasesync.gateways.devices import SimulatedDeviceGateway
from leasesync.gateways.doors import SimulatedDoorGateway
from leasesync.store import db
from leasesync.store import models as m
from portfolio import COMMON_AREAS, LICENSE_KEY, PMCID, Site

TOKEN_SECRET = "leasesync-bench-secret"


class UtcClock:
    """The wall clock, timezone-aware."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(kw_only=True)
class DroppedMail:
    """A mail gateway that keeps nothing: for phases that deliver no invite."""

    count: int = 0

    def send_invite(self, message: InviteMessage) -> None:
        self.count += 1


@dataclass(kw_only=True)
class RpxConnectors:
    """Connectors for linked properties, sharing one HTTP client (one pool)."""

    timeout: float = 120.0
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=120.0))

    def __call__(self, prop: m.Property) -> PmsConnector:
        return self.for_site(str(prop.connection["url"]), prop.pms_ref.split("/")[1])

    def for_site(self, url: str, siteid: str) -> RealPageConnector:
        return RealPageConnector(
            url=url,
            pmcid=PMCID,
            siteid=siteid,
            license_key=LICENSE_KEY,
            timeout=self.timeout,
            retry_attempts=1,
            http_client=self.client,
        )

    def close(self) -> None:
        self.client.close()


def link_for(site: Site, url: str) -> PropertyLink:
    """How staff would link ``site``: its RPX endpoint and the portfolio's settings."""
    return PropertyLink(
        pms="realpage",
        pms_ref=f"{site.pmcid}/{site.siteid}",
        name=site.name,
        settings=PropertySettings(timezone=site.timezone, common_areas=COMMON_AREAS),
        connection={"url": url},
        secret=LICENSE_KEY,
    )


def build_engine(
    database: SqlEngine,
    *,
    mail: MailGateway,
    connectors: RpxConnectors,
    devices: DeviceGateway | None = None,
) -> Engine:
    """An engine on ``database``; devices default to ones that never answer."""
    clock = UtcClock()
    return Engine(
        sessions=db.session_factory(database),
        clock=clock,
        connectors=connectors,
        mail=mail,
        devices=devices or SimulatedDeviceGateway(lambda _report: None, clock),
        doors=SimulatedDoorGateway(),
        tokens=InviteTokens(TOKEN_SECRET),
    )


def instant_devices(engine_box: list[Engine]) -> SimulatedDeviceGateway:
    """Simulated devices that complete every reconfiguration at once.

    Reports are handed to :func:`completions.device_reported` of the engine in
    ``engine_box`` when the owner calls ``deliver_due``.
    """

    def report(report: ConfigurationReport) -> None:
        completions.device_reported(engine_box[0], report)

    gateway = SimulatedDeviceGateway(report, UtcClock())
    gateway.set_mode("ok", minutes=0)
    return gateway
