"""The alert repository: raise once per episode, resolve when it is over.

An alert is keyed by its kind and what it is about; raising one that is already open
does nothing, so a failing PMS raises ``sync_failed`` once per outage, not per poll
(SPEC L12).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from leasesync.store import models as m


def raise_alert(
    session: Session,
    *,
    property_id: int,
    unit_id: int | None,
    kind: str,
    message: str,
    now: datetime,
    about: str = "",
) -> bool:
    """Open an alert unless the same one is open; True when one was opened."""
    key = f"{kind}:{unit_id or ''}:{about}"
    open_alert = session.scalars(
        select(m.Alert.id).where(
            m.Alert.property_id == property_id,
            m.Alert.dedupe_key == key,
            m.Alert.resolved_at.is_(None),
        )
    ).first()
    if open_alert is not None:
        return False
    session.add(
        m.Alert(
            property_id=property_id,
            unit_id=unit_id,
            kind=kind,
            dedupe_key=key,
            message=message,
            raised_at=now,
        )
    )
    return True


def resolve_alerts(
    session: Session, property_id: int, kind: str, unit_id: int | None, now: datetime
) -> None:
    stmt = update(m.Alert).where(
        m.Alert.property_id == property_id,
        m.Alert.kind == kind,
        m.Alert.resolved_at.is_(None),
    )
    if unit_id is not None:
        stmt = stmt.where(m.Alert.unit_id == unit_id)
    session.execute(stmt.values(resolved_at=now))


def open_alert_keys(session: Session, property_id: int, kind: str) -> set[str]:
    return set(
        session.scalars(
            select(m.Alert.dedupe_key).where(
                m.Alert.property_id == property_id,
                m.Alert.kind == kind,
                m.Alert.resolved_at.is_(None),
            )
        ).all()
    )
