"""The SQLAlchemy 2 models: leasesync's whole persistent domain (SPEC §1–§4).

Tables fall in four groups. *PMS facts* (properties, common areas, units, people,
households, lease terms) mirror what the last applied snapshot said; a unit keeps its
facts as a JSON document plus a fingerprint so that an unchanged unit is skipped
without loading anything else (SPEC §4, cost follows change). *Platform state*
(accounts, residents, invites, access grants, device commands) is what leasesync has
made true on the platform. *Outbox* (effects) holds every side effect decided in a
unit's transaction, each with its idempotency key, until a worker delivers it. *History*
(sync runs, alerts, audit events, staff actions) records why (L14, L15).

All timestamps are timezone-aware and stored in UTC (:class:`UtcDateTime`), so SQLite
and PostgreSQL behave alike; one naming convention names constraints alike on both.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC; SQLite gets it back aware too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        dict[str, Any]: JSON,
    }


# --- PMS facts ---------------------------------------------------------------------


class Property(Base):
    """A linked PMS property with its lifecycle settings (SPEC L1, L10, L12)."""

    __tablename__ = "properties"
    __table_args__ = (UniqueConstraint("pms", "pms_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    pms: Mapped[str] = mapped_column(String(32))
    pms_ref: Mapped[str] = mapped_column(String(200))
    connection: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret: Mapped[str | None] = mapped_column(String(500))
    timezone: Mapped[str] = mapped_column(String(64))
    poll_minutes: Mapped[int] = mapped_column(Integer, default=15)
    early_access_hours: Mapped[int] = mapped_column(Integer, default=0)
    move_out_time: Mapped[str] = mapped_column(String(5), default="23:59")
    removal_threshold_percent: Mapped[float] = mapped_column(Float, default=20.0)
    removal_threshold_people: Mapped[int] = mapped_column(Integer, default=3)
    invite_expiry_days: Mapped[int] = mapped_column(Integer, default=7)
    reconfiguration_timeout_minutes: Mapped[int] = mapped_column(Integer, default=30)
    sync_status: Mapped[str] = mapped_column(String(16), default="ok")
    linked_at: Mapped[datetime]


class CommonArea(Base):
    __tablename__ = "common_areas"
    __table_args__ = (UniqueConstraint("property_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)


class Unit(Base):
    """One unit: its PMS facts, its lifecycle state and its device configuration."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("property_id", "pms_unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    pms_unit_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(64))
    building: Mapped[str | None] = mapped_column(String(100))
    floorplan: Mapped[str | None] = mapped_column(String(100))
    installation: Mapped[str] = mapped_column(String(16), default="pending")
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    missing: Mapped[bool] = mapped_column(Boolean, default=False)
    lifecycle: Mapped[str] = mapped_column(String(16), default="vacant")
    devices: Mapped[str] = mapped_column(String(16), default="vacant")
    device_attempt: Mapped[int] = mapped_column(Integer, default=0)
    device_requested_at: Mapped[datetime | None]
    device_retry_at: Mapped[datetime | None]
    device_failing: Mapped[bool] = mapped_column(Boolean, default=False)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    next_due_at: Mapped[datetime | None] = mapped_column(index=True)


class Person(Base):
    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("property_id", "pms_person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    pms_person_id: Mapped[str] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str | None] = mapped_column(String(320))


class Household(Base):
    """A household (occupancy) of one unit as the PMS last described it."""

    __tablename__ = "households"
    __table_args__ = (UniqueConstraint("unit_id", "pms_household_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    pms_household_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    move_in: Mapped[date | None] = mapped_column(Date)
    move_out: Mapped[date | None] = mapped_column(Date)
    notice_for: Mapped[date | None] = mapped_column(Date)


class LeaseTerm(Base):
    __tablename__ = "lease_terms"
    __table_args__ = (UniqueConstraint("household_id", "pms_lease_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    pms_lease_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    start: Mapped[date | None] = mapped_column(Date)
    end: Mapped[date | None] = mapped_column(Date)
    prior_lease_id: Mapped[str | None] = mapped_column(String(64))
    next_lease_id: Mapped[str | None] = mapped_column(String(64))


# --- Platform state ----------------------------------------------------------------


class Account(Base):
    """One platform account per e-mail address (L9)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    created_at: Mapped[datetime]


class Resident(Base):
    """A person's membership of one unit's home; ``removed_at`` ends it (L6, L7)."""

    __tablename__ = "residents"
    __table_args__ = (Index("ix_residents_unit_active", "unit_id", "removed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    pms_person_id: Mapped[str] = mapped_column(String(64))
    household_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]


class Invite(Base):
    """One invite e-mail to one address for one unit's home (L3, L5, L9)."""

    __tablename__ = "invites"
    __table_args__ = (Index("ix_invites_unit_status", "unit_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    email: Mapped[str] = mapped_column(String(320), index=True)
    round: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16))
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    sent_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    expiry_alerted: Mapped[bool] = mapped_column(Boolean, default=False)


class AccessGrant(Base):
    """One resident's permission to open one door (L4, L6, L7)."""

    __tablename__ = "access_grants"
    __table_args__ = (Index("ix_access_grants_unit_status", "unit_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    pms_person_id: Mapped[str] = mapped_column(String(64))
    door: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16))
    granted_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class DeviceCommand(Base):
    """One reconfiguration request sent to a unit's devices (L4, L7, L8)."""

    __tablename__ = "device_commands"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    configuration: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    requested_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


# --- Outbox ------------------------------------------------------------------------


class Effect(Base):
    """A side effect decided in a unit's transaction, delivered at least once (L13)."""

    __tablename__ = "effects"
    __table_args__ = (Index("ix_effects_status_available", "status", "available_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    kind: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    available_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


# --- History -----------------------------------------------------------------------


class SyncRun(Base):
    """A sync that changed something, failed or was held; unchanged polls write nothing."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        Index("ix_sync_runs_property_started", "property_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"))
    trigger: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    units_changed: Mapped[int] = mapped_column(Integer, default=0)
    actions: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(Text, default="")
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    digest: Mapped[str | None] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(200))


class Alert(Base):
    """Something staff should act on; ``resolved_at`` closes it."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_property_kind", "property_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    kind: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Why one platform change happened (L14): rule, cause, before and after."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_unit_at", "unit_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    pms_person_id: Mapped[str | None] = mapped_column(String(64), index=True)
    sync_run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id"))
    at: Mapped[datetime]
    rule: Mapped[str] = mapped_column(String(8))
    event: Mapped[str] = mapped_column(String(48))
    cause: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class StaffAction(Base):
    """An action taken by a person on the staff (L15), with who did it."""

    __tablename__ = "staff_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(48))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime]
