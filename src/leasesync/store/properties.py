"""The property repository: linked properties, their settings and sync history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leasesync.domain.ids import PersonId, PmsUnitId
from leasesync.domain.settings import PropertySettings
from leasesync.store import models as m


def settings_of(session: Session, prop: m.Property) -> PropertySettings:
    areas = session.scalars(
        select(m.CommonArea.name)
        .where(m.CommonArea.property_id == prop.id)
        .order_by(m.CommonArea.position)
    ).all()
    hours, minutes = (int(part) for part in prop.move_out_time.split(":"))
    return PropertySettings(
        timezone=prop.timezone,
        common_areas=tuple(areas),
        poll_minutes=prop.poll_minutes,
        early_access_hours=prop.early_access_hours,
        move_out_time=time(hours, minutes),
        removal_threshold_percent=prop.removal_threshold_percent,
        removal_threshold_people=prop.removal_threshold_people,
        invite_expiry_days=prop.invite_expiry_days,
        reconfiguration_timeout_minutes=prop.reconfiguration_timeout_minutes,
    )


def find_property(session: Session, pms: str, pms_ref: str) -> m.Property | None:
    return session.scalars(
        select(m.Property).where(m.Property.pms == pms, m.Property.pms_ref == pms_ref)
    ).first()


@dataclass(frozen=True, kw_only=True, slots=True)
class UnitHead:
    """What a sync needs to know of a unit to decide whether to look closer."""

    id: int
    fingerprint: str | None
    next_due_at: datetime | None
    missing: bool


def unit_heads(session: Session, property_id: int) -> dict[str, UnitHead]:
    """Every unit's id, fingerprint and next instant, without its facts document."""
    rows = session.execute(
        select(
            m.Unit.pms_unit_id,
            m.Unit.id,
            m.Unit.fingerprint,
            m.Unit.next_due_at,
            m.Unit.missing,
        ).where(m.Unit.property_id == property_id)
    ).all()
    return {
        key: UnitHead(id=id_, fingerprint=print_, next_due_at=due, missing=missing)
        for key, id_, print_, due, missing in rows
    }


def find_unit(session: Session, property_id: int, pms_unit_id: str) -> m.Unit | None:
    return session.scalars(
        select(m.Unit).where(
            m.Unit.property_id == property_id, m.Unit.pms_unit_id == pms_unit_id
        )
    ).first()


def unit_index(session: Session, property_id: int) -> dict[str, m.Unit]:
    """Every unit of a property by PMS unit id (rows only; no residents loaded)."""
    units = session.scalars(
        select(m.Unit).where(m.Unit.property_id == property_id)
    ).all()
    return {u.pms_unit_id: u for u in units}


def residents_by_unit(
    session: Session, property_id: int
) -> dict[PmsUnitId, frozenset[PersonId]]:
    """The associated residents of each unit, for the sync guard (L12)."""
    # NB: two steps, so that the residents are read through their unit index whatever
    # the planner's statistics say; one join walked every resident of the portfolio.
    # NB: a comprehension, not dict(): a Result has keys() and would be read as a map.
    units = {  # noqa: C416
        unit_id: pms_unit_id
        for unit_id, pms_unit_id in session.execute(
            select(m.Unit.id, m.Unit.pms_unit_id).where(
                m.Unit.property_id == property_id, m.Unit.paused.is_(False)
            )
        )
    }
    rows = [
        (units[unit_id], person_id)
        for unit_id, person_id in session.execute(
            select(m.Resident.unit_id, m.Resident.pms_person_id).where(
                m.Resident.unit_id.in_(list(units)),
                m.Resident.removed_at.is_(None),
                m.Resident.status != "waiting",
            )
        )
    ]
    grouped: dict[PmsUnitId, set[PersonId]] = {}
    for unit_id, person_id in rows:
        grouped.setdefault(PmsUnitId(unit_id), set()).add(PersonId(person_id))
    return {unit: frozenset(people) for unit, people in grouped.items()}


def latest_held_run(session: Session, property_id: int) -> m.SyncRun | None:
    return session.scalars(
        select(m.SyncRun)
        .where(m.SyncRun.property_id == property_id, m.SyncRun.outcome == "held")
        .order_by(m.SyncRun.id.desc())
    ).first()


def count_pending_effects(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(m.Effect)
            .where(m.Effect.status == "pending")
        )
        or 0
    )
