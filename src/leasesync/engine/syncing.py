"""Syncing a property: fetch, guard, and re-plan every unit whose facts changed.

The engine is level-triggered (SPEC §4): each sync compares the whole snapshot with
the platform and plans the difference, so a missed poll heals at the next one. Cost
follows change: a unit whose facts carry the same fingerprint as last time, and that
has nothing due, is skipped without loading its platform state; a sync that changes
nothing writes nothing. A failed fetch or an implausible snapshot changes nothing
either (L12).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from leasesync.domain.errors import NeedsHumanError, RetryLaterError
from leasesync.domain.guarding import GuardVerdict, judge_snapshot
from leasesync.domain.ids import PmsUnitId
from leasesync.domain.planning import UnitFacts
from leasesync.domain.settings import PropertySettings
from leasesync.domain.snapshots import PropertySnapshot
from leasesync.engine.reconciliation import replan_unit
from leasesync.engine.runtime import Engine
from leasesync.store import models as m
from leasesync.store.alerts import open_alert_keys, raise_alert, resolve_alerts
from leasesync.store.facts import facts_to_json, fingerprint, snapshot_to_json
from leasesync.store.households import record_households
from leasesync.store.properties import (
    UnitHead,
    find_unit,
    residents_by_unit,
    settings_of,
    unit_heads,
)
from leasesync.store.units import lock_unit

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class SyncOutcome:
    """What one sync did: ``unchanged``, ``applied``, ``held`` or ``failed``."""

    outcome: str
    units_changed: int = 0
    actions: int = 0
    detail: str = ""
    run_id: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class _Prepared:
    facts: dict[PmsUnitId, UnitFacts]
    documents: dict[PmsUnitId, dict[str, Any]]
    prints: dict[PmsUnitId, str]


def sync_property(
    engine: Engine, property_id: int, *, trigger: str = "poll"
) -> SyncOutcome:
    """Fetch the property's PMS and apply what changed; never raises for PMS trouble."""
    with engine.transaction() as session:
        prop = session.get_one(m.Property, property_id)
        connector = engine.connectors(prop)
    try:
        snapshot = connector.fetch_snapshot()
    except (RetryLaterError, NeedsHumanError) as error:
        return _record_failure(engine, property_id, trigger, error)
    return apply_snapshot(engine, property_id, snapshot, trigger=trigger)


def apply_snapshot(
    engine: Engine,
    property_id: int,
    snapshot: PropertySnapshot,
    *,
    trigger: str,
    approved_by: str | None = None,
) -> SyncOutcome:
    """Guard a fetched snapshot, then re-plan each changed unit in its own transaction."""
    snapshot = snapshot.with_orphans_quarantined()
    now = engine.clock.now()
    prepared = _prepare(snapshot)
    with engine.transaction() as session:
        prop = session.get_one(m.Property, property_id)
        settings = settings_of(session, prop)
        index = unit_heads(session, property_id)
        # NB: a unit with a quarantined record keeps its last known facts: bad data
        # for one resident must not move the others (or that one) out.
        changed = [
            key
            for key in _changed_units(prepared, index, now)
            if key not in _quarantined_units(snapshot)
        ]
        vanished = [
            u.id
            for key, u in index.items()
            if key not in prepared.facts and not u.missing
        ]
        quarantine_news = _quarantine_changes(session, property_id, snapshot)
        if not (changed or vanished or quarantine_news or prop.sync_status != "ok"):
            return SyncOutcome(outcome="unchanged")
        verdict = judge_snapshot(
            snapshot, residents_by_unit(session, property_id), now, settings
        )
        if not verdict.plausible and approved_by is None:
            return _hold(session, prop, snapshot, verdict, trigger, now)
        run = _open_run(session, prop, trigger, now, approved_by)
        _record_quarantine(session, property_id, snapshot, now)
        run_id = run.id
    actions = 0
    for key in changed:
        actions += _sync_unit(engine, property_id, key, prepared, settings, run_id)
    for unit_id in vanished:
        actions += _flag_vanished(engine, unit_id, settings, run_id)
    return _close_run(engine, run_id, len(changed) + len(vanished), actions)


