"""Linking a PMS property (SPEC L1): validate first, then create, then sync.

Linking tries the credentials before anything is stored (STYLE.md habit 12), so a
wrong licence key is a clear message, not a property that fails every poll. Linking
the same property twice changes nothing: the existing link is kept and synced.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leasesync.domain.errors import NeedsHumanError
from leasesync.domain.ports import PmsConnector
from leasesync.domain.settings import PropertySettings
from leasesync.engine.runtime import Engine
from leasesync.engine.syncing import SyncOutcome, sync_property
from leasesync.store import models as m
from leasesync.store.properties import find_property

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class PropertyLink:
    """What staff give to link a property: where it is, what it is, how to run it."""

    pms: str
    pms_ref: str
    name: str
    settings: PropertySettings
    connection: dict[str, Any] = field(default_factory=dict)
    secret: str | None = None


def check_link(link: PropertyLink) -> None:
    """Reject settings that cannot work, before any call or write."""
    try:
        ZoneInfo(link.settings.timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise NeedsHumanError(
            f"unknown time zone {link.settings.timezone!r}"
        ) from error
    if len(set(link.settings.common_areas)) != len(link.settings.common_areas):
        raise NeedsHumanError("common areas must have distinct names")


def link_property(
    engine: Engine, link: PropertyLink, connector: PmsConnector
) -> tuple[int, SyncOutcome]:
    """L1: create the property once, then sync it; returns its id and the sync's outcome."""
    check_link(link)
    connector.check_credentials()
    with engine.transaction() as session:
        existing = find_property(session, link.pms, link.pms_ref)
        property_id = (
            existing.id if existing is not None else _create(session, link, engine)
        )
    return property_id, sync_property(engine, property_id, trigger="link")


def _create(session: Any, link: PropertyLink, engine: Engine) -> int:
    s = link.settings
    prop = m.Property(
        name=link.name,
        pms=link.pms,
        pms_ref=link.pms_ref,
        connection=link.connection,
        secret=link.secret,
        timezone=s.timezone,
        poll_minutes=s.poll_minutes,
        early_access_hours=s.early_access_hours,
        move_out_time=_clock_time(s.move_out_time),
        removal_threshold_percent=s.removal_threshold_percent,
        removal_threshold_people=s.removal_threshold_people,
        invite_expiry_days=s.invite_expiry_days,
        reconfiguration_timeout_minutes=s.reconfiguration_timeout_minutes,
        linked_at=engine.clock.now(),
    )
    session.add(prop)
    session.flush()
    for position, area in enumerate(s.common_areas):
        session.add(m.CommonArea(property_id=prop.id, name=area, position=position))
    logger.info(
        "property %s linked",
        prop.id,
        extra={"event": "property_linked", "property_id": prop.id},
    )
    return int(prop.id)


def _clock_time(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"
