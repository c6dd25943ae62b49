"""The bundled simulated property: its data, its simulator, and linking it once.

The data file uses the scenario format's ``pms`` rows (FORMAT.md), so the same
simulator that serves scenarios serves it. The simulator listens on a new loopback
port at every start; the link stores the property's identity and licence key, and
the connector factory is told the current URL by ``pms_ref``
(:class:`~leasesync.wiring.RealPageConnectors`' ``endpoints``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from leasesync.connectors.realpage.connector import RealPageConnector
from leasesync.domain.settings import PropertySettings
from leasesync.engine.linking import PropertyLink, link_property
from leasesync.engine.runtime import Engine
from leasesync.simulators.realpage import SCENARIO_LICENSE_KEY, RealPageSimulator
from leasesync.store.properties import find_property

logger = logging.getLogger(__name__)

DEFAULT_BUNDLE = "maple_court.yaml"


@dataclass(frozen=True, kw_only=True, slots=True)
class BundledProperty:
    """One simulated RealPage site: who it is, and the rows it serves."""

    pmcid: str
    siteid: str
    name: str
    timezone: str
    common_areas: tuple[str, ...]
    units: tuple[dict[str, Any], ...]
    residents: tuple[dict[str, Any], ...]

    @property
    def pms_ref(self) -> str:
        return f"{self.pmcid}/{self.siteid}"

    def simulator(self) -> RealPageSimulator:
        return RealPageSimulator(
            pmcid=self.pmcid,
            siteid=self.siteid,
            license_key=SCENARIO_LICENSE_KEY,
            units=self.units,
            residents=self.residents,
        )


def load_bundled(name: str = DEFAULT_BUNDLE) -> BundledProperty:
    """Read a bundled property file from this package."""
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    prop = data["property"]
    return BundledProperty(
        pmcid=str(prop["pmcid"]),
        siteid=str(prop["siteid"]),
        name=str(prop["name"]),
        timezone=str(prop["timezone"]),
        common_areas=tuple(prop.get("common_areas") or ()),
        units=tuple(prop["units"]),
        residents=tuple(data.get("residents") or ()),
    )


def ensure_linked(engine: Engine, bundled: BundledProperty, url: str) -> int:
    """The bundled property's id, linking it first if this database lacks it (L1)."""
    with engine.transaction() as session:
        existing = find_property(session, "realpage", bundled.pms_ref)
        if existing is not None:
            return existing.id
    link = PropertyLink(
        pms="realpage",
        pms_ref=bundled.pms_ref,
        name=bundled.name,
        settings=PropertySettings(
            timezone=bundled.timezone, common_areas=bundled.common_areas
        ),
        connection={"url": url, "pmcid": bundled.pmcid, "siteid": bundled.siteid},
        secret=SCENARIO_LICENSE_KEY,
    )
    with RealPageConnector(
        url=url,
        pmcid=bundled.pmcid,
        siteid=bundled.siteid,
        license_key=SCENARIO_LICENSE_KEY,
    ) as connector:
        property_id, outcome = link_property(engine, link, connector)
    logger.info(
        "Bundled property %s linked (%s)",
        property_id,
        outcome.outcome,
        extra={"event": "bundled_property_linked", "property_id": property_id},
    )
    return property_id
