"""Builders shared by the domain tests: facts, platform states and planning loops.

A plain module rather than a ``conftest.py``: test folders have no ``__init__.py``,
and two ``conftest`` modules would collide for mypy. Test files in this folder import
from here (pytest puts the folder of a test module outside any package on
``sys.path``).

The property lives in America/Chicago, which springs forward on 2026-03-08 (02:00
becomes 03:00) and falls back on 2026-11-01 (02:00 becomes 01:00), and has two common
areas, so that every access list reads ``unit, common:lobby, common:gym`` (FORMAT.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from leasesync.domain.ids import HouseholdId, LeaseId, PersonId, PmsUnitId
from leasesync.domain.planning import UnitFacts, lifecycle_of, plan_unit
from leasesync.domain.plans import Action, UnitPlan, evolve
from leasesync.domain.platform import (
    Devices,
    DeviceState,
    InviteState,
    ResidentState,
    ResidentStatus,
    UnitState,
)
from leasesync.domain.settings import PropertySettings
from leasesync.domain.snapshots import (
    Membership,
    OccupancyStatus,
    Person,
    Role,
    UnitRecord,
)

ActionT = TypeVar("ActionT", bound=Action)

ZONE_NAME = "America/Chicago"
ZONE = ZoneInfo(ZONE_NAME)
SETTINGS = PropertySettings(timezone=ZONE_NAME, common_areas=("lobby", "gym"))
DOORS = ("unit", "common:lobby", "common:gym")
UNIT = PmsUnitId("U101")
SPRING_FORWARD = date(2026, 3, 8)
FALL_BACK = date(2026, 11, 1)

# A quiet Wednesday afternoon in June, far from any daylight-saving change.
TODAY = date(2026, 6, 10)


def local(day: date, hour: int = 0, minute: int = 0, *, fold: int = 0) -> datetime:
    """An aware UTC instant from a Chicago wall time (``fold=1``: its second time)."""
    wall = datetime.combine(day, time(hour, minute), tzinfo=ZONE).replace(fold=fold)
    return wall.astimezone(UTC)


NOW = local(TODAY, 12)


def days(n: int) -> date:
    """A calendar date ``n`` days from :data:`TODAY` (negative: in the past)."""
    return TODAY + timedelta(days=n)


def member(
    person: str,
    *,
    household: str = "H1",
    unit: PmsUnitId = UNIT,
    lease: str | None = None,
    role: Role = Role.PRIMARY,
    status: OccupancyStatus = OccupancyStatus.CURRENT,
    move_in: date | None = None,
    move_out: date | None = None,
    email: str | None = "",
    first_name: str = "",
    notice_for: date | None = None,
    lease_end: date | None = None,
) -> Membership:
    """A membership; ``email=""`` gives the person ``<person>@example.com``."""
    address = f"{person.lower()}@example.com" if email == "" else email
    return Membership(
        person=Person(
            person_id=PersonId(person),
            first_name=first_name or person,
            last_name="Doe",
            email=address,
        ),
        household_id=HouseholdId(household),
        unit_id=unit,
        lease_id=LeaseId(lease or f"L-{household}"),
        role=role,
        status=status,
        move_in=move_in if move_in is not None else days(-30),
        move_out=move_out,
        notice_for=notice_for,
        lease_end=lease_end,
    )


def facts(*memberships: Membership, number: str = "101") -> UnitFacts:
    return UnitFacts(
        record=UnitRecord(unit_id=UNIT, number=number), memberships=memberships
    )


def resident(
    person: str,
    *,
    status: ResidentStatus = ResidentStatus.ACTIVE,
    household: str = "H1",
    role: Role = Role.PRIMARY,
    email: str | None = "",
    access: tuple[str, ...] | None = None,
) -> ResidentState:
    """A platform resident as the planner would have stored it for :func:`member`."""
    address = f"{person.lower()}@example.com" if email == "" else email
    held = DOORS if status is ResidentStatus.ACTIVE else ()
    return ResidentState(
        person_id=PersonId(person),
        household_id=HouseholdId(household),
        role=role,
        name=f"{person} Doe",
        email=address,
        status=status,
        access=held if access is None else access,
    )


def invite(email: str, *, round_: int = 1, expires_at: datetime) -> InviteState:
    return InviteState(email=email, round=round_, expires_at=expires_at)


def state(
    *residents: ResidentState,
    installed: bool = True,
    devices: Devices = Devices.VACANT,
    invites: Sequence[InviteState] = (),
    number: str = "101",
) -> UnitState:
    """A unit's platform state; the lifecycle is the one its contents imply."""
    base = UnitState(
        unit_id=UNIT,
        number=number,
        installed=installed,
        devices=DeviceState(configuration=devices),
        residents=tuple(residents),
        invites=tuple(invites),
    )
    return replace(base, lifecycle=lifecycle_of(base))


