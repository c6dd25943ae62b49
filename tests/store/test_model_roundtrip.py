"""Each model stores a realistic row and reads it back the same, on both databases.

Where the table round trip checks column types, this one goes through the ORM the way
the engine does: a property with a unit, a household with two lease terms (a
renewal), a resident who accepted an invite, a grant, a device command, an effect,
and the history rows. Every model of the store appears; a model added later without
a sample here fails the completeness test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from leasesync.store import models as m
from leasesync.store.models import Base

AT = datetime(2027, 3, 14, 7, 30, tzinfo=UTC)  # 02:30 local in Chicago does not exist


def _sample_rows(session: Session) -> list[Base]:
    prop = m.Property(
        name="Maple Court",
        pms="realpage",
        pms_ref="9990001/9990101",
        connection={"url": "http://127.0.0.1:1/rpx", "pmcid": "9990001"},
        secret="00000000-0000-0000-0000-000000000000",
        timezone="America/Chicago",
        poll_minutes=30,
        early_access_hours=6,
        move_out_time="11:00",
        removal_threshold_percent=12.5,
        removal_threshold_people=5,
        linked_at=AT,
    )
    session.add(prop)
    session.flush()
    unit = m.Unit(
        property_id=prop.id,
        pms_unit_id="20101",
        number="101",
        building="1",
        floorplan="A1",
        installation="complete",
        lifecycle="occupied",
        devices="to_resident",
        device_attempt=2,
        device_requested_at=AT,
        device_failing=True,
        facts={"unit": {"unit_id": "20101"}, "memberships": []},
        fingerprint="f" * 64,
        next_due_at=AT + timedelta(days=1),
    )
    account = m.Account(email="alex.rivera@example.com", created_at=AT)
    session.add_all([unit, account])
    session.flush()
    household = m.Household(
        unit_id=unit.id,
        pms_household_id="30001",
        status="current",
        move_in=date(2026, 9, 1),
        notice_for=date(2027, 8, 31),
    )
    run = m.SyncRun(
        property_id=prop.id,
        trigger="poll",
        outcome="held",
        started_at=AT,
        finished_at=AT,
        units_changed=3,
        actions=7,
        detail="held: 5 of 7",
        snapshot={"units": [], "memberships": []},
        digest="d" * 64,
    )
    session.add_all([household, run])
    session.flush()
    return [
        prop,
        unit,
        account,
        household,
        run,
        m.CommonArea(property_id=prop.id, name="lobby", position=0),
        m.Person(
            property_id=prop.id,
            pms_person_id="50001",
            first_name="Alex",
            last_name="Rivera",
            email="alex.rivera@example.com",
        ),
        m.LeaseTerm(
            household_id=household.id,
            pms_lease_id="40001",
            status="past",
            start=date(2026, 9, 1),
            end=date(2027, 8, 31),
            next_lease_id="40011",
        ),
        m.Resident(
            unit_id=unit.id,
            pms_person_id="50001",
            household_id="30001",
            role="primary",
            status="active",
            name="Alex Rivera",
            email="alex.rivera@example.com",
            account_id=account.id,
            created_at=AT,
        ),
        m.Invite(
            unit_id=unit.id,
            email="alex.rivera@example.com",
            round=2,
            status="accepted",
            nonce="n0nce",
            sent_at=AT,
            expires_at=AT + timedelta(days=7),
            closed_at=AT + timedelta(hours=2),
        ),
        m.AccessGrant(
            unit_id=unit.id,
            pms_person_id="50001",
            door="common:lobby",
            status="revoked",
            granted_at=AT,
            revoked_at=AT + timedelta(days=2),
        ),
        m.DeviceCommand(
            unit_id=unit.id,
            configuration="resident",
            attempt=2,
            status="failed",
            idempotency_key="device:1:abc",
            requested_at=AT,
            finished_at=AT + timedelta(minutes=30),
        ),
        m.Effect(
            property_id=prop.id,
            unit_id=unit.id,
            kind="invite_email",
            idempotency_key="invite:1",
            payload={"invite_id": 1},
            status="pending",
            attempts=3,
            created_at=AT,
            available_at=AT + timedelta(minutes=4),
            last_error="451 try later",
        ),
        m.Alert(
            property_id=prop.id,
            unit_id=unit.id,
            kind="reconfiguration_failed",
            dedupe_key="reconfiguration_failed:1:",
            message="unit 101: failed",
            raised_at=AT,
        ),
        m.AuditEvent(
            property_id=prop.id,
            unit_id=unit.id,
            pms_person_id="50001",
            sync_run_id=run.id,
            at=AT,
            rule="L4",
            event="grant_access",
            cause="the resident accepted the invite",
            before={"status": "invited"},
            after={"access": ["unit"]},
        ),
        m.StaffAction(
            property_id=prop.id,
            unit_id=unit.id,
            actor="dana@staff",
            action="force_turnover",
            detail={"why": "stuck"},
            at=AT,
        ),
    ]


def _values(row: Base) -> dict[str, Any]:
    return {
        attr.key: getattr(row, attr.key) for attr in inspect(type(row)).column_attrs
    }


def test_every_model_has_a_sample() -> None:
    models = {mapper.class_ for mapper in Base.registry.mappers}
    sampled = {
        m.Property,
        m.Unit,
        m.Account,
        m.Household,
        m.SyncRun,
        m.CommonArea,
        m.Person,
        m.LeaseTerm,
        m.Resident,
        m.Invite,
        m.AccessGrant,
        m.DeviceCommand,
        m.Effect,
        m.Alert,
        m.AuditEvent,
        m.StaffAction,
    }
    assert models == sampled


def test_every_model_round_trips_through_the_orm(db_session: Session) -> None:
    rows = _sample_rows(db_session)
    db_session.add_all(rows)
    db_session.flush()
    written = [(type(row), row.id, _values(row)) for row in rows]  # type: ignore[attr-defined]
    db_session.expunge_all()

    for model, row_id, values in written:
        key_column = inspect(model).primary_key[0]
        stored = db_session.scalars(select(model).where(key_column == row_id)).one()
        assert _values(stored) == values, model.__name__
        for key, value in values.items():
            if isinstance(value, datetime):
                assert getattr(stored, key).utcoffset() == timedelta(0), key