def _prepare(snapshot: PropertySnapshot) -> _Prepared:
    by_unit = snapshot.memberships_by_unit()
    terms = snapshot.terms_by_unit()
    facts = {
        u.unit_id: UnitFacts(
            record=u,
            memberships=tuple(by_unit.get(u.unit_id, ())),
            terms=tuple(terms.get(u.unit_id, ())),
        )
        for u in snapshot.units
    }
    documents = {key: facts_to_json(f) for key, f in facts.items()}
    prints = {key: fingerprint(doc) for key, doc in documents.items()}
    return _Prepared(facts=facts, documents=documents, prints=prints)


def _quarantined_units(snapshot: PropertySnapshot) -> set[PmsUnitId]:
    return {q.unit_id for q in snapshot.quarantined if q.unit_id is not None}


def _changed_units(
    prepared: _Prepared, index: dict[str, UnitHead], now: datetime
) -> list[PmsUnitId]:
    changed: list[PmsUnitId] = []
    for key, print_ in prepared.prints.items():
        unit = index.get(key)
        due = (
            unit is not None
            and unit.next_due_at is not None
            and unit.next_due_at <= now
        )
        if unit is None or unit.fingerprint != print_ or unit.missing or due:
            changed.append(key)
    return changed


def _sync_unit(
    engine: Engine,
    property_id: int,
    key: PmsUnitId,
    prepared: _Prepared,
    settings: PropertySettings,
    run_id: int,
) -> int:
    with engine.transaction() as session:
        unit = _unit_for(session, property_id, prepared.facts[key])
        plan = replan_unit(
            session,
            unit,
            settings,
            engine.clock.now(),
            facts=prepared.facts[key],
            sync_run_id=run_id,
            verify=engine.verify_state,
        )
        unit.facts = prepared.documents[key]
        unit.fingerprint = prepared.prints[key]
        record_households(session, unit, prepared.facts[key])
        return len(plan.actions)


def _unit_for(session: Session, property_id: int, facts: UnitFacts) -> m.Unit:
    """The unit's row under lock, created on first sight (L1)."""
    record = facts.record
    existing = find_unit(session, property_id, record.unit_id)
    if existing is not None:
        return lock_unit(session, existing.id)
    unit = m.Unit(
        property_id=property_id,
        pms_unit_id=record.unit_id,
        number=record.number,
        building=record.building,
        floorplan=record.floorplan,
        facts={},
    )
    session.add(unit)
    session.flush()
    return unit


def _flag_vanished(
    engine: Engine, unit_id: int, settings: PropertySettings, run_id: int
) -> int:
    with engine.transaction() as session:
        unit = lock_unit(session, unit_id)
        unit.missing = (
            False  # NB: replan with no facts flags it missing, with its alert
        )
        unit.facts = {}
        plan = replan_unit(
            session,
            unit,
            settings,
            engine.clock.now(),
            sync_run_id=run_id,
            verify=engine.verify_state,
        )
        unit.fingerprint = None
        return len(plan.actions)


def _open_run(
    session: Session,
    prop: m.Property,
    trigger: str,
    now: datetime,
    approved_by: str | None,
) -> m.SyncRun:
    if prop.sync_status != "ok":
        logger.info(
            "property %s: sync recovered",
            prop.id,
            extra={"event": "sync_recovered", "property_id": prop.id},
        )
    prop.sync_status = "ok"
    resolve_alerts(session, prop.id, "sync_failed", None, now)
    resolve_alerts(session, prop.id, "sync_held", None, now)
    run = m.SyncRun(
        property_id=prop.id,
        trigger=trigger,
        started_at=now,
        outcome="approved" if approved_by else "applied",
        approved_by=approved_by,
    )
    session.add(run)
    session.flush()
    return run


def _close_run(engine: Engine, run_id: int, units: int, actions: int) -> SyncOutcome:
    with engine.transaction() as session:
        run = session.get_one(m.SyncRun, run_id)
        run.finished_at = engine.clock.now()
        run.units_changed, run.actions = units, actions
        logger.info(
            "property %s: sync applied, %d units changed, %d actions",
            run.property_id,
            units,
            actions,
            extra={
                "event": "sync_applied",
                "property_id": run.property_id,
                "sync_run_id": run_id,
                "units": units,
                "actions": actions,
            },
        )
        return SyncOutcome(
            outcome=run.outcome, units_changed=units, actions=actions, run_id=run_id
        )