def apply(current: UnitState, actions: Iterable[Action]) -> UnitState:
    for action in actions:
        current = evolve(current, action)
    return current


def plan(
    unit_facts: UnitFacts,
    current: UnitState,
    now: datetime = NOW,
    settings: PropertySettings = SETTINGS,
) -> UnitPlan:
    return plan_unit(unit_facts, current, now, settings)


def of_type(
    unit_plan: UnitPlan | Sequence[Action], kind: type[ActionT]
) -> list[ActionT]:
    """The plan's actions of one type, in order."""
    actions = unit_plan.actions if isinstance(unit_plan, UnitPlan) else unit_plan
    return [a for a in actions if isinstance(a, kind)]


def kinds(unit_plan: UnitPlan | Sequence[Action]) -> list[str]:
    """The actions' types as snake_case events, in order."""
    actions = unit_plan.actions if isinstance(unit_plan, UnitPlan) else unit_plan
    return [a.event for a in actions]


def steps(unit_plan: UnitPlan | Sequence[Action]) -> list[tuple[str, str]]:
    """Each action as ``(event, rule)``, in order."""
    actions = unit_plan.actions if isinstance(unit_plan, UnitPlan) else unit_plan
    return [(a.event, a.rule) for a in actions]


# --- An oracle for L2/L10, written from SPEC.md without the code under test ---------


def wall_instant(day: date, at: time, zone: ZoneInfo = ZONE) -> datetime:
    """The first instant at which the property's clocks read ``day`` ``at`` or later.

    That is the SPEC's "at that local time": a wall time that happens twice (fall
    back) is its first occurrence; one that never happens (spring forward) is the
    end of the gap. Found from the zone's two candidate offsets, then by bisection
    over whole minutes between them, so it shares no code with the planner.
    """
    naive = datetime.combine(day, at)
    offsets = {naive.replace(tzinfo=zone, fold=f).utcoffset() for f in (0, 1)}
    candidates = sorted(
        (naive - offset).replace(tzinfo=UTC) for offset in offsets if offset is not None
    )
    existing = [c for c in candidates if _reads(c, zone) == naive]
    if existing:
        return existing[0]
    low, high = candidates[0], candidates[-1]
    while high - low > timedelta(minutes=1):
        middle = low + (high - low) / 2
        middle = middle.replace(second=0, microsecond=0)
        if _reads(middle, zone) >= naive:
            high = middle
        else:
            low = middle
    return high


def _reads(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def occupies(
    membership: Membership, now: datetime, settings: PropertySettings = SETTINGS
) -> bool:
    """SPEC L2 + L10 read literally: is this membership a current occupancy now?"""
    moved_in = (OccupancyStatus.CURRENT, OccupancyStatus.PAST)
    if membership.role is Role.GUARANTOR or membership.status not in moved_in:
        return False
    if membership.move_in is not None:
        starts = wall_instant(membership.move_in, time(0, 0), settings.zone)
        if now < starts - timedelta(hours=settings.early_access_hours):
            return False
    if membership.move_out is not None:
        return now < wall_instant(
            membership.move_out, settings.move_out_time, settings.zone
        )
    return membership.status is OccupancyStatus.CURRENT
