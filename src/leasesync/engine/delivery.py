"""Delivering the outbox: effects rows carried out through the gateways (SPEC §4).

Each effect was written in the transaction that decided it. Delivery is at least
once: an effect is marked done only after its gateway call returned, and gateways drop
a repeated idempotency key (L13). A temporary failure is retried with capped
exponential backoff; a permanent one raises an alert for staff.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from leasesync.domain.errors import NeedsHumanError, RetryLaterError
from leasesync.domain.ports import Configuration, ConfigurationRequest, InviteMessage
from leasesync.engine.runtime import Engine
from leasesync.store import models as m
from leasesync.store.alerts import raise_alert

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


def unit_key(property_id: int, pms_unit_id: str) -> str:
    return f"p{property_id}/{pms_unit_id}"


def door_key(property_id: int, pms_unit_id: str, door: str) -> str:
    if door == "unit":
        return f"{unit_key(property_id, pms_unit_id)}/unit"
    return f"p{property_id}/{door}"


def person_key(property_id: int, pms_person_id: str) -> str:
    return f"p{property_id}/{pms_person_id}"


def pending_effects(engine: Engine, limit: int = 500) -> list[int]:
    now = engine.clock.now()
    with engine.transaction() as session:
        return list(
            session.scalars(
                select(m.Effect.id)
                .where(m.Effect.status == "pending", m.Effect.available_at <= now)
                .order_by(m.Effect.id)
                .limit(limit)
            ).all()
        )


def deliver_due_effects(engine: Engine) -> int:
    """Deliver every effect that is due now; returns how many were tried."""
    ids = pending_effects(engine)
    for effect_id in ids:
        deliver_effect(engine, effect_id)
    return len(ids)


def deliver_effect(engine: Engine, effect_id: int) -> None:
    """Carry out one effect; a job may call this any number of times."""
    with engine.transaction() as session:
        effect = session.scalars(
            select(m.Effect)
            .where(m.Effect.id == effect_id)
            .with_for_update(skip_locked=True)
        ).first()
        if effect is None or effect.status != "pending":
            return
        now = engine.clock.now()
        try:
            _carry_out(engine, session, effect)
        except RetryLaterError as error:
            _postpone(effect, now, str(error), error.delay_seconds)
            if effect.attempts >= MAX_ATTEMPTS:
                _give_up(session, effect, now, str(error))
            return
        except NeedsHumanError as error:
            _give_up(session, effect, now, str(error))
            return
        effect.status, effect.done_at = "done", now
        effect.attempts += 1


def _carry_out(engine: Engine, session: Session, effect: m.Effect) -> None:
    handlers = {
        "invite_email": _send_invite,
        "device_command": _send_command,
        "door_grant": _grant,
        "door_revoke": _revoke,
    }
    handlers[effect.kind](engine, session, effect)


def _send_invite(engine: Engine, session: Session, effect: m.Effect) -> None:
    invite = session.get_one(m.Invite, effect.payload["invite_id"])
    if invite.status != "sent":
        return  # NB: withdrawn or superseded before it went out: nothing to send
    unit = session.get_one(m.Unit, invite.unit_id)
    prop = session.get_one(m.Property, unit.property_id)
    names = session.scalars(
        select(m.Resident.name).where(
            m.Resident.unit_id == unit.id,
            m.Resident.email == invite.email,
            m.Resident.removed_at.is_(None),
        )
    ).all()
    token = engine.tokens.make(invite.id, invite.nonce)
    engine.mail.send_invite(
        InviteMessage(
            idempotency_key=effect.idempotency_key,
            to=invite.email,
            recipient_names=tuple(names),
            property_name=prop.name,
            unit_number=unit.number,
            accept_url=engine.accept_url(token),
            expires_at=invite.expires_at,
        )
    )


def _send_command(engine: Engine, session: Session, effect: m.Effect) -> None:
    command = session.get_one(m.DeviceCommand, effect.payload["command_id"])
    if command.status != "pending":
        return
    unit = session.get_one(m.Unit, command.unit_id)
    engine.devices.request(
        ConfigurationRequest(
            idempotency_key=command.idempotency_key,
            unit_key=unit_key(unit.property_id, unit.pms_unit_id),
            configuration=Configuration(command.configuration),
            home_id=unit_key(unit.property_id, unit.pms_unit_id),
        )
    )


def _grant(engine: Engine, session: Session, effect: m.Effect) -> None:
    door, person = _door_and_person(session, effect)
    engine.doors.grant(idempotency_key=effect.idempotency_key, door=door, person=person)


def _revoke(engine: Engine, session: Session, effect: m.Effect) -> None:
    """Revoke, unless another unit still grants the same door (L9), then verify."""
    grant = session.get_one(m.AccessGrant, effect.payload["grant_id"])
    door, person = _door_and_person(session, effect)
    if grant.door != "unit" and _still_held_elsewhere(session, grant):
        return
    engine.doors.revoke(
        idempotency_key=effect.idempotency_key, door=door, person=person
    )
    if person in engine.doors.holders(door):
        unit = session.get_one(m.Unit, grant.unit_id)
        raise_alert(
            session,
            property_id=unit.property_id,
            unit_id=unit.id,
            kind="revoke_unverified",
            about=f"{grant.id}",
            message=f"unit {unit.number}: a revoked person is still on {grant.door}",
            now=engine.clock.now(),
        )


def _door_and_person(session: Session, effect: m.Effect) -> tuple[str, str]:
    grant = session.get_one(m.AccessGrant, effect.payload["grant_id"])
    unit = session.get_one(m.Unit, grant.unit_id)
    return (
        door_key(unit.property_id, unit.pms_unit_id, grant.door),
        person_key(unit.property_id, grant.pms_person_id),
    )


def _still_held_elsewhere(session: Session, grant: m.AccessGrant) -> bool:
    unit = session.get_one(m.Unit, grant.unit_id)
    other = session.scalars(
        select(m.AccessGrant.id)
        .join(m.Unit, m.Unit.id == m.AccessGrant.unit_id)
        .where(
            m.Unit.property_id == unit.property_id,
            m.AccessGrant.door == grant.door,
            m.AccessGrant.pms_person_id == grant.pms_person_id,
            m.AccessGrant.status == "active",
            m.AccessGrant.id != grant.id,
        )
    ).first()
    return other is not None


def _postpone(effect: m.Effect, now: datetime, error: str, hint: float | None) -> None:
    effect.attempts += 1
    delay = (
        timedelta(seconds=hint) if hint else timedelta(seconds=30 * 2**effect.attempts)
    )
    effect.available_at = now + min(delay, timedelta(hours=1))
    effect.last_error = error
    logger.warning(
        "effect %s postponed: %s",
        effect.id,
        error,
        extra={"event": "effect_postponed", "effect_id": effect.id},
    )


def _give_up(session: Session, effect: m.Effect, now: datetime, error: str) -> None:
    effect.status, effect.last_error = "failed", error
    raise_alert(
        session,
        property_id=effect.property_id,
        unit_id=effect.unit_id,
        kind="effect_failed",
        about=str(effect.id),
        message=f"{effect.kind} could not be delivered: {error}",
        now=now,
    )
    logger.error(
        "effect %s failed: %s",
        effect.id,
        error,
        extra={"event": "effect_failed", "effect_id": effect.id},
    )
