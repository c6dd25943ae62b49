"""The unit repository: a unit's platform state in and out of the database.

:func:`load_unit_state` reads the rows the planner needs into a
:class:`~leasesync.domain.platform.UnitState`; :func:`record_actions` writes what a
plan's actions did — resident rows, invites, grants, device commands, the outbox
effects that carry them out (each with its idempotency key), alerts and the audit
trail — inside the caller's transaction (SPEC §4: one transaction per unit).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from leasesync.domain.ids import HouseholdId, PersonId, PmsUnitId
from leasesync.domain.plans import (
    AcceptInvite,
    Action,
    AddResident,
    ChangeStatus,
    ExpireInvite,
    GrantAccess,
    RaiseAlert,
    ReconfigurationCompleted,
    ReconfigurationFailing,
    Reconfigure,
    RemoveResident,
    RevokeAccess,
    SendInvite,
    UpdateContact,
    WithdrawInvite,
)
from leasesync.domain.platform import (
    Devices,
    DeviceState,
    InviteState,
    Lifecycle,
    ResidentState,
    ResidentStatus,
    UnitState,
)
from leasesync.domain.snapshots import Role
from leasesync.store import models as m
from leasesync.store.alerts import raise_alert, resolve_alerts

OPEN_INVITE = ("sent", "expired")


@dataclass(frozen=True, kw_only=True, slots=True)
class UnitContext:
    """Where recorded actions belong and why they happened."""

    property_id: int
    unit: m.Unit
    now: datetime
    sync_run_id: int | None = None


def lock_unit(session: Session, unit_id: int) -> m.Unit:
    """Load a unit row under a row lock: two writers never interleave on one unit."""
    stmt = select(m.Unit).where(m.Unit.id == unit_id).with_for_update()
    return session.execute(stmt).scalar_one()


def load_unit_state(session: Session, unit: m.Unit) -> UnitState:
    residents = _active_residents(session, unit.id)
    grants = session.scalars(
        select(m.AccessGrant)
        .where(m.AccessGrant.unit_id == unit.id, m.AccessGrant.status == "active")
        .order_by(m.AccessGrant.id)
    ).all()
    doors: dict[str, list[str]] = {}
    for grant in grants:
        doors.setdefault(grant.pms_person_id, []).append(grant.door)
    invites = session.scalars(
        select(m.Invite).where(
            m.Invite.unit_id == unit.id, m.Invite.status.in_(OPEN_INVITE)
        )
    ).all()
    return UnitState(
        unit_id=PmsUnitId(unit.pms_unit_id),
        number=unit.number,
        building=unit.building,
        installed=unit.installation == "complete",
        paused=unit.paused,
        missing=unit.missing,
        lifecycle=Lifecycle(unit.lifecycle),
        devices=DeviceState(
            configuration=Devices(unit.devices),
            attempt=unit.device_attempt,
            requested_at=unit.device_requested_at,
            retry_at=unit.device_retry_at,
            failing=unit.device_failing,
        ),
        residents=tuple(_resident_state(r, doors) for r in residents),
        invites=tuple(
            InviteState(
                email=i.email,
                round=i.round,
                expires_at=i.expires_at,
                expired=i.status == "expired",
            )
            for i in invites
        ),
    )


def _active_residents(session: Session, unit_id: int) -> Sequence[m.Resident]:
    return session.scalars(
        select(m.Resident)
        .where(m.Resident.unit_id == unit_id, m.Resident.removed_at.is_(None))
        .order_by(m.Resident.id)
    ).all()


def _resident_state(row: m.Resident, doors: dict[str, list[str]]) -> ResidentState:
    return ResidentState(
        person_id=PersonId(row.pms_person_id),
        household_id=HouseholdId(row.household_id),
        role=Role(row.role),
        name=row.name,
        email=row.email,
        status=ResidentStatus(row.status),
        access=tuple(doors.get(row.pms_person_id, ())),
    )


def store_unit_state(unit: m.Unit, state: UnitState) -> None:
    """Copy the unit-level fields of ``state`` onto its row."""
    unit.number = state.number
    unit.building = state.building
    unit.installation = "complete" if state.installed else "pending"
    unit.paused = state.paused
    unit.missing = state.missing
    unit.lifecycle = state.lifecycle.value
    unit.devices = state.devices.configuration.value
    unit.device_attempt = state.devices.attempt
    unit.device_requested_at = state.devices.requested_at
    unit.device_retry_at = state.devices.retry_at
    unit.device_failing = state.devices.failing


def record_actions(
    session: Session, ctx: UnitContext, actions: Sequence[Action]
) -> None:
    """Write every action's rows, effects and audit event."""
    for action in actions:
        before = _before(session, ctx, action)
        after = _write(session, ctx, action) or _fields(action)
        session.add(
            m.AuditEvent(
                property_id=ctx.property_id,
                unit_id=ctx.unit.id,
                pms_person_id=action.person_id,
                sync_run_id=ctx.sync_run_id,
                at=ctx.now,
                rule=action.rule,
                event=action.event,
                cause=action.cause,
                before=before,
                after=after,
            )
        )


