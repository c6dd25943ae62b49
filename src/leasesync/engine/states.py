"""The property STATE of FORMAT.md, read from the store.

The scenario harness records it in snapshots and reports; the API serves it at
``GET /api/properties/{id}/state``; ``leasesync state --json`` prints it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leasesync.store import models as m


def property_state(session: Session, property_id: int, at: datetime) -> dict[str, Any]:
    prop = session.get_one(m.Property, property_id)
    units = session.scalars(
        select(m.Unit)
        .where(m.Unit.property_id == property_id)
        .order_by(m.Unit.pms_unit_id)
    ).all()
    residents = session.scalars(
        select(m.Resident)
        .join(m.Unit)
        .where(m.Unit.property_id == property_id, m.Resident.removed_at.is_(None))
        .order_by(m.Resident.id)
    ).all()
    grants = session.scalars(
        select(m.AccessGrant)
        .join(m.Unit)
        .where(m.Unit.property_id == property_id, m.AccessGrant.status == "active")
        .order_by(m.AccessGrant.id)
    ).all()
    access: dict[tuple[int, str], list[str]] = {}
    for grant in grants:
        access.setdefault((grant.unit_id, grant.pms_person_id), []).append(grant.door)
    order = _door_order(session, property_id)
    by_unit: dict[int, dict[str, Any]] = {u.id: {} for u in units}
    for r in residents:
        doors = sorted(access.get((r.unit_id, r.pms_person_id), []), key=order)
        by_unit[r.unit_id][r.pms_person_id] = {
            "name": r.name,
            "email": r.email,
            "status": r.status,
            "access": doors,
        }
    return {
        "at": at.isoformat(),
        "property": {"linked": True, "sync": prop.sync_status, "name": prop.name},
        "units": {u.pms_unit_id: _unit(u, by_unit[u.id]) for u in units},
    }


def _unit(unit: m.Unit, residents: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": unit.number,
        "installation": unit.installation,
        "state": unit.lifecycle,
        "devices": unit.devices,
        "missing": unit.missing,
        "paused": unit.paused,
        "residents": residents,
    }


def _door_order(session: Session, property_id: int) -> Any:
    areas = session.scalars(
        select(m.CommonArea.name)
        .where(m.CommonArea.property_id == property_id)
        .order_by(m.CommonArea.position)
    ).all()
    rank = {"unit": 0} | {f"common:{a}": i + 1 for i, a in enumerate(areas)}
    return lambda door: rank.get(door, len(rank))
