"""Re-planning one unit inside one transaction (SPEC §4: one unit at a time).

Every path that changes a unit — a sync that saw new facts, a completion, a due
instant, a staff action — ends here: lock the unit, load its platform state, apply the
completion's own actions (the *prelude*), plan, and write the result with its audit
events and effects, all in the caller's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from leasesync.domain.errors import IntegrityError
from leasesync.domain.planning import UnitFacts, plan_missing_unit, plan_unit
from leasesync.domain.plans import Action, UnitPlan, evolve
from leasesync.domain.platform import UnitState
from leasesync.domain.settings import PropertySettings
from leasesync.store import models as m
from leasesync.store.facts import facts_from_json
from leasesync.store.units import (
    UnitContext,
    load_unit_state,
    record_actions,
    store_unit_state,
)

logger = logging.getLogger(__name__)


def replan_unit(
    session: Session,
    unit: m.Unit,
    settings: PropertySettings,
    now: datetime,
    *,
    facts: UnitFacts | None = None,
    prelude: Sequence[Action] = (),
    sync_run_id: int | None = None,
    verify: bool = False,
) -> UnitPlan:
    """Plan ``unit`` (already locked) from ``facts`` or its stored facts, and record it."""
    state = load_unit_state(session, unit)
    for action in prelude:
        state = evolve(state, action)
    known = facts if facts is not None else stored_facts(unit)
    plan = (
        plan_missing_unit(state)
        if known is None
        else plan_unit(known, state, now, settings)
    )
    actions = (*prelude, *plan.actions)
    ctx = UnitContext(
        property_id=unit.property_id, unit=unit, now=now, sync_run_id=sync_run_id
    )
    record_actions(session, ctx, actions)
    store_unit_state(unit, plan.state)
    unit.next_due_at = plan.next_due
    if verify:
        _verify(session, unit, plan.state)
    _log_transitions(unit, actions)
    return UnitPlan(
        unit_id=plan.unit_id, actions=actions, state=plan.state, next_due=plan.next_due
    )


def _verify(session: Session, unit: m.Unit, planned: UnitState) -> None:
    """Check that what was written reads back as the state the plan led to."""
    session.flush()
    stored = load_unit_state(session, unit)
    if stored != planned:
        raise IntegrityError(
            f"unit {unit.pms_unit_id}: stored state differs from the plan's\n"
            f"  planned: {planned}\n  stored:  {stored}"
        )


def stored_facts(unit: m.Unit) -> UnitFacts | None:
    """The facts the unit was last planned from; None while the PMS lists it not."""
    if unit.missing or not unit.facts:
        return None
    return facts_from_json(unit.facts)


def _log_transitions(unit: m.Unit, actions: Sequence[Action]) -> None:
    for action in actions:
        logger.info(
            "unit %s: %s (%s)",
            unit.pms_unit_id,
            action.event,
            action.rule,
            extra={
                "event": action.event,
                "rule": action.rule,
                "property_id": unit.property_id,
                "unit_id": unit.pms_unit_id,
            },
        )