def _hold(
    session: Session,
    prop: m.Property,
    snapshot: PropertySnapshot,
    verdict: GuardVerdict,
    trigger: str,
    now: datetime,
) -> SyncOutcome:
    """L12: keep the snapshot for staff to approve; change nothing else."""
    document = snapshot_to_json(snapshot)
    digest = fingerprint(document)
    detail = "; ".join(verdict.reasons)
    latest = _latest_run(session, prop.id)
    if prop.sync_status == "held" and latest is not None and latest.digest == digest:
        return SyncOutcome(outcome="held", detail=detail, run_id=latest.id)
    prop.sync_status = "held"
    run = m.SyncRun(
        property_id=prop.id,
        trigger=trigger,
        outcome="held",
        started_at=now,
        finished_at=now,
        detail=detail,
        snapshot=document,
        digest=digest,
    )
    session.add(run)
    session.flush()
    raise_alert(
        session,
        property_id=prop.id,
        unit_id=None,
        kind="sync_held",
        message=f"sync held: {detail}",
        now=now,
    )
    logger.warning(
        "property %s: sync held: %s",
        prop.id,
        detail,
        extra={"event": "sync_held", "property_id": prop.id, "sync_run_id": run.id},
    )
    return SyncOutcome(outcome="held", detail=detail, run_id=run.id)


def _latest_run(session: Session, property_id: int) -> m.SyncRun | None:
    return session.scalars(
        select(m.SyncRun)
        .where(m.SyncRun.property_id == property_id)
        .order_by(m.SyncRun.id.desc())
    ).first()


def _record_failure(
    engine: Engine, property_id: int, trigger: str, error: Exception
) -> SyncOutcome:
    """L12: a failed fetch changes nothing; ``sync_failed`` once per outage."""
    kind = "needs a human" if isinstance(error, NeedsHumanError) else "will retry"
    detail = f"{error} ({kind})"
    now = engine.clock.now()
    with engine.transaction() as session:
        prop = session.get_one(m.Property, property_id)
        first = prop.sync_status != "failing"
        prop.sync_status = "failing"
        if first:
            session.add(
                m.SyncRun(
                    property_id=property_id,
                    trigger=trigger,
                    outcome="failed",
                    started_at=now,
                    finished_at=now,
                    detail=detail,
                )
            )
            raise_alert(
                session,
                property_id=property_id,
                unit_id=None,
                kind="sync_failed",
                message=f"sync failed: {detail}",
                now=now,
            )
            logger.error(
                "property %s: sync failed: %s",
                property_id,
                detail,
                extra={"event": "sync_failed", "property_id": property_id},
            )
    return SyncOutcome(outcome="failed", detail=detail)


def _quarantine_changes(
    session: Session, property_id: int, snapshot: PropertySnapshot
) -> bool:
    wanted = {_quarantine_key(q.record) for q in snapshot.quarantined}
    return wanted != open_alert_keys(session, property_id, "record_quarantined")


def _quarantine_key(record: str) -> str:
    return f"record_quarantined::{record}"


def _record_quarantine(
    session: Session, property_id: int, snapshot: PropertySnapshot, now: datetime
) -> None:
    """Alert once per quarantined record; resolve those the PMS has since fixed."""
    wanted = {_quarantine_key(q.record) for q in snapshot.quarantined}
    for key in open_alert_keys(session, property_id, "record_quarantined") - wanted:
        session.execute(
            update(m.Alert)
            .where(
                m.Alert.dedupe_key == key,
                m.Alert.property_id == property_id,
                m.Alert.resolved_at.is_(None),
            )
            .values(resolved_at=now)
        )
    for record in snapshot.quarantined:
        raised = raise_alert(
            session,
            property_id=property_id,
            unit_id=None,
            kind="record_quarantined",
            about=record.record,
            message=f"{record.record} left out: {record.reason}",
            now=now,
        )
        if raised:
            logger.warning(
                "property %s: %s quarantined: %s",
                property_id,
                record.record,
                record.reason,
                extra={
                    "event": "record_quarantined",
                    "property_id": property_id,
                    "record": record.record,
                },
            )
