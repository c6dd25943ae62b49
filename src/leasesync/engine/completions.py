"""Completions and staff actions: inputs that change one unit, then re-plan it.

An accepted invite (L4), a device report (L8), an installer's mark (L5) and every staff
action (L15) arrive here. Each runs in one transaction on one locked unit: the input's
own actions first, then a fresh plan from the unit's stored facts, so that whatever
the input unblocks — held invites, a waiting move-in — follows at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update

from leasesync.domain.errors import LeasesyncError
from leasesync.domain.planning import accept_invite as acceptance
from leasesync.domain.planning import device_report
from leasesync.domain.plans import (
    AcceptInvite,
    Action,
    ChangeStatus,
    ReconfigurationCompleted,
    SendInvite,
    SetInstalled,
    SetPaused,
    WithdrawInvite,
)
from leasesync.domain.platform import Devices, ResidentStatus
from leasesync.domain.ports import CommandOutcome, ConfigurationReport
from leasesync.engine.reconciliation import replan_unit
from leasesync.engine.runtime import Engine
from leasesync.engine.syncing import SyncOutcome, apply_snapshot
from leasesync.store import models as m
from leasesync.store.facts import snapshot_from_json
from leasesync.store.properties import find_unit, latest_held_run, settings_of
from leasesync.store.units import load_unit_state, lock_unit

logger = logging.getLogger(__name__)


class InviteRefusedError(LeasesyncError):
    """An invite link that cannot be accepted; ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class UnknownTargetError(LeasesyncError):
    """A staff action named a property, unit or invite that does not exist."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Acceptance:
    property_name: str
    unit_number: str
    email: str
    people: int


@dataclass(frozen=True, kw_only=True, slots=True)
class StaffRecord:
    """Who did what (L15); written in the same transaction as what it did."""

    actor: str
    action: str
    detail: dict[str, Any] = field(default_factory=dict)


def _apply(
    engine: Engine,
    unit_id: int,
    prelude: Sequence[Action],
    staff: StaffRecord | None = None,
) -> int:
    """Run ``prelude`` then a fresh plan on one unit; returns the number of actions."""
    with engine.transaction() as session:
        unit = lock_unit(session, unit_id)
        if staff is not None:
            _record_staff(session, engine, unit.property_id, unit.id, staff)
        return _replan_locked(engine, session, unit, prelude)


def _replan_locked(
    engine: Engine, session: Any, unit: m.Unit, prelude: Sequence[Action]
) -> int:
    """Re-plan a unit already locked in ``session`` after ``prelude``; the action count."""
    prop = session.get_one(m.Property, unit.property_id)
    plan = replan_unit(
        session,
        unit,
        settings_of(session, prop),
        engine.clock.now(),
        prelude=prelude,
        verify=engine.verify_state,
    )
    return len(plan.actions)


def _record_staff(
    session: Any,
    engine: Engine,
    property_id: int,
    unit_id: int | None,
    staff: StaffRecord,
) -> None:
    session.add(
        m.StaffAction(
            property_id=property_id,
            unit_id=unit_id,
            actor=staff.actor,
            action=staff.action,
            detail=staff.detail,
            at=engine.clock.now(),
        )
    )


def describe_invite(engine: Engine, token: str) -> Acceptance:
    """What an invite link is for, after the same checks as accepting it."""
    with engine.transaction() as session:
        invite, unit, prop = _checked_invite(engine, session, token)
        return Acceptance(
            property_name=prop.name,
            unit_number=unit.number,
            email=invite.email,
            people=0,
        )


def accept_invite(engine: Engine, token: str) -> Acceptance:
    """L4: accept the invite behind ``token``; refused links change nothing."""
    with engine.transaction() as session:
        invite, unit, prop = _checked_invite(engine, session, token)
        unit = lock_unit(session, unit.id)
        actions = acceptance(load_unit_state(session, unit), invite.email)
        if not actions:
            raise InviteRefusedError("withdrawn", "this invite is no longer open")
        _replan_locked(engine, session, unit, actions)
        logger.info(
            "invite %s accepted",
            invite.id,
            extra={
                "event": "invite_accepted",
                "property_id": prop.id,
                "unit_id": unit.pms_unit_id,
            },
        )
        return Acceptance(
            property_name=prop.name,
            unit_number=unit.number,
            email=invite.email,
            people=sum(len(a.people) for a in actions if isinstance(a, AcceptInvite)),
        )


def _checked_invite(
    engine: Engine, session: Any, token: str
) -> tuple[m.Invite, m.Unit, m.Property]:
    invite_id, nonce = engine.tokens.read(token)
    invite = session.get(m.Invite, invite_id)
    if invite is None or invite.nonce != nonce:
        raise InviteRefusedError("invalid", "this invite link is not valid")
    if invite.status == "accepted":
        raise InviteRefusedError("used", "this invite has already been accepted")
    if invite.status != "sent":
        raise InviteRefusedError("withdrawn", "this invite is no longer open")
    if engine.clock.now() >= invite.expires_at:
        raise InviteRefusedError("expired", "this invite has expired")
    unit = session.get_one(m.Unit, invite.unit_id)
    return invite, unit, session.get_one(m.Property, unit.property_id)


def device_reported(engine: Engine, report: ConfigurationReport) -> bool:
    """L8: a device report for a pending command; repeats and stale ones are ignored."""
    with engine.transaction() as session:
        command = session.scalars(
            select(m.DeviceCommand).where(
                m.DeviceCommand.idempotency_key == report.idempotency_key
            )
        ).first()
        if command is None or command.status not in ("pending", "failed"):
            return False
        completed = report.outcome is CommandOutcome.COMPLETED
        unit = lock_unit(session, command.unit_id)
        state = load_unit_state(session, unit)
        if command.status == "failed":
            if not _late_but_welcome(command, state, completed):
                return False
            # NB: the late answer completes this command; its pending retry is moot.
            session.execute(
                update(m.DeviceCommand)
                .where(
                    m.DeviceCommand.unit_id == unit.id,
                    m.DeviceCommand.status == "pending",
                )
                .values(status="superseded", finished_at=engine.clock.now())
            )
            command.status = "pending"
        actions = device_report(state, completed, engine.clock.now(), report.detail)
        _replan_locked(engine, session, unit, actions)
        return True


def _late_but_welcome(command: m.DeviceCommand, state: Any, completed: bool) -> bool:
    """A completion that arrives after its command timed out still counts (L8).

    Slow devices do finish: while the unit still heads for the same configuration,
    their late report completes it; a late failure, or a report for a configuration
    the unit no longer wants, changes nothing.
    """
    heading = state.devices.configuration.value.removeprefix("to_")
    return (
        completed
        and state.devices.configuration.value.startswith("to_")
        and (heading == command.configuration)
    )


def _target(engine: Engine, property_id: int, unit_key: str) -> int:
    """The row id of a unit named by staff; refuses unknown ones, writes nothing."""
    with engine.transaction() as session:
        if session.get(m.Property, property_id) is None:
            raise UnknownTargetError(f"no property {property_id}")
        unit = find_unit(session, property_id, unit_key)
        if unit is None:
            raise UnknownTargetError(f"property {property_id} has no unit {unit_key}")
        return unit.id


def mark_installed(engine: Engine, property_id: int, unit_key: str, actor: str) -> int:
    """L5: the installer marks a unit's installation complete; held invites go out."""
    unit_id = _target(engine, property_id, unit_key)
    with engine.transaction() as session:
        already = session.get_one(m.Unit, unit_id).installation == "complete"
    cause = f"installation marked complete by {actor}"
    # NB: marking twice is recorded as a staff action but changes nothing (L13).
    done: list[Action] = (
        [] if already else [SetInstalled(rule="L5", cause=cause, installed=True)]
    )
    return _apply(
        engine, unit_id, done, StaffRecord(actor=actor, action="mark_installed")
    )