def _fields(action: Action) -> dict[str, Any]:
    """An action's own values, for the audit trail of actions with no rows."""
    values: dict[str, Any] = {}
    for item in fields(action):
        if item.name in ("rule", "cause"):
            continue
        value = getattr(action, item.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif not isinstance(value, (bool, int, float)):
            value = str(value)
        values[item.name] = value
    return values


def _before(
    session: Session, ctx: UnitContext, action: Action
) -> dict[str, Any] | None:
    if action.person_id is None:
        return None
    row = _resident_row(session, ctx, action.person_id)
    return None if row is None else {"status": row.status}


def _resident_row(session: Session, ctx: UnitContext, person: str) -> m.Resident | None:
    return session.scalars(
        select(m.Resident).where(
            m.Resident.unit_id == ctx.unit.id,
            m.Resident.pms_person_id == person,
            m.Resident.removed_at.is_(None),
        )
    ).first()


def _effect(
    session: Session, ctx: UnitContext, kind: str, key: str, payload: dict[str, Any]
) -> None:
    session.add(
        m.Effect(
            property_id=ctx.property_id,
            unit_id=ctx.unit.id,
            kind=kind,
            idempotency_key=key,
            payload=payload,
            status="pending",
            created_at=ctx.now,
            available_at=ctx.now,
        )
    )


def _write(session: Session, ctx: UnitContext, action: Action) -> dict[str, Any] | None:  # noqa: PLR0911, PLR0912
    match action:
        case AddResident(resident=r):
            session.add(
                m.Resident(
                    unit_id=ctx.unit.id,
                    pms_person_id=r.person_id,
                    household_id=r.household_id,
                    role=r.role.value,
                    status=r.status.value,
                    name=r.name,
                    email=r.email,
                    created_at=ctx.now,
                )
            )
            return {"status": r.status.value}
        case ChangeStatus(person=person, status=status):
            row = _resident_row(session, ctx, person)
            if row is not None:
                row.status = status.value
            return {"status": status.value}
        case UpdateContact(person=person, name=name, email=email):
            row = _resident_row(session, ctx, person)
            if row is not None:
                row.name, row.email = name, email
            return {"contact": "corrected"}
        case RemoveResident(person=person):
            row = _resident_row(session, ctx, person)
            if row is not None:
                row.removed_at = ctx.now
            return {"status": "removed"}
        case GrantAccess(person=person, doors=doors):
            _grant(session, ctx, person, doors)
            return {"access": list(doors)}
        case RevokeAccess(person=person, doors=doors):
            _revoke(session, ctx, person, doors)
            return {"access": []}
        case SendInvite():
            return _send_invite(session, ctx, action)
        case WithdrawInvite(email=email):
            _close_invites(session, ctx, email, "withdrawn")
            return {"invite": "withdrawn"}
        case ExpireInvite(email=email):
            session.execute(
                update(m.Invite)
                .where(
                    m.Invite.unit_id == ctx.unit.id,
                    m.Invite.email == email,
                    m.Invite.status == "sent",
                )
                .values(status="expired")
            )
            return {"invite": "expired"}
        case AcceptInvite(email=email, people=people):
            _accept(session, ctx, email, people)
            return {"invite": "accepted", "people": list(people)}
        case Reconfigure(target=target, attempt=attempt):
            return _reconfigure(session, ctx, target, attempt)
        case ReconfigurationFailing(retry_at=retry_at):
            _finish_commands(session, ctx, "failed")
            return {"retry_at": retry_at.isoformat()}
        case ReconfigurationCompleted(configuration=configuration):
            _finish_commands(session, ctx, "completed")
            resolve_alerts(
                session, ctx.property_id, "reconfiguration_failed", ctx.unit.id, ctx.now
            )
            return {"devices": configuration.value}
        case RaiseAlert(kind=kind, message=message):
            raise_alert(
                session,
                property_id=ctx.property_id,
                unit_id=ctx.unit.id,
                kind=kind,
                message=message,
                now=ctx.now,
            )
            return {"alert": kind}
    return None


def _grant(
    session: Session, ctx: UnitContext, person: str, doors: tuple[str, ...]
) -> None:
    held = set(
        session.scalars(
            select(m.AccessGrant.door).where(
                m.AccessGrant.unit_id == ctx.unit.id,
                m.AccessGrant.pms_person_id == person,
                m.AccessGrant.status == "active",
            )
        ).all()
    )
    for door in doors:
        if door in held:
            continue
        grant = m.AccessGrant(
            unit_id=ctx.unit.id,
            pms_person_id=person,
            door=door,
            status="active",
            granted_at=ctx.now,
        )
        session.add(grant)
        session.flush()
        _effect(
            session,
            ctx,
            "door_grant",
            f"grant:{grant.id}",
            {"grant_id": grant.id, "door": door, "person": person},
        )


def _revoke(
    session: Session, ctx: UnitContext, person: str, doors: tuple[str, ...]
) -> None:
    grants = session.scalars(
        select(m.AccessGrant).where(
            m.AccessGrant.unit_id == ctx.unit.id,
            m.AccessGrant.pms_person_id == person,
            m.AccessGrant.status == "active",
            m.AccessGrant.door.in_(doors),
        )
    ).all()
    for grant in grants:
        grant.status, grant.revoked_at = "revoked", ctx.now
        _effect(
            session,
            ctx,
            "door_revoke",
            f"revoke:{grant.id}",
            {"grant_id": grant.id, "door": grant.door, "person": person},
        )


def _send_invite(
    session: Session, ctx: UnitContext, action: SendInvite
) -> dict[str, Any]:
    _close_invites(session, ctx, action.email, "superseded")
    invite = m.Invite(
        unit_id=ctx.unit.id,
        email=action.email,
        round=action.round,
        status="sent",
        nonce=secrets.token_urlsafe(24),
        sent_at=ctx.now,
        expires_at=action.expires_at,
    )
    session.add(invite)
    session.flush()
    for person in action.people:
        row = _resident_row(session, ctx, person)
        if row is not None:
            row.status = ResidentStatus.INVITED.value
    _effect(
        session, ctx, "invite_email", f"invite:{invite.id}", {"invite_id": invite.id}
    )
    return {"invite": invite.id, "round": action.round, "people": list(action.people)}


def _close_invites(session: Session, ctx: UnitContext, email: str, status: str) -> None:
    session.execute(
        update(m.Invite)
        .where(
            m.Invite.unit_id == ctx.unit.id,
            m.Invite.email == email,
            m.Invite.status.in_(OPEN_INVITE),
        )
        .values(status=status, closed_at=ctx.now)
    )


def _accept(
    session: Session, ctx: UnitContext, email: str, people: tuple[str, ...]
) -> None:
    account = session.scalars(select(m.Account).where(m.Account.email == email)).first()
    if account is None:
        account = m.Account(email=email, created_at=ctx.now)
        session.add(account)
        session.flush()
    _close_invites(session, ctx, email, "accepted")
    for person in people:
        row = _resident_row(session, ctx, person)
        if row is not None:
            row.status, row.account_id = ResidentStatus.ACTIVE.value, account.id


def _reconfigure(
    session: Session, ctx: UnitContext, target: Devices, attempt: int
) -> dict[str, Any]:
    _finish_commands(session, ctx, "superseded")
    command = m.DeviceCommand(
        unit_id=ctx.unit.id,
        configuration=target.value,
        attempt=attempt,
        status="pending",
        requested_at=ctx.now,
        # NB: one key per command, so a retry (a new command) is a new request to
        # the devices, while redelivering this one after a crash is dropped.
        idempotency_key=f"device:{ctx.unit.id}:{secrets.token_hex(12)}",
    )
    session.add(command)
    session.flush()
    _effect(
        session,
        ctx,
        "device_command",
        command.idempotency_key,
        {"command_id": command.id},
    )
    return {"devices": f"to_{target.value}", "attempt": attempt, "command": command.id}


def _finish_commands(session: Session, ctx: UnitContext, status: str) -> None:
    session.execute(
        update(m.DeviceCommand)
        .where(
            m.DeviceCommand.unit_id == ctx.unit.id, m.DeviceCommand.status == "pending"
        )
        .values(status=status, finished_at=ctx.now)
    )