def set_paused(
    engine: Engine, property_id: int, unit_key: str, actor: str, paused: bool
) -> int:
    """L15: pause or resume a unit's automation."""
    unit_id = _target(engine, property_id, unit_key)
    cause = f"{'paused' if paused else 'resumed'} by {actor}"
    staff = StaffRecord(actor=actor, action="pause_unit" if paused else "resume_unit")
    return _apply(
        engine, unit_id, [SetPaused(rule="L15", cause=cause, paused=paused)], staff
    )


def force_turnover(engine: Engine, property_id: int, unit_key: str, actor: str) -> int:
    """L15/L8: staff declare a stuck vacant reconfiguration done; the move-in goes on."""
    unit_id = _target(engine, property_id, unit_key)
    with engine.transaction() as session:
        devices = session.get_one(m.Unit, unit_id).devices
    if devices != Devices.TO_VACANT.value:
        raise UnknownTargetError(
            f"unit {unit_key} has no turnover waiting on its devices"
        )
    cause = f"stuck turnover forced on by {actor}"
    done = ReconfigurationCompleted(
        rule="L15", cause=cause, configuration=Devices.VACANT
    )
    return _apply(
        engine, unit_id, [done], StaffRecord(actor=actor, action="force_turnover")
    )


def resend_invite(
    engine: Engine, property_id: int, unit_key: str, email: str, actor: str
) -> int:
    """L15/L3: send an invite afresh to everyone invited at ``email`` on the unit."""
    unit_id = _target(engine, property_id, unit_key)
    with engine.transaction() as session:
        unit = session.get_one(m.Unit, unit_id)
        state = load_unit_state(session, unit)
        prop = session.get_one(m.Property, unit.property_id)
        lifetime = settings_of(session, prop).invite_lifetime
    address = email.strip().lower()
    people = tuple(
        r.person_id
        for r in state.residents
        if r.email == address and r.status is ResidentStatus.INVITED
    )
    if not people:
        raise UnknownTargetError(f"nobody is waiting on an invite at {email}")
    send = SendInvite(
        rule="L15",
        cause=f"resent by {actor}",
        email=address,
        people=people,
        round=2,
        expires_at=engine.clock.now() + lifetime,
    )
    staff = StaffRecord(actor=actor, action="resend_invite", detail={"email": address})
    return _apply(engine, unit_id, [send], staff)


def cancel_invite(
    engine: Engine, property_id: int, unit_key: str, email: str, actor: str
) -> int:
    """L15: withdraw an invite; its people stay associated but are not invited again."""
    unit_id = _target(engine, property_id, unit_key)
    with engine.transaction() as session:
        state = load_unit_state(session, session.get_one(m.Unit, unit_id))
    address = email.strip().lower()
    cause = f"cancelled by {actor}"
    prelude: list[Action] = [WithdrawInvite(rule="L15", cause=cause, email=address)]
    prelude += [
        ChangeStatus(
            rule="L15",
            cause=cause,
            person=r.person_id,
            status=ResidentStatus.UNINVITABLE,
        )
        for r in state.residents
        if r.email == address
        and r.status in (ResidentStatus.INVITED, ResidentStatus.INVITE_HELD)
    ]
    if len(prelude) == 1 and not any(i.email == address for i in state.invites):
        raise UnknownTargetError(f"no invite to {email} is open on unit {unit_key}")
    staff = StaffRecord(actor=actor, action="cancel_invite", detail={"email": address})
    return _apply(engine, unit_id, prelude, staff)


def approve_held_sync(engine: Engine, property_id: int, actor: str) -> SyncOutcome:
    """L12/L15: apply exactly the snapshot that was held."""
    with engine.transaction() as session:
        prop = session.get(m.Property, property_id)
        run = latest_held_run(session, property_id)
        if (
            prop is None
            or prop.sync_status != "held"
            or run is None
            or not run.snapshot
        ):
            raise UnknownTargetError(f"property {property_id} has no held sync")
        snapshot, run_id = snapshot_from_json(run.snapshot), run.id
    outcome = apply_snapshot(
        engine, property_id, snapshot, trigger="approval", approved_by=actor
    )
    # NB: recorded once the approval has been applied; a refused one leaves no trace.
    with engine.transaction() as session:
        detail = {"held_run": run_id, "applied_run": outcome.run_id}
        _record_staff(
            session,
            engine,
            property_id,
            None,
            StaffRecord(actor=actor, action="approve_held_sync", detail=detail),
        )
    return outcome


def run_due_units(engine: Engine) -> int:
    """Re-plan every unit whose next instant has come (SPEC §4: time is an input)."""
    now = engine.clock.now()
    with engine.transaction() as session:
        due = session.scalars(
            select(m.Unit.id)
            .where(
                m.Unit.next_due_at.is_not(None),
                m.Unit.next_due_at <= now,
                m.Unit.paused.is_(False),
            )
            .order_by(m.Unit.next_due_at)
        ).all()
    for unit_id in due:
        _apply(engine, unit_id, ())
    return len(due)
